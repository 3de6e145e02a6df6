"""Retention at scale: `purge_messages` deleting a million messages past their retention
(two events each) while a mail worker drains beside it. Measured once per run, after the
reps: the rows take a while to insert.

Rows: the purge's messages per second, and a 1-worker drain's rate during the purge next
to the same drain before it (target: no more than 20% slower, i.e. >= 0.8x).
"""

from __future__ import annotations

import statistics
import subprocess
import time

from environment import MANAGE, PY, ROOT, Environment, log
from measurements import VerificationError, drain
from probes import settle
from report import Results

AGE_DAYS = 60  # past the 30-day default


def seed_old_messages(env: Environment, rows: int) -> None:
    """`rows` sent messages created AGE_DAYS ago, with a `sent` and a `delivered` event each;
    kept out of the other measurements' way (below base_id)."""
    from django.db import connection

    data = env.data
    first = data.base_id
    data.insert_copies(rows, sent=True)
    with connection.cursor() as cur:
        cur.execute(f'SELECT max(id) FROM "{data.table}"')
        last = cur.fetchone()[0]
        cur.execute(
            f"UPDATE \"{data.table}\" SET created_at = now() - %s * interval '1 day', "
            "queued_at = now() - %s * interval '1 day' WHERE id > %s AND id <= %s",
            [AGE_DAYS, AGE_DAYS, first, last],
        )
        for event in ("sent", "delivered"):
            cur.execute(
                "INSERT INTO api_messageevent (account_id, message_id, event_type, user_agent, "
                "url, description, provider_event_id, created_at) "
                "SELECT account_id, id, %s, '', '', '', '', created_at "
                f'FROM "{data.table}" WHERE id > %s AND id <= %s',
                [event, first, last],
            )
    data.base_id = last  # the drains' clear_new_rows() leaves them alone
    data.vacuum()


def retention(env: Environment, results: Results, *, rows: int, drain_messages: int) -> None:
    log(f"retention: inserting {rows:,} messages {AGE_DAYS} days old, 2 events each")
    t0 = time.perf_counter()
    seed_old_messages(env, rows)
    log(f"  inserted in {time.perf_counter() - t0:.0f}s")
    alone = [drain(env, results, 1, env.sink, drain_messages) for _ in range(3)]
    settle()
    purge = subprocess.Popen(
        [PY, MANAGE, "purge_messages", "--days", "30"],
        env=env.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.perf_counter()
    beside: list[float] = []
    while purge.poll() is None and len(beside) < 5:
        beside.append(drain(env, results, 1, env.sink, drain_messages))
    out, err = purge.communicate(timeout=3600)
    seconds = time.perf_counter() - started
    if purge.returncode != 0 or f"Deleted {rows} message(s)" not in out:
        raise VerificationError(f"purge_messages: exit {purge.returncode}: {out} {err[-1000:]}")
    if not beside:
        raise VerificationError("the purge ended before a drain could run beside it")
    results.record("purge", rows / seconds)
    results.record("purge_seconds", seconds)
    results.record("drain_alone", statistics.median(alone))
    results.record("drain_beside_purge", statistics.median(beside))
    results.record(
        "drain_beside_purge:vs_alone", statistics.median(beside) / statistics.median(alone)
    )
    results.notes["retention"] = f"{len(beside)} drains of {drain_messages:,} during the purge"
    log(
        f"  purge {rows / seconds:,.0f} msg/s ({seconds:.0f}s); drain alone "
        f"{statistics.median(alone):,.0f}, beside the purge {statistics.median(beside):,.0f} msg/s"
    )
