"""Suite: a provider's courtesy caps hold across workers.

Two `process_mail_queue` processes drain one provider's queue together. With
max_in_flight, the sink never sees more connections open at once than the cap, however
many threads each worker would like; with max_per_second, no one-second window holds more
accepted messages than the rate plus 10%. Every message still leaves exactly once.
"""

import time

import pytest

from tests.faults.harness import duplicates, figures, lost

# PostgreSQL: committed rows in the test database (see queue_db); SQLite uses a file of its own.
pytestmark = pytest.mark.django_db(transaction=True)


def drain_with_two_workers(queue_db, sink_process, workers, messages: int) -> float:
    started = time.monotonic()
    procs = [workers.spawn("--batch-size", "50") for _ in range(2)]
    exits = [p.wait(timeout=120) for p in procs]
    seconds = time.monotonic() - started
    record = sink_process.record
    assert exits == [0, 0], [p.stderr for p in procs]
    # A worker that finds every slot taken hands its claim back; the other sends it.
    while queue_db.statuses().get("queued"):
        assert workers.spawn("--batch-size", "50").wait(timeout=120) == 0
    assert duplicates(record) == 0
    assert lost(queue_db, record) == set()
    assert queue_db.statuses() == {"sent": messages}
    return seconds


def test_two_workers_never_open_more_connections_than_the_providers_cap(
    queue_db, sink_process, workers
):
    messages, cap = 600, 6
    # Each answer to DATA 20 ms late: a worker alone would widen its lane far beyond 6.
    sink_process.set_faults(delay=0.02)
    queue_db.seed(port=sink_process.port, messages=messages, max_in_flight=cap)

    seconds = drain_with_two_workers(queue_db, sink_process, workers, messages)

    peak = sink_process.peak_sessions()
    figures(
        f"in-flight cap {cap}, 2 workers ({queue_db.vendor})",
        messages=messages,
        peak_connections=peak,
        seconds=seconds,
    )
    assert 2 <= peak <= cap


def test_two_workers_keep_to_the_providers_rate_in_every_second(queue_db, sink_process, workers):
    messages, rate = 100, 20
    queue_db.seed(port=sink_process.port, messages=messages, max_per_second=rate)

    seconds = drain_with_two_workers(queue_db, sink_process, workers, messages)

    most = sink_process.record.most_accepted_in_a_second()
    figures(
        f"{rate}/s cap, 2 workers ({queue_db.vendor})",
        messages=messages,
        most_in_one_second=most,
        seconds=seconds,
    )
    assert most <= rate * 1.1
    assert seconds >= (messages / rate) - 1  # paced, not merely counted
