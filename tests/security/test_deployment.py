"""Suite 11, safe by default: a deployment that is wrong refuses to start or says so
(issue 11, findings 5, 9, 11, 13 and the low ones).

- With DEBUG off and no DATABASE_URL, MailPass refused nothing and used var/db.sqlite3;
- SECRET_KEY was the root of every secret, any key would do, and rotating it broke every
  tracking link, webhook URL, API key and stored provider secret;
- behind a proxy, a header naming the client was believed from anyone;
- provider timeouts could outlast the web server's, and Message-IDs named a domain the
  operator does not own.
"""

import ipaddress
import secrets

import pytest
from django.test import Client, RequestFactory

from api import tracking, webhooks
from api.emails import new_message_id
from api.keys import key_digest
from api.models import ApiKey
from api.selectors import api_key_get_active
from providers.models import Provider
from tests import factories
from tests.processes import PRODUCTION_ENV, run_configured
from tests.security import figures

SUITE = "11 safe defaults: deployment"
STRONG = secrets.token_urlsafe(48)
SHOW = ("-c", "import django; django.setup(); from django.conf import settings as s; print(s.{})")


def without(name: str) -> dict[str, str]:
    return {k: v for k, v in PRODUCTION_ENV.items() if k != name}


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        pytest.param(without("DATABASE_URL"), "DATABASE_URL is required", id="no-database"),
        pytest.param(
            {**PRODUCTION_ENV, "SECRET_KEY": "short-but-varied-key-1234"},
            "SECRET_KEY is too weak",
            id="short-secret-key",
        ),
        pytest.param(
            {**PRODUCTION_ENV, "SECRET_KEY": "ab" * 40},
            "SECRET_KEY is too weak",
            id="repetitive-key",
        ),
        pytest.param(
            {**PRODUCTION_ENV, "SECRET_KEY": "django-insecure-" + STRONG},
            "SECRET_KEY is too weak",
            id="djangos-placeholder",
        ),
        pytest.param(
            {**PRODUCTION_ENV, "SECRET_KEY_FALLBACKS": "old"},
            "SECRET_KEY_FALLBACKS is too weak",
            id="weak-fallback",
        ),
        pytest.param(
            {**PRODUCTION_ENV, "MAILPASS_API_KEY_HMAC_KEY": "hmac"},
            "MAILPASS_API_KEY_HMAC_KEY is too weak",
            id="weak-hmac-key",
        ),
        pytest.param(
            {**PRODUCTION_ENV, "MAILPASS_ENCRYPTION_KEYS": "not-a-fernet-key"},
            "MAILPASS_ENCRYPTION_KEYS must be Fernet keys",
            id="not-a-fernet-key",
        ),
    ],
)
def test_a_production_configuration_that_is_wrong_refuses_to_start(env, refusal):
    result = run_configured(env, *SHOW[0:1], SHOW[1].format("DEBUG"))

    figures.record(SUITE, cases=1, failures=int(result.returncode == 0))
    assert result.returncode != 0
    assert refusal in result.stderr


