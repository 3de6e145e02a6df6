"""A relay that offers PIPELINING (RFC 2920), then drops connections after the content.

With PIPELINING, MAIL, RCPT and DATA go out together (providers.backends). A relay that
reads the whole message and hangs up before its 250 may have kept it: the message is
retried on that relay, never handed to a fallback, and once the relay recovers every
message is accepted exactly once, never failed, pipelined or not.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from api import drain
from api.models import Message, MessageEvent
from tests import factories
from tests.faults.fault_sink import FaultSink, FaultSinkProcess
from tests.faults.harness import duplicates, figures, lost, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 60
WORKER_ENV = {
    "MAILPASS_RETRY_BASE_SECONDS": "1",
    "MAILPASS_RETRY_CAP_SECONDS": "2",
    "MAILPASS_RETRY_MAX_ATTEMPTS": "30",
    "MAILPASS_QUEUE_POLL_SECONDS": "1",
}


@pytest.fixture
def pipelining_sink() -> Iterator[FaultSink]:
    sink = FaultSink(pipelining=True).start()
    yield sink
    sink.stop()


def test_a_message_a_pipelining_relay_dropped_after_data_is_retried_there_not_failed_over(
    account, sink, pipelining_sink
):
    pipelining_sink.set_faults(after_data="drop")
    backup = factories.make_provider(account, port=sink.port, name="Backup", is_default=False)
    primary = factories.make_provider(
        account, port=pipelining_sink.port, name="Primary", fallbacks=[backup.pk]
    )
    message = factories.make_message(account, provider=primary, next_attempt_at=timezone.now())

    stats = drain.process_due()

    assert (stats.sent, stats.retried) == (0, 1)
    assert pipelining_sink.record.dispositions() == {"drop": 1}
    assert sink.received == []
    message.refresh_from_db()
    assert (message.status, message.provider_id) == ("queued", primary.pk)
    assert not MessageEvent.objects.filter(event_type="failover").exists()

    pipelining_sink.clear_faults()
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())

    assert drain.process_due().sent == 1
    assert pipelining_sink.record.accepted() == {message.message_id: 1}
    assert sink.received == []


@pytest.fixture(params=[True, False], ids=["offers PIPELINING", "no PIPELINING"])
def relay_process(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultSinkProcess]:
    sink = FaultSinkProcess(tmp_path, pipelining=request.param).start()
    yield sink
    sink.stop()


def test_a_worker_through_a_relay_dropping_after_data_delivers_every_message_once(
    queue_db, relay_process, workers
):
    queue_db.seed(port=relay_process.port, messages=MESSAGES)
    relay_process.set_faults(after_data="drop")
    started = time.monotonic()

    worker = workers.spawn("--loop", "--batch-size", "20", **WORKER_ENV)
    wait_until(
        lambda: queue_db.query("SELECT count(*) FROM api_message WHERE attempts = 0")[0][0] == 0,
        timeout=60,
        what="every message to be tried once",
    )
    relay_process.clear_faults()
    wait_until(lambda: queue_db.unfinished() == 0, timeout=60, interval=0.25, what="the drain")
    assert worker.stop(timeout=30) == 0, worker.stderr
    seconds = time.monotonic() - started

    record = relay_process.record
    drops = record.dispositions()["drop"]
    figures(
        f"relay dropping after DATA, pipelining={relay_process.pipelining} ({queue_db.vendor})",
        messages=MESSAGES,
        drops=drops,
        deferred_events=queue_db.deferred_events(),
        delivered=len(record.accepted()),
        duplicates=duplicates(record),
        seconds=seconds,
    )
    assert drops >= 1
    assert queue_db.statuses() == {"sent": MESSAGES}
    # Each drop became a retry on the same relay (the only one), none a failure.
    assert queue_db.deferred_events() >= drops
    assert record.accepted() == {mid: 1 for mid in queue_db.message_ids()}
    assert lost(queue_db, record) == set()
