"""ESP provider kinds over real HTTP: what each ESP receives, and what its answers become."""

import base64
import json
import warnings

import pytest
from anymail.exceptions import (
    AnymailInvalidAddress,
    AnymailNotSupportedWarning,
    AnymailRecipientsRefused,
    AnymailUnsupportedFeature,
)
from django.core.mail import EmailMultiAlternatives

from providers.connections import api_url_for, open_for
from providers.delivery import DeliveryResult, Outcome, classify_error
from providers.models import Provider
from providers.services import provider_create
from tests.factories import make_esp_provider
from tests.providers.esp_servers import AUTH_ERROR_MESSAGES, ESP_KINDS, ESPS, Answer
from tests.sending import deliver_via
from tests.smtp_sink import closed_port

pytestmark = pytest.mark.django_db

MESSAGE_ID = "<3f2a9c.1700000000@mailpass.test>"


def make_email(tags: list[str] | None = None) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject="Your receipt",
        body="Plain body",
        from_email="Shop Team <shop@example.com>",
        to=["Rita Rcpt <rcpt@example.com>"],
        cc=["cc@example.com"],
        bcc=["bcc@example.com"],
        reply_to=["help@example.com"],
        headers={"Message-ID": MESSAGE_ID},
    )
    email.attach_alternative("<p>HTML body</p>", "text/html")
    email.tags = tags if tags is not None else ["receipt"]
    email.metadata = {"order": "1234"}
    return email


def send(provider: Provider, email: EmailMultiAlternatives | None = None) -> DeliveryResult:
    [result] = deliver_via(provider, [email or make_email()])
    return result


# --- what each ESP receives ------------------------------------------------------------------


def test_sendgrid_receives_every_field_in_its_v3_mail_send_shape(account, esp_server):
    server = esp_server("sendgrid")

    result = send(make_esp_provider(account, "sendgrid"))

    [request] = server.requests
    body = request.body
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["authorization"] == "Bearer key-one"
    assert body["from"] == {"email": "shop@example.com", "name": "Shop Team"}
    [personalization] = body["personalizations"]
    assert personalization["to"] == [{"email": "rcpt@example.com", "name": "Rita Rcpt"}]
    assert personalization["cc"] == [{"email": "cc@example.com"}]
    assert personalization["bcc"] == [{"email": "bcc@example.com"}]
    assert body["reply_to_list"] == [{"email": "help@example.com"}]
    assert body["subject"] == "Your receipt"
    assert body["content"] == [
        {"type": "text/plain", "value": "Plain body"},
        {"type": "text/html", "value": "<p>HTML body</p>"},
    ]
    assert body["categories"] == ["receipt"]
    assert body["custom_args"] == {"order": "1234"}
    assert body["headers"] == {"Message-ID": MESSAGE_ID}
    # SendGrid answers 202 with no id: anymail's own id travels in custom_args.
    assert result == DeliveryResult(
        Outcome.SENT, provider_message_id=personalization["custom_args"]["anymail_id"]
    )


def test_mailgun_receives_every_field_as_form_data_for_its_domain(account, esp_server):
    server = esp_server("mailgun")

    result = send(make_esp_provider(account, "mailgun"))

    [request] = server.requests
    form = request.body
    assert (request.method, request.path) == ("POST", "/v3/mg.example.com/messages")
    assert request.headers["authorization"] == "Basic " + _b64("api:key-one")
    assert form["from"] == ["Shop Team <shop@example.com>"]
    assert form["to"] == ["Rita Rcpt <rcpt@example.com>"]
    assert form["cc"] == ["cc@example.com"]
    assert form["bcc"] == ["bcc@example.com"]
    assert form["h:Reply-To"] == ["help@example.com"]
    assert form["subject"] == ["Your receipt"]
    assert form["text"] == ["Plain body"]
    assert form["html"] == ["<p>HTML body</p>"]
    assert form["o:tag"] == ["receipt"]
    assert form["v:order"] == ["1234"]
    assert form["h:Message-Id"] == [MESSAGE_ID]
    assert result == DeliveryResult(Outcome.SENT, server.answers[0].body["id"])


