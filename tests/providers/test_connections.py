"""providers.connections.open_for: a Provider row becomes a configured, unopened backend."""

import pytest
from django.core.mail.backends.smtp import EmailBackend

from providers.connections import open_for
from providers.crypto import CredentialsUnreadableError
from providers.hosts import HostNotAllowedError
from providers.models import Provider
from providers.services import provider_create

pytestmark = pytest.mark.django_db


def make_relay(account, **fields) -> Provider:
    values = {
        "name": "Relay",
        "host": "127.0.0.1",
        "port": 2525,
        "security": Provider.Security.NONE,
        "timeout": 7,
    }
    values.update(fields)
    return provider_create(account=account, **values)


@pytest.mark.parametrize(
    ("security", "use_tls", "use_ssl"),
    [
        (Provider.Security.NONE, False, False),
        (Provider.Security.STARTTLS, True, False),
        (Provider.Security.SSL, False, True),
    ],
)
def test_open_for_maps_security_to_use_tls_and_use_ssl(account, security, use_tls, use_ssl):
    backend = open_for(make_relay(account, security=security))

    assert isinstance(backend, EmailBackend)
    assert backend.use_tls is use_tls
    assert backend.use_ssl is use_ssl


def test_open_for_passes_host_port_login_decrypted_password_and_timeout(account):
    provider = make_relay(
        account,
        port=2526,
        username="relay-user",
        timeout=12,
        credentials={"password": "s3cret-relay-pw"},
    )

    backend = open_for(Provider.objects.get(pk=provider.pk))

    assert backend.host == "127.0.0.1"
    assert backend.port == 2526
    assert backend.username == "relay-user"
    assert backend.password == "s3cret-relay-pw"
    assert backend.timeout == 12
    assert backend.fail_silently is False


def test_open_for_does_not_connect(account):
    backend = open_for(make_relay(account))

    assert backend.connection is None


def test_open_for_never_falls_back_to_global_email_settings(settings, account):
    settings.EMAIL_HOST = "global.example.com"
    settings.EMAIL_PORT = 2500
    settings.EMAIL_HOST_USER = "global-user"
    settings.EMAIL_HOST_PASSWORD = "global-password"
    settings.EMAIL_USE_TLS = True
    settings.EMAIL_TIMEOUT = 99

    backend = open_for(make_relay(account))

    assert backend.host == "127.0.0.1"
    assert backend.port == 2525
    assert backend.username == ""
    assert backend.password == ""
    assert backend.use_tls is False
    assert backend.timeout == 7


def test_open_for_rechecks_the_host_at_connect_time(settings, account):
    provider = make_relay(account)
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    with pytest.raises(HostNotAllowedError, match=r"127\.0\.0\.1"):
        open_for(provider)


def test_open_for_raises_credentials_unreadable_for_undecryptable_secrets(account):
    provider = Provider.objects.create(
        account=account,
        name="Broken",
        host="127.0.0.1",
        port=2525,
        credentials_encrypted="not-a-fernet-token",
    )

    with pytest.raises(CredentialsUnreadableError):
        open_for(provider)
