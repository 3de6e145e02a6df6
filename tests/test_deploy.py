"""The production layout's files: the example configuration lists every setting, the
systemd units pass `systemd-analyze verify`, gunicorn accepts its configuration, and the
release is reported where the CHANGELOG says."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

import mailpass
from tests.processes import PRODUCTION_ENV, run_configured

ROOT = Path(settings.BASE_DIR)
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
# Read by libraries or processes around MailPass rather than its settings, and documented.
OTHERS = {"MAILPASS_ENV_FILE", "PROMETHEUS_MULTIPROC_DIR"}


def variables_read() -> set[str]:
    """Every environment variable the settings and the code read."""
    names = set()
    for path in [ROOT / "manage.py", *ROOT.glob("*/*.py"), *ROOT.glob("*/*/*.py")]:
        if ".venv" in path.parts or "tests" in path.parts or "bench" in path.parts:
            continue
        text = path.read_text()
        names |= set(re.findall(r'env_[a-z_]+\(\s*"([A-Z][A-Z0-9_]+)"', text))
        names |= set(re.findall(r'os\.environ(?:\.get\(|\[)"([A-Z][A-Z0-9_]+)"', text))
    return names - {"DJANGO_SETTINGS_MODULE", "DEMO_PASSWORD"}


def test_the_example_configuration_lists_every_variable_mailpass_reads():
    example = (ROOT / "deploy" / "mailpass.env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))
    listed |= {name for name in OTHERS if name in example}
    missing = variables_read() - listed
    assert not missing, f"add these to deploy/mailpass.env.example: {sorted(missing)}"
    assert {"MAILPASS_CACHE_URL", "MAILPASS_RETENTION_DAYS", "MAILPASS_LOG_FORMAT"} <= listed


def test_the_example_configuration_is_a_valid_env_file_with_the_blanks_filled():
    lines = (ROOT / "deploy" / "mailpass.env.example").read_text().splitlines()
    keys = ("SECRET_KEY", "MAILPASS_ENCRYPTION_KEYS", "MAILPASS_API_KEY_HMAC_KEY")
    filled = {f"{name}=": f"{name}={PRODUCTION_ENV[name]}" for name in keys}
    text = "\n".join(filled.get(line, line) for line in lines)
    env_file = ROOT / "var" / "test-example.env"
    env_file.parent.mkdir(exist_ok=True)
    env_file.write_text(text)
    try:
        script = "from django.conf import settings as s; print(s.CACHES['default']['BACKEND'])"
        configured = {"MAILPASS_ENV_FILE": str(env_file)}
        done = run_configured(configured, "manage.py", "shell", "--no-imports", "-c", script)
    finally:
        env_file.unlink()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "mailpass.cache.FailOpenRedisCache"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    assert {unit.name for unit in UNITS} == {
        "mailpass-web.service",
        "mailpass-worker.service",
        "mailpass-webhooks.service",
    }
    venv = Path(sys.executable).parent
    for unit in UNITS:
        # The units name /srv/mailpass, the documented checkout; verify checks that the
        # programs exist, so they are pointed at this checkout's.
        text = unit.read_text().replace("/srv/mailpass/.venv/bin", str(venv))
        (tmp_path / unit.name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_would_catch_a_broken_unit(tmp_path):
    (tmp_path / "broken.service").write_text("[Service]\nExecStart=relative/path\n")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "broken.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0


def _seconds(unit: Path, name: str) -> int:
    return int(re.search(rf"^{name}=(\d+)$", unit.read_text(), re.MULTILINE).group(1))


def test_the_stop_timeouts_cover_what_sigterm_waits_for():
    worker = ROOT / "deploy" / "systemd" / "mailpass-worker.service"
    web = ROOT / "deploy" / "systemd" / "mailpass-web.service"
    # A worker finishes its messages in flight, each within the request timeout, and one
    # fallback after a refusal within another: 42.7 s was measured; a chain of three, 75 s.
    assert _seconds(worker, "TimeoutStopSec") >= 3 * settings.MAILPASS_REQUEST_TIMEOUT_SECONDS + 30
    gunicorn = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    graceful = int(re.search(r'"GUNICORN_GRACEFUL_TIMEOUT", "(\d+)"', gunicorn).group(1))
    assert _seconds(web, "TimeoutStopSec") > graceful


def test_gunicorn_accepts_its_configuration():
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    done = run_configured(
        PRODUCTION_ENV,
        "-m",
        "gunicorn",
        "--check-config",
        "-c",
        "deploy/gunicorn.conf.py",
        "mailpass.wsgi",
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert Path(gunicorn).exists()


def test_the_release_is_reported_by_manage_py_and_matches_the_changelog():
    done = run_configured({}, "manage.py", "--version")
    assert done.stdout.startswith(f"MailPass {mailpass.__version__} (Django 5.2.")
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(r"^## (\S+)", changelog, re.MULTILINE).group(1) == mailpass.__version__


@pytest.mark.django_db
def test_the_dashboard_footer_shows_the_release_to_signed_in_users(client, owner_client):
    assert f"MailPass {mailpass.__version__}</footer>" in owner_client.get("/").content.decode()
    assert "</footer>" not in client.get("/accounts/login/").content.decode()
