"""providers.services.provider_test_connection: one cheap authenticated call, never a raise."""

import dataclasses

import pytest

from providers.services import provider_create, provider_test_connection
from tests import factories
from tests.factories import make_esp_provider
from tests.providers.esp_servers import (
    AUTH_ERROR_MESSAGES,
    ESP_KINDS,
    REJECTED_KEY,
    Answer,
)
from tests.smtp_sink import closed_port

pytestmark = pytest.mark.django_db

CHECK_PATHS = {
    "sendgrid": ("GET", "/v3/scopes"),
    "mailgun": ("GET", "/v3/domains/mg.example.com"),
    "postmark": ("GET", "/server"),
    "resend": ("GET", "/domains"),
    "brevo": ("GET", "/v3/account"),
    "amazon_ses": ("GET", "/v2/email/account"),
}


@pytest.mark.parametrize("kind", ESP_KINDS)
def test_a_good_esp_key_passes_with_one_authenticated_read(account, esp_server, kind):
    server = esp_server(kind)

    ok, message = provider_test_connection(make_esp_provider(account, kind))

    assert ok is True, message
    assert "accepted" in message
    [request] = server.requests
    assert (request.method, request.path.split("?")[0]) == CHECK_PATHS[kind]
    assert server.esp.credential(request.headers) == "key-one"


@pytest.mark.parametrize("kind", ESP_KINDS)
def test_a_rejected_esp_key_fails_with_the_esps_words(account, esp_server, kind):
    esp_server(kind)

    ok, message = provider_test_connection(make_esp_provider(account, kind, key=REJECTED_KEY))

    assert ok is False
    assert AUTH_ERROR_MESSAGES[kind] in message


@pytest.mark.parametrize("kind", ESP_KINDS)
def test_an_unreachable_esp_fails_without_raising(settings, account, kind):
    settings.MAILPASS_ESP_API_URLS = {kind: f"http://127.0.0.1:{closed_port()}/"}

    ok, message = provider_test_connection(make_esp_provider(account, kind))

    assert ok is False
    assert message


def test_an_esp_server_error_fails_with_its_words(account, esp_server):
    server = esp_server("postmark")
    server.fail_next(500, "Postmark is having a moment")

    ok, message = provider_test_connection(make_esp_provider(account, "postmark"))

    assert (ok, message) == (False, "Postmark 500: Postmark is having a moment")


def test_a_sendgrid_key_without_mail_send_scope_fails(account, esp_server):
    server = esp_server("sendgrid")
    server.esp = dataclasses.replace(
        server.esp, success=lambda request: Answer(200, {"scopes": ["user.profile.read"]})
    )

    ok, message = provider_test_connection(make_esp_provider(account, "sendgrid"))

    assert ok is False
    assert "mail.send" in message


def test_a_send_only_resend_key_passes(account, esp_server):
    server = esp_server("resend")
    server.failures.append(
        Answer(
            401,
            {
                "statusCode": 401,
                "name": "restricted_api_key",
                "message": "This API key is restricted to only send emails",
            },
        )
    )

    ok, message = provider_test_connection(make_esp_provider(account, "resend"))

    assert (ok, message) == (True, "Resend accepted the API key.")


def test_an_smtp_provider_passes_against_a_listening_server(account, sink):
    provider = factories.make_provider(account, port=sink.port)

    ok, message = provider_test_connection(provider)

    assert (ok, message) == (True, f"Connected to 127.0.0.1:{sink.port}.")
    assert sink.received == []


def test_an_smtp_provider_fails_when_nothing_listens(account):
    provider = factories.make_provider(account, port=closed_port())

    ok, message = provider_test_connection(provider)

    assert (ok, message) == (False, "Could not connect to the server.")


def test_an_smtp_provider_whose_login_fails_reports_it(account, sink):
    # The sink offers no AUTH: a provider with a login cannot log in there.
    provider = factories.make_provider(
        account, port=sink.port, username="someone", credentials={"password": "pw"}
    )

    ok, message = provider_test_connection(provider)

    assert (ok, message) == (False, "The server offers no login method MailPass can use.")


def test_an_smtp_provider_on_a_private_host_is_refused_without_connecting(settings, account, sink):
    provider = factories.make_provider(account, port=sink.port)
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    ok, message = provider_test_connection(provider)

    assert ok is False
    assert "private or reserved address" in message


def test_the_mailpass_relay_passes_against_the_configured_server(relay_settings, sink, account):
    provider = provider_create(account=account, name="MailPass", kind="mailpass")

    ok, message = provider_test_connection(provider)

    # The relay is the operator's: its host, port and login are nobody else's business.
    assert (ok, message) == (True, "Connected to the MailPass relay.")


def test_the_mailpass_relay_fails_when_the_relay_is_down(relay_settings, account):
    provider = provider_create(account=account, name="MailPass", kind="mailpass")
    relay_settings.EMAIL_PORT = closed_port()

    ok, message = provider_test_connection(provider)

    assert (ok, message) == (
        False,
        "The MailPass relay could not be reached. Tell the operator of this instance.",
    )
