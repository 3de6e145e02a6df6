"""The mailpass kind: the instance's own relay, configured by the operator in settings."""

import pytest
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives

from providers.backends import SMTPBackend
from providers.connections import open_for
from providers.delivery import Outcome
from providers.models import Provider
from providers.services import provider_create
from tests.sending import deliver_via

pytestmark = pytest.mark.django_db


def make_relay_provider(account) -> Provider:
    return provider_create(account=account, name="MailPass", kind=Provider.Kind.MAILPASS)


def make_email() -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject="Relayed",
        body="Plain body",
        from_email="Sender <sender@example.com>",
        to=["rcpt@example.com"],
        headers={"Message-ID": "<relay.1700000000@mailpass.test>"},
    )
    email.attach_alternative("<p>HTML body</p>", "text/html")
    return email


def test_a_mailpass_provider_delivers_through_the_configured_relay(relay_settings, sink, account):
    [result] = deliver_via(make_relay_provider(account), [make_email()])

    assert result.outcome is Outcome.SENT
    assert result.provider_message_id == ""  # an SMTP relay: our Message-ID is the id
    [received] = sink.received
    assert received.rcpt_tos == ["rcpt@example.com"]
    assert received.message["Subject"] == "Relayed"


def test_a_mailpass_connection_is_built_from_the_email_settings(relay_settings, account):
    relay_settings.EMAIL_HOST_USER = "relay-user"
    relay_settings.EMAIL_HOST_PASSWORD = "relay-password"
    relay_settings.EMAIL_TIMEOUT = 17

    backend = open_for(make_relay_provider(account))

    assert isinstance(backend, SMTPBackend)
    assert (backend.host, backend.port) == ("127.0.0.1", relay_settings.EMAIL_PORT)
    assert (backend.username, backend.password) == ("relay-user", "relay-password")
    assert (backend.use_tls, backend.use_ssl, backend.timeout) == (False, False, 17)


def test_the_operators_relay_may_be_on_a_private_address(relay_settings, sink, account):
    provider = make_relay_provider(account)
    relay_settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    [result] = deliver_via(provider, [make_email()])

    assert result.outcome is Outcome.SENT
    assert len(sink.received) == 1


def test_an_smtp_provider_on_the_same_private_address_is_still_refused(
    relay_settings, sink, account
):
    smtp = provider_create(
        account=account, name="Own relay", host="127.0.0.1", port=sink.port, security="none"
    )
    relay_settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    [result] = deliver_via(smtp, [make_email()])

    assert result.outcome is Outcome.FAILED
    assert "private or reserved address" in result.error_text
    assert sink.received == []


def test_a_mailpass_provider_ignores_any_host_and_password_of_its_own(relay_settings, account):
    provider = provider_create(
        account=account,
        name="MailPass",
        kind=Provider.Kind.MAILPASS,
        host="evil.example.com",
        credentials={"password": "not-used"},
    )

    backend = open_for(provider)

    assert backend.host == "127.0.0.1"
    assert backend.password == ""


def test_a_mailpass_provider_cannot_be_added_when_the_instance_has_no_relay(settings, account):
    settings.EMAIL_HOST = ""

    with pytest.raises(ValidationError) as excinfo:
        make_relay_provider(account)

    assert "EMAIL_HOST is unset" in excinfo.value.message_dict["kind"][0]


def test_a_mailpass_provider_fails_as_misconfigured_once_the_relay_is_removed(
    relay_settings, account
):
    provider = make_relay_provider(account)
    relay_settings.EMAIL_HOST = ""

    [result] = deliver_via(provider, [make_email()])

    assert result.outcome is Outcome.FAILED
    assert result.error_text.startswith("provider misconfigured: ")