def test_sqlite_in_production_only_when_asked_for_by_name(tmp_path):
    asked = run_configured(
        {**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"},
        *SHOW[0:1],
        SHOW[1].format("DATABASES['default']['ENGINE']"),
    )

    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.strip() == "django.db.backends.sqlite3"


def test_a_kept_database_connection_is_checked_before_it_is_reused():
    result = run_configured(
        PRODUCTION_ENV, *SHOW[0:1], SHOW[1].format("DATABASES['default']['CONN_HEALTH_CHECKS']")
    )

    assert result.stdout.strip() == "True", result.stderr


@pytest.mark.parametrize(
    ("missing", "check"),
    [("MAILPASS_ENCRYPTION_KEYS", "mailpass.E001"), ("MAILPASS_API_KEY_HMAC_KEY", "mailpass.E002")],
)
def test_check_deploy_asks_for_keys_of_their_own(missing, check):
    result = run_configured(without(missing), "manage.py", "check", "--deploy")

    figures.record(SUITE, cases=1, failures=int(result.returncode == 0))
    assert result.returncode != 0
    assert check in result.stderr


@pytest.mark.parametrize(
    ("env", "check"),
    [
        ({"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, "mailpass.W003"),
        ({"MAILPASS_TRUSTED_PROXY_HEADER": "X-Forwarded-For"}, "mailpass.W004"),
    ],
    ids=["proxy-without-client-header", "client-header-without-proxies"],
)
def test_check_deploy_warns_about_a_proxy_it_cannot_see_through(env, check):
    result = run_configured(
        {**PRODUCTION_ENV, **env}, "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )

    figures.record(SUITE, cases=1, failures=int(check not in result.stderr))
    assert check in result.stderr


def test_the_message_id_domain_defaults_to_the_public_urls_host():
    result = run_configured(
        PRODUCTION_ENV, *SHOW[0:1], SHOW[1].format("MAILPASS_MESSAGE_ID_DOMAIN")
    )

    assert result.stdout.strip() == "mail.example.com", result.stderr


# --- rotating SECRET_KEY ---------------------------------------------------------------------


@pytest.mark.django_db
def test_rotating_secret_key_keeps_links_webhooks_keys_and_secrets_working(settings, account):
    old = settings.SECRET_KEY
    settings.MAILPASS_API_KEY_HMAC_KEY = ""  # digests keyed with SECRET_KEY, as in development
    settings.MAILPASS_ENCRYPTION_KEYS = []  # secrets encrypted with a key from SECRET_KEY
    provider = factories.make_provider(
        account, port=2525, name="Hook", kind=Provider.Kind.POSTMARK,
        credentials={"server_token": "pm-token", "webhook_secret": "u:p"},
    )  # fmt: skip
    api_key, secret = factories.make_api_key(account)
    open_token = tracking.open_token(4242)
    hook_token = webhooks.webhook_token(provider)

    settings.SECRET_KEY = secrets.token_urlsafe(48)
    settings.SECRET_KEY_FALLBACKS = [old]
    failures = []
    if tracking.read_open_token(open_token) != 4242:
        failures.append("a tracking link from before the rotation")
    if webhooks.provider_for_token(hook_token) != provider:
        failures.append("a webhook URL from before the rotation")
    if Provider.objects.get(pk=provider.pk).credentials.get("server_token") != "pm-token":
        failures.append("a provider secret from before the rotation")
    if api_key_get_active(key=secret) != api_key:
        failures.append("an API key from before the rotation")
    settings.SECRET_KEY_FALLBACKS = []
    if tracking.read_open_token(open_token) is not None:
        failures.append("the old key still signs once it is dropped")

    figures.check(SUITE, cases=5, failures=failures)


@pytest.mark.django_db
def test_a_key_digest_made_with_the_old_hmac_key_is_renewed_on_first_use(settings, account):
    old = settings.MAILPASS_API_KEY_HMAC_KEY
    api_key, secret = factories.make_api_key(account)
    settings.MAILPASS_API_KEY_HMAC_KEY = secrets.token_urlsafe(40)
    settings.MAILPASS_API_KEY_HMAC_KEY_FALLBACKS = [old]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    first = client.get("/api/v1/suppressions")
    settings.MAILPASS_API_KEY_HMAC_KEY_FALLBACKS = []
    after = client.get("/api/v1/suppressions")

    assert (first.status_code, after.status_code) == (200, 200)
    assert ApiKey.objects.get(pk=api_key.pk).digest == key_digest(secret)


# --- proxies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "forwarded", "client"),
    [
        ("10.0.0.2", "198.51.100.4", "198.51.100.4"),  # through our proxy
        ("203.0.113.9", "198.51.100.4", "203.0.113.9"),  # straight in, claiming an address
        ("10.0.0.2", "1.2.3.4, 198.51.100.4", "198.51.100.4"),  # the client's claim is skipped
        ("10.0.0.2", "198.51.100.4, 10.0.0.3", "198.51.100.4"),  # two proxies of ours
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
    ],
)
def test_the_client_header_is_believed_only_from_the_trusted_proxies(
    settings, remote, forwarded, client
):
    settings.MAILPASS_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.MAILPASS_TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/24")]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    seen = tracking.client_ip(request.META)

    figures.record(SUITE, cases=1, failures=int(seen != client))
    assert seen == client


# --- timeouts ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_provider_timeout_outlasts_a_web_request(settings, account):
    from django.core.exceptions import ValidationError

    settings.MAILPASS_REQUEST_TIMEOUT_SECONDS = 25
    with pytest.raises(ValidationError) as refused:
        factories.make_provider(account, port=2525, timeout=300)

    figures.record(SUITE, cases=1, failures=0)
    assert "At most 25 seconds" in str(refused.value)


def test_new_message_ids_name_the_configured_domain(settings):
    settings.MAILPASS_MESSAGE_ID_DOMAIN = "mail.example.com"

    assert new_message_id().endswith("@mail.example.com>")
