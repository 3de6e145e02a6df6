"""Suite 1: kill the worker at random points while it drains 1,000 messages.

Twenty times a fresh `process_mail_queue --loop` worker is started and, once it has sent a
random number of messages (plus a random few milliseconds, so the signal lands anywhere in
the SMTP exchange or the commit of an outcome), it is signalled; then one last worker drains
the rest, after the dead workers' leases (2 s here, queue and provider slots) have run out.

SIGKILL: at-least-once. Nothing is lost, nothing stays `sending`, and the only possible
duplicate is the message in flight on each of the worker's sending threads (one per
connection) when it died: duplicates <= kills x MAILPASS_QUEUE_CONNECTIONS.
SIGTERM: the worker finishes the messages in flight, hands the rest of its chunk back and
exits 0 (no message left `sending` behind it), so nothing is sent twice.

A worker killed mid-chunk must not leave the unsent part of its chunk counted against the
provider's hourly limit either (the last test: a limit of exactly what has to go out).

Runs on the database of the test run: the PostgreSQL test database, or a SQLite file.
The seed is printed; FAULT_SEED=… replays a run.
"""

import datetime as dt
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.faults.harness import duplicates, figures, lost, wait_until

# PostgreSQL: committed rows in the test database (see queue_db); SQLite uses a file of its own.
pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 1000
SIGNALS = 20
BATCH = 20
LEASE_SECONDS = 2
# In flight per worker at most (MAILPASS_QUEUE_CONNECTIONS; the default is 64): a lane
# widens up to it while the CPU has room, so this bounds the duplicates of a kill.
CONNECTIONS = 16
WORKER_ENV = {
    "MAILPASS_QUEUE_LEASE_SECONDS": str(LEASE_SECONDS),
    # The dead workers' provider connection slots too: twenty kills at up to 16 connections
    # each would otherwise hold the relay's 50 for the default lease.
    "MAILPASS_PROVIDER_SLOT_LEASE_SECONDS": str(LEASE_SECONDS),
    "MAILPASS_QUEUE_POLL_SECONDS": "1",
    "MAILPASS_QUEUE_CONNECTIONS": str(CONNECTIONS),
}


