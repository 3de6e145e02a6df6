"""POST /api/v1/mail/send: delivered through a real SMTP sink, answered in the seed's shape."""

import re

import pytest

from api.models import Message
from providers.models import ProviderUsage

pytestmark = pytest.mark.django_db

SEED_REQUEST = {
    "to": "user@example.com",
    "subject": "Order Confirmation",
    "html": "<h1>Your order has been confirmed</h1>",
    "text": "Your order has been confirmed",
    "from_email": "support@yourdomain.com",
    "from_name": "Your App",
    "reply_to": "reply@yourdomain.com",
    "cc": ["cc@example.com"],
    "bcc": ["bcc@example.com"],
    "tags": ["order", "confirmation"],
    "metadata": {"order_id": "12345"},
}
MESSAGE_ID = re.compile(r"^<[0-9a-f]{32}\.\d{10}@mailpass\.test>$")


def send(api, payload):
    return api.post("/api/v1/mail/send", payload, format="json")


def test_send_answers_the_seed_envelope_and_delivers_every_part(api, provider, sink):
    response = send(api, SEED_REQUEST)

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "success": True,
        "data": {
            "message_id": body["data"]["message_id"],
            "status": "sent",
            "to": "user@example.com",
            "from": "support@yourdomain.com",
        },
    }
    assert MESSAGE_ID.match(body["data"]["message_id"])

    [received] = sink.received
    mail = received.message
    assert received.mail_from == "support@yourdomain.com"
    assert sorted(received.rcpt_tos) == ["bcc@example.com", "cc@example.com", "user@example.com"]
    assert mail["Message-ID"] == body["data"]["message_id"]
    assert mail["Subject"] == "Order Confirmation"
    assert mail["From"] == "Your App <support@yourdomain.com>"
    assert mail["To"] == "user@example.com"
    assert mail["Cc"] == "cc@example.com"
    assert mail["Reply-To"] == "reply@yourdomain.com"
    assert mail["Bcc"] is None
    assert b"bcc@example.com" not in received.data
    assert mail.get_body(("plain",)).get_content().strip() == "Your order has been confirmed"
    assert "<h1>Your order has been confirmed</h1>" in mail.get_body(("html",)).get_content()


def test_send_records_the_message_as_sent(api, provider, sink, account):
    body = send(api, SEED_REQUEST).json()

    message = Message.objects.get(message_id=body["data"]["message_id"])
    assert message.account == account
    assert message.provider == provider
    assert message.status == Message.Status.SENT
    assert message.sent_at is not None
    assert message.claim_token is None
    assert message.attempts == 1
    assert message.tags == ["order", "confirmation"]
    assert message.metadata == {"order_id": "12345"}
    assert message.provider_message_id == ""  # SMTP: our Message-ID is the only id


def test_send_with_only_html_sends_a_single_html_part(api, provider, sink):
    send(api, {"to": "user@example.com", "subject": "Hello", "html": "<p>Hello World</p>"})

    mail = sink.received[0].message
    assert mail.get_content_type() == "text/html"
    assert "<p>Hello World</p>" in mail.get_content()


def test_send_with_only_text_sends_plain_text(api, provider, sink):
    send(api, {"to": "user@example.com", "subject": "Hello", "text": "Hello World"})

    mail = sink.received[0].message
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().strip() == "Hello World"


def test_send_falls_back_to_the_providers_sender(api, provider, sink):
    response = send(api, {"to": "user@example.com", "subject": "Hello", "text": "x"})

    assert response.json()["data"]["from"] == "sender@example.com"
    assert sink.received[0].message["From"] == "Sender <sender@example.com>"


def test_send_encodes_a_non_ascii_sender_name_and_subject(api, provider, sink):
    send(
        api,
        {"to": "user@example.com", "subject": "Grüße, 世界", "text": "x", "from_name": "Zoë, Inc."},
    )

    mail = sink.received[0].message
    assert mail["Subject"] == "Grüße, 世界"
    assert str(mail["From"]) == '"Zoë, Inc." <sender@example.com>'


def test_send_without_any_sender_is_a_validation_error(api, provider, sink):
    provider.from_email = ""
    provider.save()

    response = send(api, {"to": "user@example.com", "subject": "Hello", "text": "x"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "from_email" in response.json()["error"]["details"]
    assert sink.received == []


def test_send_accepts_null_for_optional_fields(api, provider, sink):
    response = send(
        api,
        {
            "to": "user@example.com",
            "subject": "Hi",
            "text": "x",
            "html": None,
            "cc": None,
            "reply_to": None,
            "metadata": None,
        },
    )

    assert response.status_code == 200


def test_send_counts_usage_against_the_provider(api, provider, sink):
    send(api, {"to": "user@example.com", "subject": "Hi", "text": "x"})
    send(api, {"to": "user@example.com", "subject": "Hi", "text": "x"})

    assert sum(ProviderUsage.objects.filter(provider=provider).values_list("count", flat=True)) == 2


def test_a_teammate_key_sends_from_the_same_account(
    teammate_api, teammate, provider, sink, account
):
    response = send(teammate_api, {"to": "user@example.com", "subject": "Hi", "text": "x"})

    assert response.status_code == 200
    message = Message.objects.get(message_id=response.json()["data"]["message_id"])
    assert (message.account, message.provider) == (account, provider)
    assert message.api_key.created_by == teammate
    assert len(sink.received) == 1  # through the account's default provider
