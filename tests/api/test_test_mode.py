"""Test mode: mp_test_ keys record mail exactly like live ones and never send it; the
test.mailpass.invalid addresses play out every outcome with its events and webhooks; live
and test data never mix."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from api import webhook_sender
from api.drain import process_due
from api.models import Message, Permission, Suppression, WebhookDelivery
from api.services import suppression_add, webhook_create
from tests import factories
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

DOMAIN = "test.mailpass.invalid"
SEND = {
    "from_email": "shop@example.com",
    "subject": "Your order",
    "html": '<p>See <a href="https://shop.example.com/orders/1">your order</a></p>',
    "tags": ["order"],
}


def client(secret):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


@pytest.fixture
def test_key(account):
    return factories.make_api_key(account, permissions=["mail", "webhooks"], test=True)


@pytest.fixture
def test_api(test_key):
    return client(test_key[1])


@pytest.fixture
def receiver(account):
    with WebhookReceiver() as running:
        webhook_create(account=account, url=running.url)
        yield running


def send(api, to, **fields):
    return api.post("/api/v1/mail/send", {**SEND, "to": to, **fields}, format="json")


def status_of(api, message_id):
    return api.get(f"/api/v1/mail/status/{message_id}")


def test_a_test_key_looks_like_a_live_one_but_says_test(test_key):
    api_key, secret = test_key

    assert secret.startswith("mp_test_") and len(secret) == len("mp_live_") + 43
    assert api_key.test and api_key.prefix.startswith("mp_test_")


def test_no_provider_is_needed_and_none_is_contacted(test_api, account, sink):
    sent = send(test_api, "someone@example.com")

    assert sent.status_code == 200, sent.json()
    data = sent.json()["data"]
    assert data["status"] == "sent" and data["to"] == "someone@example.com"
    assert sink.received == []
    message = Message.objects.get()
    assert message.test and message.provider is None and message.status == "sent"


def test_a_batch_with_a_test_key_needs_no_provider_either(test_api, sink):
    batch = {"messages": [{**SEND, "to": f"delivered+{i}@{DOMAIN}"} for i in range(3)]}

    queued = test_api.post("/api/v1/mail/send-batch", batch, format="json")
    stats = process_due()

    assert queued.status_code == 200 and queued.json()["data"]["queued"] == 3
    assert stats.sent == 3 and sink.received == []
    assert set(Message.objects.values_list("status", flat=True)) == {"delivered"}


def test_without_a_provider_the_sender_is_required(test_api):
    response = test_api.post(
        "/api/v1/mail/send", {"to": "a@example.com", "subject": "Hi", "text": "x"}, format="json"
    )

    assert response.status_code == 400
    assert "from_email" in response.json()["error"]["details"]


def test_validation_errors_are_the_live_ones(test_api, api, provider):
    for client_ in (test_api, api):
        response = send(client_, "not-an-address")
        assert response.status_code == 400
        assert response.json()["error"]["details"]["to"]


def test_a_test_key_still_counts_against_the_daily_quota(test_api, account):
    account.daily_recipient_limit = 1
    account.save(update_fields=["daily_recipient_limit"])

    assert send(test_api, f"delivered@{DOMAIN}").status_code == 200
    refused = send(test_api, f"delivered@{DOMAIN}")

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "SEND_LIMIT_EXCEEDED"


# --- The magic addresses --------------------------------------------------------------------

OUTCOMES = [
    ("delivered", "delivered", ["delivered"], ["sent", "delivered"]),
    ("bounced", "bounced", ["bounced"], ["sent", "bounced"]),
    ("complained", "complained", ["delivered", "complained"], ["sent", "delivered", "complained"]),
    ("deferred", "delivered", ["deferred", "delivered"], ["sent", "delivered"]),
    ("opened", "delivered", ["delivered", "open"], ["sent", "delivered", "opened"]),
    (
        "clicked",
        "delivered",
        ["delivered", "open", "click"],
        ["sent", "delivered", "opened", "clicked"],
    ),
    ("anyone", "sent", [], ["sent"]),
]


@pytest.mark.parametrize(("name", "status", "events", "webhooks"), OUTCOMES)
def test_each_address_plays_out_its_outcome_with_events_and_webhooks(
    test_api, receiver, name, status, events, webhooks
):
    sent = send(test_api, f"{name}@{DOMAIN}").json()["data"]

    assert sent["status"] == "sent"  # what /send answers, as a provider that took it
    answer = status_of(test_api, sent["message_id"]).json()["data"]
    assert answer["message"]["status"] == status and answer["message"]["test"] is True
    assert [event["event_type"] for event in answer["events"]] == events
    webhook_sender.process_due(threads=1)
    posted = [request.event for request in receiver.requests]
    assert sorted(event["type"] for event in posted) == sorted(f"email.{w}" for w in webhooks)
    assert all(event["test"] is True for event in posted)
    assert {event["data"]["message_id"] for event in posted} == {sent["message_id"]}


def test_a_click_is_on_the_first_link_of_the_html(test_api, receiver):
    send(test_api, f"clicked@{DOMAIN}")
    webhook_sender.process_due(threads=1)

    [clicked] = [r.event for r in receiver.requests if r.event["type"] == "email.clicked"]
    assert clicked["data"]["details"]["url"] == "https://shop.example.com/orders/1"


def test_a_label_after_plus_keeps_the_outcome(test_api):
    sent = send(test_api, f"Bounced+signup-42@{DOMAIN.upper()}").json()["data"]

    assert status_of(test_api, sent["message_id"]).json()["data"]["message"]["status"] == "bounced"


def test_a_bounce_suppresses_the_address_in_test_data_only(test_api, api, account, provider, sink):
    send(test_api, f"bounced@{DOMAIN}")

    [entry] = Suppression.objects.all()
    assert entry.test and entry.email == f"bounced@{DOMAIN}" and entry.reason == "bounced"
    # The next test message to it is held back, as a live one would be...
    again = send(test_api, f"bounced@{DOMAIN}")
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "RECIPIENT_SUPPRESSED"
    # ...but the test list is not the live one.
    listed = test_api.get("/api/v1/suppressions").json()["data"]
    assert [s["email"] for s in listed["suppressions"]] == [f"bounced@{DOMAIN}"]
    assert api.get("/api/v1/suppressions").json()["data"]["total"] == 0
    # A live message to that address is not held back by it.
    live = send(api, f"bounced@{DOMAIN}")
    assert live.status_code == 200 and live.json()["data"]["status"] == "sent"


def test_a_live_suppression_does_not_hold_back_test_mail(test_api, account):
    suppression_add(account=account, email="blocked@example.com")

    assert send(test_api, "blocked@example.com").json()["data"]["status"] == "sent"


def test_deferred_through_the_queue_is_retried_then_delivered(test_api, settings):
    batch = {"messages": [{**SEND, "to": f"deferred@{DOMAIN}"}]}
    test_api.post("/api/v1/mail/send-batch", batch, format="json")

    with time_machine.travel(timezone.now(), tick=False) as clock:
        first = process_due()
        message = Message.objects.get()
        assert first.retried == 1 and message.status == "queued" and message.attempts == 1
        clock.shift(dt.timedelta(seconds=settings.MAILPASS_RETRY_BASE_SECONDS + 1))
        second = process_due()

    message.refresh_from_db()
    assert second.sent == 1 and message.status == "delivered" and message.attempts == 2
    events = list(message.events.values_list("event_type", flat=True))
    assert events == ["deferred", "delivered"]


# --- Live and test never mix ----------------------------------------------------------------


def test_a_live_key_cannot_read_a_test_message_and_the_other_way_round(
    test_api, api, provider, sink
):
    test_id = send(test_api, f"delivered@{DOMAIN}").json()["data"]["message_id"]
    live_id = send(api, "user@example.com").json()["data"]["message_id"]

    assert status_of(api, test_id).status_code == 404
    assert status_of(test_api, live_id).status_code == 404
    assert status_of(test_api, test_id).status_code == 200
    assert status_of(api, live_id).status_code == 200


def test_scheduled_test_mail_is_cancelled_only_with_a_test_key(test_api, api, provider):
    later = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    scheduled = send(test_api, f"delivered@{DOMAIN}", scheduled_at=later).json()["data"]

    assert api.post(f"/api/v1/mail/{scheduled['message_id']}/cancel").status_code == 404
    cancelled = test_api.post(f"/api/v1/mail/{scheduled['message_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["data"]["status"] == "cancelled"


def test_an_idempotency_key_names_a_test_request_and_a_live_one_apart(
    test_api, api, provider, sink
):
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-1234"}

    live = api.post("/api/v1/mail/send", {**SEND, "to": "a@example.com"}, format="json", **headers)
    test = test_api.post(
        "/api/v1/mail/send", {**SEND, "to": "a@example.com"}, format="json", **headers
    )

    assert live.status_code == test.status_code == 200
    assert "Idempotent-Replayed" not in test.headers
    assert live.json()["data"]["message_id"] != test.json()["data"]["message_id"]
    assert Message.objects.filter(test=True).count() == Message.objects.filter(test=False).count()


def test_deliveries_are_listed_in_the_keys_mode(test_api, account, receiver):
    live_api = client(
        factories.make_api_key(account, permissions=[Permission.MAIL, Permission.WEBHOOKS])[1]
    )
    endpoint_id = live_api.get("/api/v1/webhooks").json()["data"]["webhooks"][0]["id"]
    send(test_api, f"delivered@{DOMAIN}")
    live_api.post(f"/api/v1/webhooks/{endpoint_id}/test")

    in_test = test_api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries").json()["data"]
    in_live = live_api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries").json()["data"]

    assert {d["type"] for d in in_test["deliveries"]} == {"email.sent", "email.delivered"}
    assert all(d["test"] for d in in_test["deliveries"])
    assert [d["type"] for d in in_live["deliveries"]] == ["webhook.test"]
    test_delivery = WebhookDelivery.objects.filter(test=True).first()
    retry = f"/api/v1/webhooks/{endpoint_id}/deliveries/{test_delivery.pk}/retry"
    assert live_api.post(retry).status_code == 404
    assert test_api.post(retry).status_code == 202