class RecordCounter:
    """Counts the sink's record lines as they are appended (cheap enough to poll at 5 ms)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def __call__(self) -> int:
        if self.path.exists():
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
            self.offset += len(chunk)
            self.lines += chunk.count(b"\n")
        return self.lines


@dataclass
class Run:
    signalled: int = 0
    exits: list[int] = field(default_factory=list)
    stderr_with_traceback: list[str] = field(default_factory=list)
    left_sending_after_exit: list[int] = field(default_factory=list)
    sent_under_fire: int = 0
    seconds: float = 0.0


def drain_under_signals(
    signum: int,
    queue_db,
    sink_process,
    workers,
    seed: int,
    *,
    messages: int = MESSAGES,
    signals: int = SIGNALS,
    hourly_limit: int | None = None,
) -> Run:
    """Seed `messages`, signal `signals` successive workers at random points, then let one
    last worker run until nothing is left to do now (sent, or deferred to later)."""
    rng = random.Random(seed)
    # Each worker is signalled after a random 1..2*per_life messages of its own: ~30% of
    # the queue goes out under fire, the rest in the final drain. At most 60% by the draw:
    # a worker keeps sending on its connections while the signal is on its way (a few
    # messages more each), and the queue must not run dry before the last signal.
    per_life = max(1, int(messages * 0.3 / signals))
    queue_db.seed(port=sink_process.port, messages=messages, hourly_limit=hourly_limit)
    counter = RecordCounter(sink_process.record_path)
    run = Run()
    started = time.monotonic()

    for _ in range(signals):
        worker = workers.spawn("--loop", "--batch-size", str(BATCH), **WORKER_ENV)
        base = counter()
        target = rng.randint(1, 2 * per_life)
        jitter = rng.uniform(0, 0.03)
        # Nothing may be due for a while (the dead workers' chunks wait for their lease).
        deadline = time.monotonic() + LEASE_SECONDS + 8
        while worker.alive() and counter() - base < target and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(jitter)
        assert worker.alive(), (
            f"worker died on its own (exit {worker.proc.returncode}):\n{worker.stderr}"
        )
        worker.signal(signum)
        run.signalled += 1
        run.exits.append(worker.wait(timeout=60))
        if "Traceback" in worker.stderr:
            run.stderr_with_traceback.append(worker.stderr)
        if signum == signal.SIGTERM:
            run.left_sending_after_exit.append(queue_db.statuses()["sending"])

    run.sent_under_fire = len(sink_process.record.accepted())
    assert queue_db.unfinished() > 0, "the queue ran dry before the last signal: raise MESSAGES"
    final = workers.spawn("--loop", "--batch-size", str(BATCH), **WORKER_ENV)
    # Done when nothing is claimed or due any more (dead workers' leases included).
    wait_until(lambda: queue_db.due_or_sending() == 0, timeout=90, interval=0.25, what="drain")
    assert final.stop(timeout=30) == 0, final.stderr
    run.seconds = time.monotonic() - started
    return run


def test_killing_the_worker_20_times_loses_nothing_and_duplicates_at_most_one_per_connection(
    queue_db, sink_process, workers, fault_seed
):
    run = drain_under_signals(signal.SIGKILL, queue_db, sink_process, workers, fault_seed)

    record = sink_process.record
    dups = duplicates(record)
    figures(
        f"SIGKILL x{run.signalled} ({queue_db.vendor})",
        seed=fault_seed,
        messages=MESSAGES,
        kills=run.signalled,
        sent_while_killing=run.sent_under_fire,
        lost=len(lost(queue_db, record)),
        duplicates=dups,
        usage_counted=queue_db.provider_usage(),
        seconds=run.seconds,
    )
    assert run.exits == [-signal.SIGKILL] * SIGNALS
    assert lost(queue_db, record) == set()
    assert dups <= run.signalled * CONNECTIONS
    assert queue_db.statuses() == {"sent": MESSAGES}
    assert queue_db.still_claimed() == 0


def test_sigterm_20_times_exits_0_leaves_nothing_sending_and_sends_nothing_twice(
    queue_db, sink_process, workers, fault_seed
):
    run = drain_under_signals(signal.SIGTERM, queue_db, sink_process, workers, fault_seed)

    record = sink_process.record
    dups = duplicates(record)
    figures(
        f"SIGTERM x{run.signalled} ({queue_db.vendor})",
        seed=fault_seed,
        messages=MESSAGES,
        sigterms=run.signalled,
        sent_while_signalling=run.sent_under_fire,
        lost=len(lost(queue_db, record)),
        duplicates=dups,
        seconds=run.seconds,
    )
    assert run.stderr_with_traceback == []
    assert run.exits == [0] * SIGNALS
    assert run.left_sending_after_exit == [0] * SIGNALS
    assert lost(queue_db, record) == set()
    assert dups == 0
    assert queue_db.statuses() == {"sent": MESSAGES}
    assert queue_db.still_claimed() == 0


def test_a_killed_worker_leaves_no_unused_capacity_counted_against_the_hourly_limit(
    queue_db, sink_process, workers, fault_seed
):
    # ProviderUsage is "how many messages a provider accepted in one clock hour". With a limit
    # of exactly the messages plus one possible duplicate per connection per kill, all of them
    # must go out within the hour, whatever the kills did.
    messages, kills = 300, 5
    in_flight = kills * CONNECTIONS
    now = dt.datetime.now(dt.UTC)
    hour_left = 3600 - now.minute * 60 - now.second
    if hour_left < 120:
        pytest.skip("too close to the end of the clock hour: the limit window would reset")
    run = drain_under_signals(
        signal.SIGKILL,
        queue_db,
        sink_process,
        workers,
        fault_seed,
        messages=messages,
        signals=kills,
        hourly_limit=messages + in_flight,
    )

    record = sink_process.record
    accepted = sum(record.accepted().values())
    figures(
        f"SIGKILL x{kills} under an hourly limit ({queue_db.vendor})",
        seed=fault_seed,
        messages=messages,
        hourly_limit=messages + in_flight,
        accepted_by_sink=accepted,
        usage_counted=queue_db.provider_usage(),
        still_queued=queue_db.statuses()["queued"],
        seconds=run.seconds,
    )
    # Capacity is taken right before each send, so a kill can leave at most the one message
    # in flight on each connection counted without having been accepted.
    assert accepted <= queue_db.provider_usage() <= accepted + in_flight
    assert queue_db.statuses() == {"sent": messages}  # none held back until the next hour
