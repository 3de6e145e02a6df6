"""Several hosts, one database: two web servers and three mail workers share PostgreSQL
and Redis, as an operator runs them on separate machines.

20,000 messages from four accounts come in through both web servers (batches of 100,
alternating), while three `process_mail_queue --loop` processes drain the queue. Early on
one worker is killed (SIGKILL, a machine dying) and another started. Then:
- every message was delivered, none lost, every one `sent`; the only second copies are
  messages the killed worker had in flight (at-least-once, bounded by its connections);
- the fourth account, which starts sending while the first three have a backlog of
  thousands, is served at once rather than after that backlog (the queue's fairness);
- the fourth account's provider, capped at 4 connections, never had more open at once
  across all workers.
"""

import json
import os
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import factories
from tests.faults.fault_sink import FaultSinkProcess
from tests.faults.harness import duplicates, figures, wait_until
from tests.processes import WebServer, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

MESSAGES = int(os.environ.get("SCALE_OUT_MESSAGES", "20000"))
ACCOUNTS = 4
PER_ACCOUNT = MESSAGES // ACCOUNTS
BATCH = 100
CAP = 4  # the fourth account's provider: connections open at once, all workers together
CONNECTIONS = 8  # per worker and provider: bounds what a killed worker had in flight
WORKER_ENV = {
    "MAILPASS_QUEUE_LEASE_SECONDS": "3",
    "MAILPASS_PROVIDER_SLOT_LEASE_SECONDS": "3",
    "MAILPASS_QUEUE_POLL_SECONDS": "1",
    "MAILPASS_QUEUE_CONNECTIONS": str(CONNECTIONS),
}


def post_batches(hosts: list[WebServer], key: str, account: int) -> list[int]:
    statuses = []
    for number in range(PER_ACCOUNT // BATCH):
        items = [
            {
                "from_email": f"shop{account}@example.com",
                "to": f"a{account}-{number * BATCH + i}@example.org",
                "subject": "Your receipt",
                "text": "Thank you.",
            }
            for i in range(BATCH)
        ]
        request = urllib.request.Request(
            f"{hosts[number % 2].url}/api/v1/mail/send-batch",
            data=json.dumps({"messages": items}).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            body = json.loads(answer.read())
            statuses.append(body["data"]["queued"])
    return statuses


def accepted_times(record) -> list[float]:
    pairs = zip(record.lines, record.times, strict=True)
    return sorted(moment for (disposition, _, _), moment in pairs if disposition == "250")


def account_of(rcpts: str) -> int:
    return int(rcpts.split("-", 1)[0][1:])


def test_two_web_servers_and_three_workers_share_one_queue(
    redis_server, test_database_url, queue_db, workers, tmp_path
):
    for name in ("busy", "capped"):
        (tmp_path / name).mkdir()
    busy = FaultSinkProcess(tmp_path / "busy").start()  # the first three accounts' relay
    capped = FaultSinkProcess(tmp_path / "capped").start()  # the fourth's, capped
    capped.set_faults(delay=0.005)  # slow enough that workers would open more than CAP
    keys = []
    for number in range(1, ACCOUNTS + 1):
        account = factories.make_account(factories.make_user(f"tenant{number}"))
        sink, cap = (capped, CAP) if number == ACCOUNTS else (busy, None)
        factories.make_provider(account, port=sink.port, max_in_flight=cap)
        keys.append(factories.make_api_key(account)[1])
    env = worker_env(test_database_url, MAILPASS_CACHE_URL=redis_server.url)
    hosts = [
        WebServer(env, "-w", "2", "--threads", "8", log_path=str(tmp_path / f"web{n}.log"))
        for n in (1, 2)
    ]
    try:
        started = time.monotonic()
        drainers = [workers.spawn("--loop", **WORKER_ENV) for _ in range(3)]
        with ThreadPoolExecutor(ACCOUNTS) as clients:
            first = [
                clients.submit(post_batches, hosts, keys[n], n + 1) for n in range(ACCOUNTS - 1)
            ]
            # A machine dies mid-run; another takes its place.
            wait_until(lambda: len(busy.record.lines) >= MESSAGES // 8, timeout=120)
            drainers[0].kill()
            drainers.append(workers.spawn("--loop", **WORKER_ENV))
            # Then the fourth account starts, while the others have thousands waiting.
            wait_until(lambda: len(busy.record.lines) >= MESSAGES // 4, timeout=120)
            backlog_when_fourth_started = queue_db.statuses()["queued"]
            fourth = clients.submit(post_batches, hosts, keys[-1], ACCOUNTS)
            queued = [sum(f.result()) for f in first] + [sum(fourth.result())]
        ingested = time.monotonic() - started

        wait_until(lambda: queue_db.statuses() == {"sent": MESSAGES}, timeout=240, interval=0.5)
        seconds = time.monotonic() - started
        for drainer in drainers[1:]:
            assert drainer.stop(timeout=60) == 0, drainer.stderr
    finally:
        for host in hosts:
            host.stop()
        busy_record, capped_record = busy.record, capped.record
        busy.stop()
        capped.stop()

    assert queued == [PER_ACCOUNT] * ACCOUNTS
    accepted = busy_record.accepted() + capped_record.accepted()
    assert set(accepted) == queue_db.message_ids()  # nothing lost
    extra = duplicates(busy_record) + duplicates(capped_record)
    assert extra <= 2 * CONNECTIONS  # what the killed worker had in flight, at most

    # Fairness: the fourth account's first message left while most of the backlog waited.
    busy_times = accepted_times(busy_record)
    fourth_first = min(accepted_times(capped_record))
    others_before = sum(1 for moment in busy_times if moment < fourth_first)
    assert others_before < len(busy_times) - backlog_when_fourth_started // 2

    peak = capped.peak_sessions()
    assert 1 <= peak <= CAP
    per_account = Counter(account_of(rcpts) for d, _, rcpts in busy_record.lines if d == "250")
    assert all(per_account[n] >= PER_ACCOUNT for n in range(1, ACCOUNTS))
    figures(
        "scale-out: 2 web servers, 3 workers (one killed, one started), PostgreSQL + Redis",
        messages=MESSAGES,
        seconds=seconds,
        ingest_seconds=ingested,
        msgs_per_s=MESSAGES / seconds,
        duplicates=extra,
        capped_peak=peak,
        backlog_when_fourth_started=backlog_when_fourth_started,
        others_sent_before_fourths_first=others_before,
        busy_span=busy_times[-1] - busy_times[0],
        capped_span=max(accepted_times(capped_record)) - fourth_first,
    )
