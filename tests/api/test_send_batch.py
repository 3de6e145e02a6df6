"""POST /api/v1/mail/send-batch: every valid item queued, every invalid one reported."""

import pytest

from api.drain import process_due
from api.models import Message
from tests import factories

pytestmark = pytest.mark.django_db

SEED_BATCH = {
    "messages": [
        {"to": "a@example.com", "subject": "Hello A", "html": "<p>Hi A</p>"},
        {"to": "b@example.com", "subject": "Hello B", "html": "<p>Hi B</p>"},
    ],
    "from_email": "support@yourdomain.com",
    "from_name": "Your App",
}


def batch(api, payload):
    return api.post("/api/v1/mail/send-batch", payload, format="json")


def test_batch_answers_the_seed_shape_with_queue_and_message_ids(api, provider, sink):
    response = batch(api, SEED_BATCH)

    assert response.status_code == 200
    data = response.json()["data"]
    assert response.json()["success"] is True
    assert (data["total"], data["queued"], data["failed"]) == (2, 2, 0)
    first, second = data["messages"]
    assert first["to"] == "a@example.com" and second["to"] == "b@example.com"
    for item in data["messages"]:
        assert item["status"] == "queued"
        message = Message.objects.get(pk=item["queue_id"])
        assert message.message_id == item["message_id"]
        assert message.status == Message.Status.QUEUED
        assert message.from_email == "support@yourdomain.com"
        assert message.from_name == "Your App"
    assert sink.received == []  # queued, not sent: cron delivers


@pytest.mark.django_db(transaction=True)  # the queue's sending threads must see the rows
def test_batch_messages_are_delivered_by_the_queue(api, provider, sink):
    data = batch(api, SEED_BATCH).json()["data"]

    stats = process_due()

    assert stats.sent == 2
    delivered = {r.message["Message-ID"]: r for r in sink.received}
    for item in data["messages"]:
        assert delivered[item["message_id"]].message["From"] == "Your App <support@yourdomain.com>"
        assert Message.objects.get(pk=item["queue_id"]).status == Message.Status.SENT


def test_an_items_own_sender_wins_over_the_batch_sender(api, provider):
    payload = {
        "messages": [
            {
                "to": "a@example.com",
                "subject": "A",
                "text": "a",
                "from_email": "own@example.com",
                "from_name": "Own",
            },
            {"to": "b@example.com", "subject": "B", "text": "b"},
        ],
        "from_email": "batch@example.com",
    }

    data = batch(api, payload).json()["data"]

    own, default = (Message.objects.get(pk=m["queue_id"]) for m in data["messages"])
    assert (own.from_email, own.from_name) == ("own@example.com", "Own")
    assert (default.from_email, default.from_name) == ("batch@example.com", "Sender")


def test_batch_without_a_sender_uses_the_providers(api, provider):
    payload = {"messages": [{"to": "a@example.com", "subject": "A", "text": "a"}]}

    data = batch(api, payload).json()["data"]

    assert (
        Message.objects.get(pk=data["messages"][0]["queue_id"]).from_email == "sender@example.com"
    )


def test_invalid_items_fail_alone_and_valid_ones_are_queued(api, provider):
    payload = {
        "messages": [
            {"to": "a@example.com", "subject": "A", "text": "a"},
            {"to": "not-an-email", "subject": "B", "text": "b"},
            "not an object",
            {"to": "c@example.com", "subject": "Injected\r\nBcc: evil@example.com", "text": "c"},
            {"to": "d@example.com", "subject": "D"},
        ]
    }

    response = batch(api, payload)

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["total"], data["queued"], data["failed"]) == (5, 1, 4)
    statuses = [item["status"] for item in data["messages"]]
    assert statuses == ["queued", "failed", "failed", "failed", "failed"]
    bad_to = data["messages"][1]
    assert bad_to["to"] == "not-an-email"
    assert bad_to["error"]["code"] == "VALIDATION_ERROR"
    assert bad_to["error"]["details"] == {"to": ["Enter a valid email address."]}
    assert data["messages"][2]["to"] is None
    assert "subject" in data["messages"][3]["error"]["details"]
    assert "html" in data["messages"][4]["error"]["details"]
    assert "queue_id" not in bad_to
    assert Message.objects.count() == 1


@pytest.mark.parametrize("count", [0, 101])
def test_batch_size_outside_1_to_100_rejects_the_whole_request(api, provider, count):
    payload = {"messages": [{"to": "a@example.com", "subject": "A", "text": "a"}] * count}

    response = batch(api, payload)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "messages" in response.json()["error"]["details"]
    assert Message.objects.count() == 0


def test_batch_of_exactly_100_is_queued(api, provider):
    payload = {
        "messages": [{"to": f"r{i}@example.com", "subject": "A", "text": "a"} for i in range(100)]
    }

    data = batch(api, payload).json()["data"]

    assert data["queued"] == 100
    assert len({item["queue_id"] for item in data["messages"]}) == 100
    assert len({item["message_id"] for item in data["messages"]}) == 100


def test_an_invalid_batch_sender_rejects_the_whole_request(api, provider):
    payload = {**SEED_BATCH, "from_email": "nope"}

    response = batch(api, payload)

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"from_email": ["Enter a valid email address."]}


def test_batch_without_a_default_provider_is_422_and_queues_nothing(api, account, sink):
    factories.make_provider(account, port=sink.port, is_default=False)

    response = batch(api, SEED_BATCH)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "NO_SMTP_PROVIDER"
    assert Message.objects.count() == 0