def test_postmark_receives_every_field_in_its_email_shape(account, esp_server):
    server = esp_server("postmark")

    result = send(make_esp_provider(account, "postmark"))

    [request] = server.requests
    body = request.body
    assert (request.method, request.path) == ("POST", "/email")
    assert request.headers["x-postmark-server-token"] == "key-one"
    assert body["From"] == "Shop Team <shop@example.com>"
    assert body["To"] == "Rita Rcpt <rcpt@example.com>"
    assert body["Cc"] == "cc@example.com"
    assert body["Bcc"] == "bcc@example.com"
    assert body["ReplyTo"] == "help@example.com"
    assert body["Subject"] == "Your receipt"
    assert body["TextBody"] == "Plain body"
    assert body["HtmlBody"] == "<p>HTML body</p>"
    assert body["Tag"] == "receipt"
    assert body["Metadata"] == {"order": "1234"}
    assert body["Headers"] == [{"Name": "Message-ID", "Value": MESSAGE_ID}]
    assert result == DeliveryResult(Outcome.SENT, server.answers[0].body["MessageID"])


def test_resend_receives_every_field_in_its_emails_shape(account, esp_server):
    server = esp_server("resend")

    result = send(make_esp_provider(account, "resend"))

    [request] = server.requests
    body = request.body
    assert (request.method, request.path) == ("POST", "/emails")
    assert request.headers["authorization"] == "Bearer key-one"
    assert body["from"] == "Shop Team <shop@example.com>"
    assert body["to"] == ["Rita Rcpt <rcpt@example.com>"]
    assert body["cc"] == ["cc@example.com"]
    assert body["bcc"] == ["bcc@example.com"]
    assert body["reply_to"] == ["help@example.com"]
    assert body["subject"] == "Your receipt"
    assert body["text"] == "Plain body"
    assert body["html"] == "<p>HTML body</p>"
    assert body["headers"]["Message-ID"] == MESSAGE_ID
    assert json.loads(body["headers"]["X-Tags"]) == ["receipt"]
    assert json.loads(body["headers"]["X-Metadata"]) == {"order": "1234"}
    assert result == DeliveryResult(Outcome.SENT, server.answers[0].body["id"])


def test_brevo_receives_every_field_in_its_smtp_email_shape(account, esp_server):
    server = esp_server("brevo")

    result = send(make_esp_provider(account, "brevo"))

    [request] = server.requests
    body = request.body
    assert (request.method, request.path) == ("POST", "/v3/smtp/email")
    assert request.headers["api-key"] == "key-one"
    assert body["sender"] == {"email": "shop@example.com", "name": "Shop Team"}
    assert body["to"] == [{"email": "rcpt@example.com", "name": "Rita Rcpt"}]
    assert body["cc"] == [{"email": "cc@example.com"}]
    assert body["bcc"] == [{"email": "bcc@example.com"}]
    assert body["replyTo"] == {"email": "help@example.com"}
    assert body["subject"] == "Your receipt"
    assert body["textContent"] == "Plain body"
    assert body["htmlContent"] == "<p>HTML body</p>"
    assert body["tags"] == ["receipt"]
    assert body["headers"]["Message-ID"] == MESSAGE_ID
    assert json.loads(body["headers"]["X-Mailin-custom"]) == {"order": "1234"}
    assert result == DeliveryResult(Outcome.SENT, server.answers[0].body["messageId"])


