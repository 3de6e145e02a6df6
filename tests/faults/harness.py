"""Helpers of the fault suites: a queue database every process reaches, worker processes,
and the figures the suites print.

Workers are real `manage.py process_mail_queue` processes. They need a database they can
all open: the PostgreSQL test database, or on SQLite a migrated file of the test's own
(copied from a template migrated once per session), which no other test or test run
touches. Either way the test process reads the results with plain SQL (sqlite3 / psycopg),
never through its own Django connection.
"""

import datetime as dt
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psycopg

from tests.faults.fault_sink import ROOT, FaultRecord
from tests.processes import worker_env

# The worker's summary line (one per chunk with --loop, after the log line's timestamp);
# anything after "in 0.12s" is free.
SUMMARY = re.compile(
    r"\bclaimed (\d+), sent (\d+), retried (\d+), failed (\d+), deferred (\d+) in \d+\.\d+s\b"
)
MESSAGE_TABLE = "api_message"
EVENT_TABLE = "api_messageevent"
USAGE_TABLE = "providers_providerusage"


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@dataclass
class QueueDb:
    """The database the worker processes share."""

    url: str
    sqlite_path: Path | None = None

    @property
    def vendor(self) -> str:
        return "sqlite" if self.sqlite_path else "postgresql"

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.sqlite_path is not None:
            with sqlite3.connect(self.sqlite_path, timeout=30) as conn:
                rows = conn.execute(sql, params).fetchall()
            conn.close()
            return rows
        libpq = self.url.replace("postgres://", "postgresql://", 1)
        with psycopg.connect(libpq, autocommit=True, connect_timeout=5) as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()

    def statuses(self) -> Counter:
        return Counter(
            dict(self.query(f"SELECT status, count(*) FROM {MESSAGE_TABLE} GROUP BY status"))
        )

    def unfinished(self) -> int:
        s = self.statuses()
        return s["queued"] + s["sending"]

    def due_or_sending(self) -> int:
        """Messages a worker has to do something about now: sending (claimed, or waiting for
        a dead worker's lease), or queued and due. Future retries and deferrals are not."""
        now = dt.datetime.now(dt.UTC)
        # Django stores SQLite datetimes as naive UTC text, which compares as text.
        param = now.replace(tzinfo=None).isoformat(" ") if self.sqlite_path else now
        return self.query(
            f"SELECT count(*) FROM {MESSAGE_TABLE} WHERE status = 'sending' "
            "OR (status = 'queued' AND next_attempt_at <= ?)",
            (param,),
        )[0][0]

    def provider_usage(self) -> int:
        """What the providers' limit counters say was sent, over all windows."""
        return self.query(f"SELECT coalesce(sum(count), 0) FROM {USAGE_TABLE}")[0][0]

    def message_ids(self) -> set[str]:
        return {mid for (mid,) in self.query(f"SELECT message_id FROM {MESSAGE_TABLE}")}

    def still_claimed(self) -> int:
        return self.query(f"SELECT count(*) FROM {MESSAGE_TABLE} WHERE claim_token IS NOT NULL")[0][
            0
        ]

    def deferred_events(self) -> int:
        return self.query(f"SELECT count(*) FROM {EVENT_TABLE} WHERE event_type = 'deferred'")[0][0]

    def env(self, **extra: str) -> dict[str, str]:
        return worker_env(self.url, **extra)

    def manage(self, *args: str, timeout: float = 120, **env: str) -> str:
        """Run a manage.py command against this database; its stdout, or an AssertionError."""
        return run_checked([sys.executable, "manage.py", *args], self.env(**env), timeout)

    def seed(
        self, *, port: int, messages: int, timeout: int = 5, **provider: int | str | None
    ) -> None:
        """A user, account, default provider at 127.0.0.1:`port` and `messages` queued.
        `provider`: hourly_limit, max_in_flight, max_per_second, webhook_url (seed_queue)."""
        options = [
            f"--{name.replace('_', '-')}={value}"
            for name, value in provider.items()
            if value is not None
        ]
        out = run_checked(
            [
                *(sys.executable, "-m", "tests.faults.seed_queue", "--port", str(port)),
                *("--messages", str(messages), "--timeout", str(timeout), *options),
            ],
            self.env(),
            timeout=120,
        )
        assert "SEEDED" in out, out


def run_checked(cmd: list[str], env: dict[str, str], timeout: float) -> str:
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@dataclass
class Worker:
    """One `manage.py process_mail_queue` process; output goes to files (never a full pipe)."""

    name: str
    proc: subprocess.Popen
    stdout_path: Path
    stderr_path: Path
    started: float = field(default_factory=time.monotonic)
    _files: tuple[IO, IO] | None = None

    @classmethod
    def spawn(cls, db: QueueDb, workdir: Path, name: str, *args: str, **env: str) -> "Worker":
        out_path, err_path = workdir / f"{name}.out", workdir / f"{name}.err"
        out, err = open(out_path, "w"), open(err_path, "w")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "process_mail_queue", *args],
            cwd=ROOT,
            env=db.env(**env),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
        return cls(name, proc, out_path, err_path, _files=(out, err))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.proc.pid, signum)

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.returncode is not None:
                self._close()

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (finish the chunk in hand), then wait."""
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self._files:
            for f in self._files:
                f.close()
            self._files = None

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def totals(self) -> Counter:
        """The worker's summary lines added up: claimed, sent, retried, failed, deferred."""
        total: Counter = Counter()
        for line in self.stdout.splitlines():
            m = SUMMARY.search(line)
            if m:
                for key, value in zip(
                    ("claimed", "sent", "retried", "failed", "deferred"), m.groups(), strict=True
                ):
                    total[key] += int(value)
        return total


def duplicates(record: FaultRecord) -> int:
    """Extra copies the sink accepted: sum over Message-IDs of (times accepted - 1)."""
    return sum(n - 1 for n in record.accepted().values() if n > 1)


def lost(db: QueueDb, record: FaultRecord) -> set[str]:
    """Message-IDs of the database that the sink never accepted."""
    return db.message_ids() - set(record.accepted())


def figures(title: str, **values: object) -> None:
    """One line of figures per suite (run pytest with -s or -rA to see them)."""
    shown = ", ".join(
        f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )
    print(f"\n[faults] {title}: {shown}", flush=True)
