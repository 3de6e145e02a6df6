"""The suppression list: /api/v1/suppressions, and mail to a listed address never leaving."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api import drain, queue, services
from api.models import Message, Suppression
from tests import factories

pytestmark = pytest.mark.django_db


def suppress(account, email: str, reason=Suppression.Reason.BOUNCED) -> Suppression:
    entry, _ = services.suppression_add(account=account, email=email, reason=reason)
    return entry


def listed(api, **params) -> dict:
    response = api.get("/api/v1/suppressions", params)
    assert response.status_code == 200, response.content
    return response.json()["data"]


# --- the API ----------------------------------------------------------------------------


def test_adding_an_address_answers_201_and_lists_it_lower_cased(api, account):
    response = api.post(
        "/api/v1/suppressions",
        {"email": "Someone@Example.com", "description": "asked us by phone"},
        format="json",
    )

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["created"] is True
    assert data["suppression"] == {
        "email": "someone@example.com",
        "reason": "manual",
        "description": "asked us by phone",
        "message_id": None,
        "created_at": data["suppression"]["created_at"],
    }
    assert listed(api)["suppressions"] == [data["suppression"]]


def test_adding_a_listed_address_again_is_a_200_that_keeps_the_first_entry(api, account):
    suppress(account, "bounced@example.com")

    response = api.post("/api/v1/suppressions", {"email": "BOUNCED@example.com"}, format="json")

    assert response.status_code == 200
    assert response.json()["data"]["created"] is False
    assert response.json()["data"]["suppression"]["reason"] == "bounced"
    assert Suppression.objects.count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"email": "not-an-address"},
        {"email": "a@example.com", "reason": "bounced"},  # only providers report bounces
        {"email": "a@example.com", "description": "line\r\nBcc: x@example.com"},
    ],
)
def test_a_bad_suppression_is_a_validation_error(api, account, payload):
    response = api.post("/api/v1/suppressions", payload, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert Suppression.objects.count() == 0


def test_the_list_is_newest_first_can_be_filtered_and_shows_only_this_account(
    api, account, outsider_account
):
    suppress(account, "old@example.com")
    suppress(account, "new@example.com", Suppression.Reason.COMPLAINED)
    suppress(outsider_account, "theirs@example.com")

    data = listed(api)
    assert [s["email"] for s in data["suppressions"]] == ["new@example.com", "old@example.com"]
    assert (data["total"], data["page"], data["pages"]) == (2, 1, 1)
    assert [s["email"] for s in listed(api, email="OLD@example.com")["suppressions"]] == [
        "old@example.com"
    ]
    assert listed(api, email="theirs@example.com")["suppressions"] == []


def test_a_page_beyond_the_last_is_a_validation_error(api, account):
    response = api.get("/api/v1/suppressions", {"page": "2"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_removing_an_address_takes_it_off_and_a_second_removal_is_a_404(api, account):
    suppress(account, "gone@example.com")

    first = api.delete("/api/v1/suppressions/Gone@example.com")
    second = api.delete("/api/v1/suppressions/gone@example.com")

    assert first.status_code == 200
    assert first.json()["data"] == {"email": "gone@example.com"}
    assert second.status_code == 404
    assert second.json()["error"]["code"] == "NOT_FOUND"
    assert Suppression.objects.count() == 0


def test_another_accounts_entry_cannot_be_removed(outsider_api, account):
    suppress(account, "mine@example.com")

    response = outsider_api.delete("/api/v1/suppressions/mine@example.com")

    assert response.status_code == 404
    assert Suppression.objects.filter(email="mine@example.com").exists()


def test_the_suppression_api_needs_a_key(account):
    client = APIClient()

    assert client.get("/api/v1/suppressions").status_code == 401
    assert client.post("/api/v1/suppressions", {"email": "a@example.com"}).status_code == 401
    assert client.delete("/api/v1/suppressions/a@example.com").status_code == 401


# --- sending to a suppressed address ----------------------------------------------------


@pytest.mark.parametrize("field", ["to", "cc", "bcc"])
def test_send_to_a_suppressed_recipient_is_a_422_recorded_as_suppressed_and_never_sent(
    api, account, provider, sink, field
):
    suppress(account, "bounced@example.com")
    payload = {"to": "ok@example.com", "subject": "Hi", "text": "Hello"}
    if field == "to":
        payload["to"] = "Bounced@Example.com"
    else:
        payload[field] = ["bounced@example.com"]

    response = api.post("/api/v1/mail/send", payload, format="json")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "RECIPIENT_SUPPRESSED"
    assert error["details"]["suppressed"] == ["bounced@example.com"]
    assert sink.received == []
    message = Message.objects.get()
    assert message.message_id == error["details"]["message_id"]
    assert message.status == Message.Status.SUPPRESSED
    assert "bounced@example.com (bounced)" in message.error_message

    status = api.get(f"/api/v1/mail/status/{message.message_id}").json()["data"]["message"]
    assert status["status"] == "suppressed"
    assert status["error_message"] == message.error_message


def test_a_repeated_send_to_a_suppressed_address_with_its_key_records_one_message(
    api, account, provider, sink
):
    suppress(account, "bounced@example.com")
    payload = {"to": "bounced@example.com", "subject": "Hi", "text": "Hello"}

    first = api.post("/api/v1/mail/send", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/v1/mail/send", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1


def test_a_batch_item_to_a_suppressed_address_fails_and_the_rest_are_queued_and_sent(
    api, account, provider, sink
):
    suppress(account, "bounced@example.com")
    payload = {
        "messages": [
            {"to": "a@example.com", "subject": "A", "text": "a"},
            {"to": "bounced@example.com", "subject": "B", "text": "b"},
        ]
    }

    data = api.post("/api/v1/mail/send-batch", payload, format="json").json()["data"]

    assert (data["total"], data["queued"], data["failed"]) == (2, 1, 1)
    queued, held_back = data["messages"]
    assert queued["status"] == "queued"
    assert held_back["status"] == "failed"
    assert held_back["error"]["code"] == "RECIPIENT_SUPPRESSED"
    assert held_back["error"]["details"]["suppressed"] == ["bounced@example.com"]
    message = Message.objects.get(pk=held_back["queue_id"])
    assert (message.message_id, message.status) == (held_back["message_id"], "suppressed")

    assert drain.deliver_claimed(queue.claim_due(batch_size=10)).sent == 1
    assert [r.rcpt_tos for r in sink.received] == [["a@example.com"]]


@pytest.mark.django_db(transaction=True)
def test_a_queued_message_whose_recipient_bounced_meanwhile_is_not_sent(account, provider, sink):
    message = factories.make_message(
        account, to_email="later@example.com", next_attempt_at=timezone.now()
    )
    suppress(account, "later@example.com")

    stats = drain.process_due()

    assert (stats.claimed, stats.sent, stats.failed) == (1, 0, 1)
    assert sink.received == []
    message.refresh_from_db()
    assert message.status == Message.Status.SUPPRESSED
    assert (message.attempts, message.claim_token) == (0, None)


def test_another_accounts_suppression_does_not_hold_mail_back(
    api, outsider_account, provider, sink
):
    suppress(outsider_account, "someone@example.com")

    response = api.post(
        "/api/v1/mail/send",
        {"to": "someone@example.com", "subject": "Hi", "text": "Hello"},
        format="json",
    )

    assert response.status_code == 200
    assert len(sink.received) == 1