def test_amazon_ses_receives_a_v2_send_email_with_the_raw_message(account, esp_server):
    server = esp_server("amazon_ses")

    result = send(make_esp_provider(account, "amazon_ses"))

    [request] = server.requests
    body = request.body
    assert (request.method, request.path) == ("POST", "/v2/email/outbound-emails")
    assert "Credential=key-one/" in request.headers["authorization"]
    assert "/eu-west-1/ses/aws4_request" in request.headers["authorization"]
    assert body["ConfigurationSetName"] == "transactional"
    assert body["Destination"] == {
        "ToAddresses": ["rcpt@example.com"],
        "CcAddresses": ["cc@example.com"],
        "BccAddresses": ["bcc@example.com"],
    }
    mime = request.mime()
    assert mime["From"] == "Shop Team <shop@example.com>"
    assert mime["To"] == "Rita Rcpt <rcpt@example.com>"
    assert mime["Cc"] == "cc@example.com"
    assert mime["Bcc"] is None
    assert mime["Reply-To"] == "help@example.com"
    assert mime["Subject"] == "Your receipt"
    assert mime["Message-ID"] == MESSAGE_ID
    assert mime.get_all("X-Tag") == ["receipt"]
    assert json.loads(mime["X-Metadata"]) == {"order": "1234"}
    assert mime.get_body(("plain",)).get_content().strip() == "Plain body"
    assert mime.get_body(("html",)).get_content().strip() == "<p>HTML body</p>"
    assert result == DeliveryResult(Outcome.SENT, server.answers[0].body["MessageId"])


# --- every ESP kind alike --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ESP_KINDS)
def test_each_provider_sends_with_its_own_credential(account, esp_server, kind):
    server = esp_server(kind)
    first = make_esp_provider(account, kind, key="key-of-first", name="First")
    second = make_esp_provider(account, kind, key="key-of-second", name="Second")

    assert send(first).outcome is Outcome.SENT
    assert send(second).outcome is Outcome.SENT

    credential = server.esp.credential
    assert [credential(r.headers) for r in server.requests] == ["key-of-first", "key-of-second"]


@pytest.mark.parametrize("kind", ESP_KINDS)
def test_an_esp_4xx_fails_with_the_esps_own_words(account, esp_server, kind):
    server = esp_server(kind)
    # Postmark reports request errors as 422 with an ErrorCode.
    server.fail_next(422 if kind == "postmark" else 400, "The from address is not verified")

    result = send(make_esp_provider(account, kind))

    assert result.outcome is Outcome.FAILED
    assert "The from address is not verified" in result.error_text
    assert result.provider_message_id == ""


@pytest.mark.parametrize("kind", ESP_KINDS)
def test_bad_credentials_fail_with_the_esps_own_words(account, esp_server, kind):
    esp_server(kind)

    result = send(make_esp_provider(account, kind, key="rejected-key"))

    assert result.outcome is Outcome.FAILED
    status = ESPS[kind].auth_error.status
    esp = {"amazon_ses": "Amazon SES", "sendgrid": "SendGrid"}.get(kind, kind.capitalize())
    assert result.error_text == f"{esp} {status}: {AUTH_ERROR_MESSAGES[kind]}"


@pytest.mark.parametrize("status", [429, 500, 503])
@pytest.mark.parametrize("kind", ESP_KINDS)
def test_an_esp_429_or_5xx_is_retried(account, esp_server, kind, status):
    server = esp_server(kind)
    server.fail_next(status, "Slow down, please")

    result = send(make_esp_provider(account, kind))

    assert result.outcome is Outcome.RETRY
    assert "Slow down, please" in result.error_text
    assert len(server.requests) == 1  # no hidden retries inside the backend


@pytest.mark.parametrize("kind", ESP_KINDS)
def test_an_unreachable_esp_is_retried(settings, account, kind):
    settings.MAILPASS_ESP_API_URLS = {kind: f"http://127.0.0.1:{closed_port()}/"}

    result = send(make_esp_provider(account, kind))

    assert result.outcome is Outcome.RETRY
    assert result.error_text.startswith("cannot reach ")


@pytest.mark.parametrize("kind", ESP_KINDS)
def test_one_connection_sends_several_messages_and_reports_each_id(account, esp_server, kind):
    server = esp_server(kind)

    results = list(deliver_via(make_esp_provider(account, kind), [make_email(), make_email()]))

    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    assert len(server.requests) == 2
    assert results[0].provider_message_id != results[1].provider_message_id


def test_postmark_refuses_more_than_one_tag_as_a_permanent_failure(account, esp_server):
    server = esp_server("postmark")

    result = send(make_esp_provider(account, "postmark"), make_email(tags=["a", "b"]))

    assert result.outcome is Outcome.FAILED
    assert "multiple tags" in result.error_text
    assert server.requests == []


