"""Several queue workers on one database: every message goes out exactly once.

The process tests run real `manage.py process_mail_queue` workers as separate OS processes
against the test database, so they need a server database every process can reach:
PostgreSQL (the SQLite test database lives in this process's memory). The in-process
variant runs drain.process_due in threads, each with its own connection. Rows must be
committed to be seen by the other workers, hence django_db(transaction=True).
"""

import datetime as dt
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connections

from api import drain, queue
from api.models import Message
from api.services import batch_enqueue
from providers.models import Provider, ProviderUsage
from tests.processes import database_url, worker_env

# PostgreSQL only (tests/conftest.py skips these on SQLite): worker processes cannot reach
# the in-memory SQLite test database, and there SKIP LOCKED is a no-op anyway.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

BASE_DIR = Path(django_settings.BASE_DIR)
SUMMARY = re.compile(
    r"^claimed (\d+), sent (\d+), retried (\d+), failed (\d+), deferred (\d+)"
    r" in \d+\.\d\ds \(\d+\.\d msg/s\)$"
)


def enqueue(account, n: int) -> list[Message]:
    """`n` messages queued through the same service the batch API uses."""
    items = [{"to": f"r{i}@example.com", "subject": f"Message {i}", "text": "x"} for i in range(n)]
    results = batch_enqueue(account=account, api_key=None, items=items)
    return [r.message for r in results if r.message is not None]


def claimed_by(stdout: str) -> int:
    lines = [line for line in stdout.splitlines() if SUMMARY.match(line)]
    assert len(lines) == 1, stdout
    return int(SUMMARY.match(lines[0]).group(1))


def assert_each_sent_exactly_once(messages: list[Message], sink) -> None:
    arrived = Counter(r.message["Message-ID"] for r in sink.received)
    duplicates = {mid: n for mid, n in arrived.items() if n > 1}
    assert duplicates == {}
    assert set(arrived) == {m.message_id for m in messages}
    statuses = Counter(Message.objects.values_list("status", flat=True))
    assert statuses == {Message.Status.SENT: len(messages)}
    assert not Message.objects.exclude(claim_token=None).exists()


@pytest.mark.parametrize("workers", [2, 3])
def test_concurrent_worker_processes_send_every_message_exactly_once(
    account, provider, sink, workers
):
    messages = enqueue(account, 320)

    procs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "process_mail_queue", "--batch-size", "10"],
            cwd=BASE_DIR,
            env=worker_env(database_url()),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            outputs.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    for returncode, _, err in outputs:
        assert returncode == 0, err
    claims = [claimed_by(out) for _, out, _ in outputs]
    assert sum(claims) == len(messages)
    assert all(n > 0 for n in claims), f"a worker claimed nothing: {claims}"
    assert_each_sent_exactly_once(messages, sink)


def _thread_worker(barrier: threading.Barrier, stats: list, errors: list) -> None:
    try:
        barrier.wait(timeout=10)
        stats.append(drain.process_due(batch_size=5))
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)
    finally:
        connections.close_all()


def test_two_worker_threads_send_every_message_exactly_once(account, provider, sink):
    # PostgreSQL only: on SQLite the test database is an in-memory shared-cache database,
    # whose table locks fail at once ("database table is locked") instead of waiting.
    messages = enqueue(account, 120)
    barrier = threading.Barrier(2)
    stats: list[queue.QueueStats] = []
    errors: list[Exception] = []

    threads = [
        threading.Thread(target=_thread_worker, args=(barrier, stats, errors)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(s.claimed for s in stats) == len(messages)
    assert sum(s.sent for s in stats) == len(messages)
    assert_each_sent_exactly_once(messages, sink)


def test_a_chunk_slower_than_its_lease_is_never_claimed_by_another_worker(
    settings, account, provider, sink
):
    # 6 messages x 0.4 s at DATA take 2.4 s against a 1 s lease: the worker must keep
    # renewing its claim, or the poller below takes over messages still being sent.
    settings.MAILPASS_QUEUE_LEASE_SECONDS = 1
    sink.handler.data_delay_seconds = 0.4
    messages = enqueue(account, 6)
    stolen: list[int] = []
    done = threading.Event()

    def other_worker() -> None:
        try:
            while not done.is_set():
                stolen.extend(m.pk for m in queue.claim_due(batch_size=10))
                time.sleep(0.05)
        finally:
            connections.close_all()

    poller = threading.Thread(target=other_worker)
    claimed = queue.claim_due(batch_size=10)
    poller.start()
    try:
        stats = drain.deliver_claimed(claimed)
    finally:
        done.set()
        poller.join(timeout=10)

    assert stolen == []
    assert stats.sent == 6
    assert_each_sent_exactly_once(messages, sink)


def test_a_worker_opening_a_new_usage_hour_alongside_another_still_delivers_its_chunk(
    time_machine, account, provider, sink
):
    # Both count the hour's usage of a provider without limits: the second must wait for
    # the first and add to its row, not insert a duplicate and die with an IntegrityError
    # (one_usage_row_per_provider_hour), which would strand its whole chunk in `sending`.
    time_machine.move_to(dt.datetime(2030, 1, 15, 10, 15, tzinfo=dt.UTC), tick=False)
    [message] = enqueue(account, 1)
    hour = dt.datetime(2030, 1, 15, 10, 0, tzinfo=dt.UTC)

    # Another worker, in its own session, is in the middle of limits.acquire() for the same
    # provider: it holds the provider row and has created this hour's usage row, not yet
    # committed.
    other = psycopg.connect(libpq_url())
    try:
        other.execute(
            f"SELECT id FROM {Provider._meta.db_table} WHERE id = %s FOR UPDATE", (provider.pk,)
        )
        other.execute(
            f"INSERT INTO {ProviderUsage._meta.db_table} (provider_id, window_start, count) "
            "VALUES (%s, %s, 1)",
            (provider.pk, hour),
        )
        errors: list[Exception] = []
        stats: list[queue.QueueStats] = []
        worker = threading.Thread(target=_thread_worker, args=(threading.Barrier(1), stats, errors))
        worker.start()
        _wait_until_a_session_waits_on_a_lock()
        other.commit()
        worker.join(timeout=30)
    finally:
        other.close()

    assert errors == []
    assert [r.message["Message-ID"] for r in sink.received] == [message.message_id]
    assert Message.objects.get(pk=message.pk).status == Message.Status.SENT
    assert ProviderUsage.objects.get(provider=provider, window_start=hour).count == 2


def libpq_url() -> str:
    return database_url().replace("postgres://", "postgresql://", 1)


def _wait_until_a_session_waits_on_a_lock(timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq_url(), autocommit=True) as probe:
        while time.monotonic() < deadline:
            row = probe.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the worker never waited for the other session")
