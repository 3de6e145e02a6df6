"""Fixtures of the fault suites: fault-injecting SMTP sinks (in this process or in their own),
a queue database every worker process reaches, a worker pool that never outlives a test,
and the random seed of the run."""

import logging
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.faults.fault_sink import FaultSink, FaultSinkProcess
from tests.faults.harness import QueueDb, Worker
from tests.processes import database_url


@pytest.fixture
def fault_sink() -> Iterator[FaultSink]:
    """The fault sink in a thread of this process: for tests that deliver in-process."""
    mail_log = logging.getLogger("mail.log")  # aiosmtpd logs every SMTP command at INFO
    level = mail_log.level
    mail_log.setLevel(logging.WARNING)
    sink = FaultSink().start()
    yield sink
    sink.stop()
    mail_log.setLevel(level)


@pytest.fixture
def sink_process(tmp_path: Path) -> Iterator[FaultSinkProcess]:
    """The fault sink as its own process, recording to a file: for worker subprocesses."""
    sink = FaultSinkProcess(tmp_path).start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    QueueDb(url=f"sqlite:///{path}", sqlite_path=path).manage("migrate", "--noinput", "-v", "0")
    return path


@pytest.fixture
def queue_db(request: pytest.FixtureRequest, tmp_path: Path) -> QueueDb:
    """A database the worker subprocesses share.

    PostgreSQL: the test database; the test must be marked django_db(transaction=True),
    so rows are committed (and flushed afterwards). SQLite: a migrated file of the test's
    own, so workers never share a database with other test runs.
    """
    if connection.vendor == "postgresql":
        marker = request.node.get_closest_marker("django_db")
        assert marker and marker.kwargs.get("transaction"), "mark django_db(transaction=True)"
        return QueueDb(url=database_url(connection.settings_dict))
    template = request.getfixturevalue("_sqlite_template")
    path = tmp_path / "queue.sqlite3"
    shutil.copyfile(template, path)
    return QueueDb(url=f"sqlite:///{path}", sqlite_path=path)


class WorkerPool:
    def __init__(self, db: QueueDb, workdir: Path) -> None:
        self.db = db
        self.workdir = workdir
        self.spawned: list[Worker] = []

    def spawn(self, *args: str, **env: str) -> Worker:
        worker = Worker.spawn(
            self.db, self.workdir, f"worker-{len(self.spawned) + 1}", *args, **env
        )
        self.spawned.append(worker)
        return worker

    def kill_all(self) -> None:
        for worker in self.spawned:
            worker.kill()


@pytest.fixture
def workers(queue_db: QueueDb, tmp_path: Path) -> Iterator[WorkerPool]:
    """Spawns worker processes on queue_db; whatever still runs is killed afterwards
    (before the test database is flushed)."""
    pool = WorkerPool(queue_db, tmp_path)
    yield pool
    pool.kill_all()


@pytest.fixture
def fault_seed() -> int:
    """The random seed of a suite: FAULT_SEED from the environment, else a fresh one."""
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\nseed={seed} (rerun with FAULT_SEED={seed})", flush=True)
    return seed