def test_an_esp_that_refuses_every_recipient_fails_the_message(account, esp_server):
    server = esp_server("postmark")
    refusal = {"ErrorCode": 300, "Message": "Invalid 'To' address: 'rcpt@example.com'."}
    server.failures.append(Answer(422, refusal))
    email = make_email()
    email.cc, email.bcc = [], []

    result = send(make_esp_provider(account, "postmark"), email)

    assert result.outcome is Outcome.FAILED
    assert "Invalid 'To' address" in result.error_text


# --- how a provider becomes a backend --------------------------------------------------------


def test_without_an_override_each_esp_uses_its_public_api(settings, account):
    settings.MAILPASS_ESP_API_URLS = {}
    urls = {kind: api_url_for(make_esp_provider(account, kind, name=kind)) for kind in ESP_KINDS}

    assert urls == {
        "sendgrid": "https://api.sendgrid.com/v3/",
        "mailgun": "https://api.mailgun.net/v3/",
        "postmark": "https://api.postmarkapp.com/",
        "resend": "https://api.resend.com/",
        "brevo": "https://api.brevo.com/v3/",
        "amazon_ses": None,  # boto3's endpoint for the provider's region
    }


def test_a_mailgun_provider_in_the_eu_region_uses_the_eu_api(settings, account):
    settings.MAILPASS_ESP_API_URLS = {}
    provider = provider_create(
        account=account,
        name="EU",
        kind="mailgun",
        credentials={"api_key": "k"},
        options={"domain": "mg.example.eu", "region": "eu"},
    )

    assert api_url_for(provider) == "https://api.eu.mailgun.net/v3/"


def test_the_api_url_override_wins_over_the_mailgun_region(settings, account):
    settings.MAILPASS_ESP_API_URLS = {"mailgun": "http://127.0.0.1:9/v3"}
    provider = provider_create(
        account=account,
        name="EU",
        kind="mailgun",
        credentials={"api_key": "k"},
        options={"domain": "mg.example.eu", "region": "eu"},
    )

    assert api_url_for(provider) == "http://127.0.0.1:9/v3/"


def test_esp_backends_never_fall_back_to_global_anymail_settings(settings, account):
    settings.ANYMAIL = {"SENDGRID_API_KEY": "global-key", "POSTMARK_SERVER_TOKEN": "global"}
    provider = provider_create(
        account=account, name="No key", kind="sendgrid", credentials={"api_key": "own"}
    )

    assert open_for(provider).api_key == "own"


def test_sendgrid_backends_do_not_warn_about_anymails_dropped_support(account, esp_server):
    esp_server("sendgrid")
    provider = make_esp_provider(account, "sendgrid")

    # A fresh filter list, as a test runner's catch_warnings() leaves it.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert send(provider).outcome is Outcome.SENT

    assert [str(w.message) for w in caught if "SendGrid" in str(w.message)] == []


def test_other_anymail_warnings_are_not_silenced(account):
    open_for(make_esp_provider(account, "sendgrid"))

    with pytest.warns(AnymailNotSupportedWarning, match="something else"):
        warnings.warn("something else", AnymailNotSupportedWarning, stacklevel=1)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- classify_error for anymail's own exceptions ---------------------------------------------


@pytest.mark.parametrize(
    ("exc", "outcome", "text"),
    [
        pytest.param(
            AnymailInvalidAddress("Invalid email address 'not an address'"),
            Outcome.FAILED,
            "ESP: Invalid email address 'not an address'",
            id="invalid-address",
        ),
        pytest.param(
            AnymailRecipientsRefused(esp_name="Resend"),
            Outcome.FAILED,
            "Resend: All message recipients were rejected or invalid",
            id="recipients-refused",
        ),
        pytest.param(
            AnymailUnsupportedFeature(
                "Postmark does not support multiple tags", esp_name="Postmark"
            ),
            Outcome.FAILED,
            "Postmark: Postmark does not support multiple tags",
            id="unsupported-feature",
        ),
    ],
)
def test_classify_error_fails_anymails_permanent_errors_at_once(exc, outcome, text):
    # Raised before any request went out, so certainly not taken.
    assert classify_error(exc) == DeliveryResult(outcome, error_text=text, not_accepted=True)
