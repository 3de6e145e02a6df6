"""Configuration comes from the environment, with production-safe defaults."""

import os
import subprocess
import sys

from django.conf import settings

# What production asks of a configuration at the least (tests/security/test_deployment.py
# shows what happens without each).
KEY = "a-strong-enough-secret-key-for-the-settings-tests-0123456789"
DATABASE = "postgres://mailpass@127.0.0.1:5432/mailpass"


def settings_in_subprocess(env: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}
    }
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "mailpass.settings", **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=60,
    )


def test_secret_key_is_required_when_debug_is_off():
    result = settings_in_subprocess({}, "settings.DEBUG")

    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_debug_is_off_unless_asked():
    result = settings_in_subprocess(
        {"SECRET_KEY": KEY, "DATABASE_URL": DATABASE}, "settings.DEBUG, settings.ALLOWED_HOSTS"
    )

    assert result.stdout.strip() == "False []"


def test_database_url_selects_postgresql():
    result = settings_in_subprocess(
        {"SECRET_KEY": KEY, "DATABASE_URL": "postgres://u:p@127.0.0.1:5433/mp"},
        "settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['PORT']",
    )

    assert result.stdout.strip() == "django.db.backends.postgresql 5433"


def test_a_bad_boolean_fails_loudly():
    result = settings_in_subprocess({"SECRET_KEY": KEY, "DEBUG": "maybe"}, "settings.DEBUG")

    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_message_id_domain_and_public_url_come_from_the_environment():
    result = settings_in_subprocess(
        {
            "SECRET_KEY": KEY,
            "DATABASE_URL": DATABASE,
            "MAILPASS_MESSAGE_ID_DOMAIN": "mail.example.org",
            "MAILPASS_PUBLIC_URL": "https://mp.example.org/",
        },
        "settings.MAILPASS_MESSAGE_ID_DOMAIN, settings.MAILPASS_PUBLIC_URL",
    )

    assert result.stdout.strip() == "mail.example.org https://mp.example.org"
