"""GET /api/v1/mail/status/{message_id}: the message and its events, for its account only."""

from urllib.parse import quote

import pytest

from api.models import MessageEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(api, provider, sink):
    response = api.post(
        "/api/v1/mail/send",
        {
            "to": "user@example.com",
            "subject": "Order Confirmation",
            "html": "<p>x</p>",
            "from_email": "support@yourdomain.com",
        },
        format="json",
    )
    return response.json()["data"]["message_id"]


def test_status_answers_the_seed_shape(api, sent):
    response = api.get(f"/api/v1/mail/status/{sent}")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    message = body["data"]["message"]
    assert message == {
        "message_id": sent,
        "from_email": "support@yourdomain.com",
        "to_email": "user@example.com",
        "subject": "Order Confirmation",
        "status": "sent",
        "error_message": None,
        "failure_reason": None,
        "sent_at": message["sent_at"],
        "created_at": message["created_at"],
        "scheduled_at": None,  # ours, beyond the seed: scheduled sending and templates
        "template": None,
        "attachments": [],  # ours, beyond the seed: by name, type and size
        "test": False,  # ours: sent with a test key (test mode)
    }
    assert message["sent_at"].endswith("Z") and "T" in message["sent_at"]
    assert body["data"]["events"] == []


@pytest.mark.parametrize(
    "form",
    [
        lambda mid: mid,
        lambda mid: mid.strip("<>"),
        lambda mid: quote(mid, safe=""),
        lambda mid: quote(mid.strip("<>"), safe=""),
        lambda mid: quote(quote(mid, safe=""), safe=""),
    ],
    ids=["brackets", "bare", "encoded", "encoded-bare", "double-encoded"],
)
def test_status_accepts_the_id_in_every_form(api, sent, form):
    response = api.get(f"/api/v1/mail/status/{form(sent)}")

    assert response.status_code == 200
    assert response.json()["data"]["message"]["message_id"] == sent


def test_status_lists_events_oldest_first_in_the_seed_shape(api, sent, account):
    from api.models import Message

    message = Message.objects.get(message_id=sent)
    for event_type, ip in [("open", "192.168.1.1"), ("click", "10.0.0.2")]:
        MessageEvent.objects.create(
            account=account,
            message=message,
            event_type=event_type,
            ip_address=ip,
            user_agent="Mozilla/5.0...",
        )

    events = api.get(f"/api/v1/mail/status/{sent}").json()["data"]["events"]

    assert [e["event_type"] for e in events] == ["open", "click"]
    # Exactly the seed's keys; a click adds the url it followed.
    assert events[0] == {
        "event_type": "open",
        "ip_address": "192.168.1.1",
        "user_agent": "Mozilla/5.0...",
        "created_at": events[0]["created_at"],
    }
    assert set(events[1]) == {"event_type", "ip_address", "user_agent", "url", "created_at"}


def test_another_accounts_message_is_a_404_identical_to_a_missing_one(outsider_api, sent):
    theirs = outsider_api.get(f"/api/v1/mail/status/{sent}")
    missing = outsider_api.get("/api/v1/mail/status/<nothing.1@mailpass.test>")

    assert theirs.status_code == missing.status_code == 404
    assert theirs.content == missing.content


def test_a_teammate_sees_the_accounts_messages(api, teammate_api, sent):
    """`sent` went out with the account's `api` key, not with one the teammate made."""
    response = teammate_api.get(f"/api/v1/mail/status/{sent}")

    assert response.status_code == 200
    assert response.json()["data"]["message"]["message_id"] == sent
    assert response.json() == api.get(f"/api/v1/mail/status/{sent}").json()


def test_a_failed_message_shows_the_providers_error(api, provider, sink):
    sink.fail_rcpt("user@example.com", "550 5.1.1 Unknown user")
    failed = api.post(
        "/api/v1/mail/send", {"to": "user@example.com", "subject": "x", "text": "x"}, format="json"
    ).json()["error"]["details"]["message_id"]

    message = api.get(f"/api/v1/mail/status/{failed}").json()["data"]["message"]

    assert message["status"] == "failed"
    assert message["failure_reason"] == "rejected"
    assert "550 5.1.1 Unknown user" in message["error_message"]
    assert message["sent_at"] is None
