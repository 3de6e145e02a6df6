"""Provider webhooks: ESP events, authenticated with each provider's own secret and the
ESP's real signature scheme, become MessageEvents, statuses and suppressions. Forged,
replayed and malformed posts, for every kind, are tests/security/test_webhook_forgery.py's."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client

from api import webhooks
from api.models import Message, MessageEvent, Suppression
from providers.models import Provider
from tests import factories

pytestmark = pytest.mark.django_db

SIGNING_KEY = "key-mailgun-signing-0123456789"


def esp_provider(account, kind: str, *, default: bool = False, **credentials: str) -> Provider:
    return factories.make_esp_provider(
        account, kind, name=f"{kind} account", credentials=credentials, is_default=default
    )


def sent_message(account, provider: Provider, esp_id: str, to: str = "user@example.com"):
    return factories.make_message(
        account,
        provider=provider,
        to_email=to,
        status=Message.Status.SENT,
        provider_message_id=esp_id,
    )


def path_of(provider: Provider) -> str:
    return f"/webhooks/{webhooks.webhook_token(provider)}"


def mailgun_event(event: str, message_id: str, *, key: str = SIGNING_KEY, **data) -> dict:
    timestamp, token = str(int(time.time())), uuid.uuid4().hex
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature.hexdigest()},
        "event-data": {
            "event": event,
            "timestamp": time.time(),
            "id": uuid.uuid4().hex,
            "recipient": "user@example.com",
            "message": {"headers": {"message-id": message_id}},
            **data,
        },
    }


def post_json(provider: Provider, payload: dict, **headers):
    return Client().post(
        path_of(provider), json.dumps(payload), content_type="application/json", **headers
    )


@pytest.fixture
def mailgun(account):
    return esp_provider(
        account, "mailgun", default=True, api_key="key-x", webhook_signing_key=SIGNING_KEY
    )


def test_a_mailgun_hard_bounce_signed_with_the_providers_key_suppresses_the_address(
    api, account, mailgun
):
    message = sent_message(account, mailgun, "<20261121.1@mg.example.com>")
    bounce = mailgun_event(
        "failed",
        "20261121.1@mg.example.com",
        severity="permanent",
        **{"delivery-status": {"description": "No such mailbox", "message": "550 5.1.1"}},
    )

    response = post_json(mailgun, bounce)

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.BOUNCED
    entry = Suppression.objects.get(account=account)
    assert (entry.email, entry.reason, entry.message_id) == (
        "user@example.com",
        "bounced",
        message.pk,
    )
    events = api.get(f"/api/v1/mail/status/{message.message_id}").json()["data"]["events"]
    assert [(e["event_type"], e["description"]) for e in events] == [("bounced", "No such mailbox")]
    # The next message to that address never reaches a provider.
    resend = api.post(
        "/api/v1/mail/send",
        {"to": "user@example.com", "subject": "Hi", "text": "x", "from_email": "a@example.com"},
        format="json",
    )
    assert resend.json()["error"]["code"] == "RECIPIENT_SUPPRESSED"


def test_a_resent_webhook_is_recorded_once(account, mailgun):
    message = sent_message(account, mailgun, "<20261121.2@mg.example.com>")
    delivered = mailgun_event("delivered", "20261121.2@mg.example.com")

    first = post_json(mailgun, delivered)
    again = post_json(mailgun, delivered)

    assert first.status_code == again.status_code == 200
    assert MessageEvent.objects.filter(message=message).count() == 1
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_events_for_another_accounts_message_are_ignored(account, outsider_account, mailgun):
    theirs = esp_provider(
        outsider_account, "mailgun", api_key="key-y", webhook_signing_key="their-key"
    )
    message = sent_message(account, mailgun, "<20261121.4@mg.example.com>")
    event = mailgun_event(
        "failed", "20261121.4@mg.example.com", key="their-key", severity="permanent"
    )

    response = post_json(theirs, event)  # their URL, their valid signature, our message

    assert response.status_code == 200
    assert not MessageEvent.objects.exists()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert not Suppression.objects.exists()


def test_a_token_that_was_not_signed_for_a_provider_is_a_404(account, mailgun):
    token = webhooks.webhook_token(mailgun)
    other = f"{int(token.split('.')[0], 36) + 1:x}.{token.split('.')[1]}"

    assert (
        Client().post(f"/webhooks/{other}", "{}", content_type="application/json").status_code
        == 404
    )
    assert (
        Client().post("/webhooks/nonsense", "{}", content_type="application/json").status_code
        == 404
    )


def test_a_provider_without_any_webhook_secret_accepts_nothing(account):
    open_provider = esp_provider(account, "postmark", server_token="t")

    response = post_json(open_provider, {"RecordType": "Delivery"})

    assert response.status_code == 404


def test_a_postmark_complaint_with_the_providers_basic_auth_suppresses_the_address(
    account,
):
    postmark = esp_provider(account, "postmark", server_token="t", webhook_secret="hook:s3cret")
    esp_id = str(uuid.uuid4())
    message = sent_message(account, postmark, esp_id, to="angry@example.com")
    complaint = {
        "RecordType": "SpamComplaint",
        "ID": 42,
        "Type": "SpamComplaint",
        "MessageID": esp_id,
        "Email": "angry@example.com",
        "BouncedAt": "2026-11-21T12:00:00Z",
        "Description": "The subscriber explicitly marked this message as spam.",
    }
    good = "Basic " + base64.b64encode(b"hook:s3cret").decode()
    bad = "Basic " + base64.b64encode(b"hook:guess").decode()

    refused = post_json(postmark, complaint, HTTP_AUTHORIZATION=bad)
    accepted = post_json(postmark, complaint, HTTP_AUTHORIZATION=good)

    assert (refused.status_code, accepted.status_code) == (400, 200)
    message.refresh_from_db()
    assert message.status == Message.Status.COMPLAINED
    assert Suppression.objects.get().reason == "complained"


def test_a_sendgrid_event_with_a_valid_twilio_signature_is_recorded(account):
    private_key = ec.generate_private_key(ec.SECP256R1())
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sendgrid = esp_provider(
        account,
        "sendgrid",
        api_key="SG.x",
        webhook_verification_key=base64.b64encode(public_der).decode(),
    )
    message = sent_message(account, sendgrid, "sg-message-1")
    body = json.dumps(
        [
            {
                "event": "click",
                "email": "user@example.com",
                "timestamp": int(time.time()),
                "sg_event_id": "evt-1",
                "anymail_id": "sg-message-1",  # anymail's id for the message, a custom arg
                "sg_message_id": "sg-message-1.filter0001",
                "url": "https://example.com/pricing",
                "useragent": "Mozilla/5.0",
            }
        ]
    )
    timestamp = str(int(time.time()))

    def signed(payload: str) -> str:
        signature = private_key.sign((timestamp + payload).encode(), ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode()

    headers = {
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": timestamp,
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": signed(body),
    }
    tampered = body.replace("pricing", "elsewhere")

    refused = Client().post(path_of(sendgrid), tampered, content_type="application/json", **headers)
    accepted = Client().post(path_of(sendgrid), body, content_type="application/json", **headers)

    assert (refused.status_code, accepted.status_code) == (400, 200)
    click = MessageEvent.objects.get(message=message)
    assert (click.event_type, click.url, click.user_agent) == (
        "click",
        "https://example.com/pricing",
        "Mozilla/5.0",
    )


def test_the_webhook_url_is_per_provider_and_none_for_smtp(settings, account, mailgun, sink):
    settings.MAILPASS_PUBLIC_URL = "https://mail.example.com"
    smtp = factories.make_provider(account, port=sink.port, is_default=False)

    assert webhooks.webhook_url(mailgun) == f"https://mail.example.com{path_of(mailgun)}"
    assert webhooks.webhook_url(smtp) is None


def test_a_resend_bounce_with_a_valid_svix_signature_suppresses_the_address(account):
    secret_bytes = b"resend-signing-secret-0123456789"
    resend = esp_provider(
        account,
        "resend",
        api_key="re_x",
        webhook_signing_secret="whsec_" + base64.b64encode(secret_bytes).decode(),
    )
    message = sent_message(account, resend, "4ef9a417-02e9-4d39-ad75-9611e0fcc33c")
    body = json.dumps(
        {
            "type": "email.bounced",
            "created_at": "2026-11-21T12:00:00.000Z",
            "data": {
                "email_id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c",
                "to": ["user@example.com"],
                "bounce": {"message": "The recipient's email provider sent a hard bounce message."},
            },
        }
    )
    msg_id, timestamp = "msg_" + uuid.uuid4().hex, str(int(time.time()))

    def headers(payload: str) -> dict[str, str]:
        mac = hmac.new(secret_bytes, f"{msg_id}.{timestamp}.{payload}".encode(), hashlib.sha256)
        return {
            "HTTP_SVIX_ID": msg_id,
            "HTTP_SVIX_TIMESTAMP": timestamp,
            "HTTP_SVIX_SIGNATURE": "v1," + base64.b64encode(mac.digest()).decode(),
        }

    forged = headers(body.replace("hard bounce", "soft bounce"))
    refused = Client().post(path_of(resend), body, content_type="application/json", **forged)
    accepted = Client().post(
        path_of(resend), body, content_type="application/json", **headers(body)
    )

    assert (refused.status_code, accepted.status_code) == (400, 200)
    message.refresh_from_db()
    assert message.status == Message.Status.BOUNCED
    assert Suppression.objects.get().email == "user@example.com"


BASIC = "Basic " + base64.b64encode(b"hook:s3cret").decode()


def test_an_amazon_ses_bounce_through_sns_with_basic_auth_is_recorded(account):
    ses = esp_provider(
        account,
        "amazon_ses",
        access_key_id="AK",
        secret_access_key="s",
        webhook_secret="hook:s3cret",
    )
    message = sent_message(account, ses, "0100018c-ses-id")
    notification = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:mailpass",
        "Timestamp": "2026-11-21T12:00:00.000Z",
        "Message": json.dumps(
            {
                "eventType": "Bounce",
                "mail": {"messageId": "0100018c-ses-id", "timestamp": "2026-11-21T11:59:00.000Z"},
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": "General",
                    "bouncedRecipients": [
                        {"emailAddress": "user@example.com", "diagnosticCode": "550 5.1.1"}
                    ],
                    "timestamp": "2026-11-21T12:00:00.000Z",
                },
            }
        ),
    }

    response = post_json(
        ses,
        notification,
        HTTP_AUTHORIZATION=BASIC,
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID=notification["MessageId"],
    )

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.BOUNCED
    assert Suppression.objects.get().email == "user@example.com"


def test_a_brevo_delivery_with_basic_auth_moves_the_message_to_delivered(account):
    brevo = esp_provider(account, "brevo", api_key="xkeysib", webhook_secret="hook:s3cret")
    message = sent_message(account, brevo, "<202611211200.1@smtp-relay.mailin.fr>")
    event = {
        "event": "delivered",
        "email": "user@example.com",
        "id": 1234,
        "message-id": "<202611211200.1@smtp-relay.mailin.fr>",
        "ts_event": int(time.time()),
    }

    assert post_json(brevo, event).status_code == 400  # no credentials
    assert post_json(brevo, event, HTTP_AUTHORIZATION=BASIC).status_code == 200

    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
