"""Suite 2: several workers drain 5,000 messages at once.

N `process_mail_queue` processes start together on one queue (PostgreSQL: SKIP LOCKED;
SQLite: the claim token and the guarded UPDATE under the database's write lock). Every
message must leave exactly once, and every worker must do a fair share of the work (at
least 1/(3N) of the messages), which an accidental global lock would break.
2 workers on either database, 4 on PostgreSQL.
"""

import time

import pytest

from tests.faults.harness import duplicates, figures, lost

# PostgreSQL: committed rows in the test database (see queue_db); SQLite uses a file of its own.
pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 5000
BATCH = 25


@pytest.mark.parametrize(
    "n_workers", [2, pytest.param(4, marks=pytest.mark.postgres_only)], ids=lambda n: f"{n}w"
)
def test_workers_draining_5000_messages_at_once_send_each_once_and_share_the_work(
    queue_db, sink_process, workers, n_workers
):
    queue_db.seed(port=sink_process.port, messages=MESSAGES)
    started = time.monotonic()

    procs = [workers.spawn("--batch-size", str(BATCH)) for _ in range(n_workers)]
    exits = [p.wait(timeout=180) for p in procs]
    seconds = time.monotonic() - started

    record = sink_process.record
    totals = [p.totals() for p in procs]
    figures(
        f"{n_workers} workers ({queue_db.vendor})",
        messages=MESSAGES,
        sent_per_worker="/".join(str(t["sent"]) for t in totals),
        duplicates=duplicates(record),
        lost=len(lost(queue_db, record)),
        seconds=seconds,
        per_second=MESSAGES / seconds,
    )
    assert exits == [0] * n_workers, [p.stderr for p in procs]
    assert duplicates(record) == 0
    assert lost(queue_db, record) == set()
    assert sum(t["claimed"] for t in totals) == MESSAGES
    assert sum(t["sent"] for t in totals) == MESSAGES
    assert queue_db.statuses() == {"sent": MESSAGES}
    fair = MESSAGES // (3 * n_workers)
    assert all(t["sent"] >= fair for t in totals), f"a worker sent < {fair}: {totals}"
