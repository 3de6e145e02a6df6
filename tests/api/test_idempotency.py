"""Idempotency-Key on /send and /send-batch: a repeat never sends twice."""

import datetime as dt
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine

from api.models import Message
from tests import factories

VALID = {"to": "user@example.com", "subject": "Hello", "text": "Hi"}
BATCH = {"messages": [{"to": f"r{i}@example.com", "subject": "Hi", "text": "x"} for i in range(3)]}


def post(api, path, payload, key):
    return api.post(path, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_a_repeated_send_returns_the_first_answer_and_sends_once(api, provider, sink):
    first = post(api, "/api/v1/mail/send", VALID, "order-42")
    again = post(api, "/api/v1/mail/send", VALID, "order-42")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert len(sink.received) == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_conflict_and_sends_nothing(api, provider, sink):
    post(api, "/api/v1/mail/send", VALID, "k1")

    response = post(api, "/api/v1/mail/send", {**VALID, "subject": "Other"}, "k1")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert len(sink.received) == 1


@pytest.mark.django_db
def test_the_same_key_on_another_endpoint_is_a_conflict(api, provider, sink):
    post(api, "/api/v1/mail/send", VALID, "k1")

    response = post(api, "/api/v1/mail/send-batch", BATCH, "k1")

    assert response.status_code == 409
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_repeated_batch_returns_the_same_queue_ids_and_queues_once(api, provider):
    first = post(api, "/api/v1/mail/send-batch", BATCH, "batch-7").json()
    again = post(api, "/api/v1/mail/send-batch", BATCH, "batch-7").json()

    assert again == first
    assert Message.objects.count() == 3


@pytest.mark.django_db
def test_keys_belong_to_one_account(api, outsider_api, provider, outsider_account, sink):
    factories.make_provider(outsider_account, port=sink.port)

    assert post(api, "/api/v1/mail/send", VALID, "shared").status_code == 200
    assert post(outsider_api, "/api/v1/mail/send", VALID, "shared").status_code == 200
    assert len(sink.received) == 2


@pytest.mark.django_db
def test_a_failed_send_is_remembered_and_not_retried_by_a_repeat(api, provider, sink):
    sink.fail_rcpt("user@example.com", "550 5.1.1 No such user")
    first = post(api, "/api/v1/mail/send", VALID, "k-fail")
    sink.handler.reset()

    again = post(api, "/api/v1/mail/send", VALID, "k-fail")

    assert again.status_code == first.status_code == 500
    assert again.json() == first.json()
    assert again.json()["error"]["code"] == "SEND_FAILED"
    assert sink.received == []
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_request_rejected_before_sending_does_not_use_up_its_key(api, provider, sink):
    bad = post(api, "/api/v1/mail/send", {**VALID, "to": "nope"}, "k-retry")
    assert bad.status_code == 400

    good = post(api, "/api/v1/mail/send", VALID, "k-retry")

    assert good.status_code == 200
    assert len(sink.received) == 1


@pytest.mark.django_db
def test_a_key_is_forgotten_after_24_hours(api, provider, sink):
    start = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        post(api, "/api/v1/mail/send", VALID, "daily")
    with time_machine.travel(start + dt.timedelta(hours=23), tick=False):
        assert post(api, "/api/v1/mail/send", VALID, "daily")["Idempotent-Replayed"] == "true"
    with time_machine.travel(start + dt.timedelta(hours=24, seconds=1), tick=False):
        response = post(api, "/api/v1/mail/send", VALID, "daily")

    assert "Idempotent-Replayed" not in response
    assert len(sink.received) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 257, "line\nbreak"])
def test_an_unusable_key_is_a_validation_error(api, provider, sink, key):
    response = post(api, "/api/v1/mail/send", VALID, key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["details"]
    assert sink.received == []


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_identical_requests_send_exactly_one_message(live_server, account, sink):
    factories.make_provider(account, port=sink.port)
    _, key = factories.make_api_key(account)
    body = json.dumps(VALID).encode()

    def send(_: int) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/mail/send",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "Idempotency-Key": "fifty",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(send, range(50)))

    statuses = [status for status, _ in answers]
    message_ids = {body["data"]["message_id"] for _, body in answers if "data" in body}
    print(
        f"idempotency: 50 concurrent requests -> statuses {sorted(set(statuses))}, "
        f"{len(message_ids)} message id(s), {len(sink.received)} sent"
    )
    assert statuses == [200] * 50
    assert len(message_ids) == 1
    assert len(sink.received) == 1
    assert Message.objects.count() == 1
