"""A provider's hourly limit holds under concurrency, through /send and through the queue."""

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from api import drain, queue
from api.models import Message
from api.services import batch_enqueue
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _early_in_the_hour(time_machine):
    # Far from an hour boundary, so the hourly window cannot roll over mid-test.
    time_machine.move_to(dt.datetime(2030, 1, 15, 10, 5, tzinfo=dt.UTC), tick=True)


VALID = {"to": "user@example.com", "subject": "Hello", "text": "Hi"}


def test_300_concurrent_sends_against_an_hourly_limit_of_100_send_exactly_100(
    live_server, account, sink
):
    factories.make_provider(account, port=sink.port, hourly_limit=100)
    _, key = factories.make_api_key(account)
    body = json.dumps(VALID).encode()

    def send(_: int) -> tuple[int, str | None, str]:
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/mail/send",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, None, json.load(response)["data"]["status"]
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Retry-After"), json.load(err)["error"]["code"]

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(send, range(300)))

    accepted = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 429]
    print(
        f"limits: 300 concurrent /send, hourly limit 100 -> {len(accepted)} sent, "
        f"{len(refused)} refused, {len(sink.received)} at the sink"
    )
    assert len(accepted) == 100
    assert len(refused) == 200
    assert {code for _, _, code in refused} == {"SEND_LIMIT_EXCEEDED"}
    assert all(retry_after and int(retry_after) > 0 for _, retry_after, _ in refused)
    assert len(sink.received) == 100
    assert Message.objects.filter(status=Message.Status.SENT).count() == 100


def _worker(results: list[queue.QueueStats]) -> None:
    try:
        results.append(drain.process_due(batch_size=40))
    finally:
        connections.close_all()


def test_300_queued_messages_against_an_hourly_limit_of_100_send_100_and_keep_200(account, sink):
    factories.make_provider(account, port=sink.port, hourly_limit=100)
    items = [{"to": f"r{i}@example.com", "subject": "Hi", "text": "x"} for i in range(300)]
    batch_enqueue(account=account, api_key=None, items=items)
    results: list[queue.QueueStats] = []

    workers = [threading.Thread(target=_worker, args=(results,)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    again = drain.process_due(batch_size=40)

    counts = {s: Message.objects.filter(status=s).count() for s in Message.Status.values}
    counts = {status: n for status, n in counts.items() if n}
    print(f"limits: 300 queued, hourly limit 100, 3 workers -> {counts}")
    assert sum(r.sent for r in results) == 100
    assert again.sent == 0
    assert counts == {"queued": 200, "sent": 100}
    assert len(sink.received) == 100
    assert set(Message.objects.filter(status="queued").values_list("attempts", flat=True)) == {0}
