"""Suite 3: the SMTP server answers 421 (at connect) or 451 (at DATA) for a while.

A `--loop` worker drains with compressed backoff (1 s, then 2 s, capped) while the sink
refuses everything for a 3-second window (the stand-in for 30 s of a provider's bad
minute); then the sink recovers. Temporary refusals must be retried, never failed, and
every message must arrive exactly once, carrying on every attempt the Message-ID it was
given when queued.
"""

import time

import pytest

from tests.faults.harness import duplicates, figures, lost, wait_until

# PostgreSQL: committed rows in the test database (see queue_db); SQLite uses a file of its own.
pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 200
WINDOW_SECONDS = 3
WORKER_ENV = {
    "MAILPASS_RETRY_BASE_SECONDS": "1",
    "MAILPASS_RETRY_CAP_SECONDS": "2",
    "MAILPASS_RETRY_MAX_ATTEMPTS": "30",
    "MAILPASS_QUEUE_POLL_SECONDS": "1",
}

# id: (the code the sink records for a refusal, the sink's faults)
FAULTS = {
    "421-at-connect": ("421", {"connect": "421 4.3.2 Service not available, try later"}),
    "451-at-data": ("451", {"data": "451 4.3.0 Mail server temporarily rejected message"}),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_temporary_smtp_outage_delays_mail_but_delivers_every_message_once(
    queue_db, sink_process, workers, fault
):
    queue_db.seed(port=sink_process.port, messages=MESSAGES)
    code, faults = FAULTS[fault]
    sink_process.set_faults(**faults)
    started = time.monotonic()

    worker = workers.spawn("--loop", "--batch-size", "50", **WORKER_ENV)
    wait_until(
        lambda: sink_process.record.dispositions()[code] > 0, timeout=30, what="the first refusal"
    )
    outage_started = time.monotonic()
    time.sleep(WINDOW_SECONDS)
    # On a slow machine the first pass over the queue may outlast the window: keep the
    # outage until every message has been refused at least once.
    wait_until(
        lambda: queue_db.query("SELECT count(*) FROM api_message WHERE attempts = 0")[0][0] == 0,
        timeout=60,
        what="every message to be tried once",
    )
    sink_process.clear_faults()
    outage = time.monotonic() - outage_started
    wait_until(lambda: queue_db.unfinished() == 0, timeout=60, interval=0.25, what="the drain")
    assert worker.stop(timeout=30) == 0, worker.stderr
    seconds = time.monotonic() - started

    record = sink_process.record
    refused = [mid for disp, mid, _ in record.lines if disp == code]
    min_attempts, max_attempts = queue_db.query(
        "SELECT min(attempts), max(attempts) FROM api_message"
    )[0]
    figures(
        f"SMTP {fault} ({queue_db.vendor})",
        messages=MESSAGES,
        outage_seconds=outage,
        refusals=len(refused),
        deferred_events=queue_db.deferred_events(),
        attempts=f"{min_attempts}..{max_attempts}",
        delivered=len(record.accepted()),
        duplicates=duplicates(record),
        seconds=seconds,
    )
    assert queue_db.statuses() == {"sent": MESSAGES}
    assert record.accepted() == {mid: 1 for mid in queue_db.message_ids()}
    # The outage hit every message (refused at least once, then delivered), and every
    # refusal became a retry: one deferred attempt each, none failed.
    assert min_attempts >= 2
    assert len(refused) >= MESSAGES
    assert queue_db.deferred_events() == len(refused)
    if code == "451":
        # Every refused attempt carried the Message-ID its message was queued with (and
        # later arrived under): the same Message-ID on every attempt.
        assert set(refused) == queue_db.message_ids()
    assert lost(queue_db, record) == set()
