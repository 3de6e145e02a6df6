"""Suite 4 (PostgreSQL): the database goes away in the middle of a drain.

The suite starts a throwaway PostgreSQL cluster of its own (bin/pg-test-cluster), so it
can stop and start the server: it migrates and seeds it, lets a `process_mail_queue --loop`
worker drain 1,000 messages, stops the server (`pg_ctl stop -m fast`: every session is
cut) after a fifth of them went out, waits two seconds, starts it again and waits for the
queue to empty. The worker must ride out the outage or exit cleanly (a fresh worker then
finishes); either way no message may be lost or left `sending`, and at most the one
message in flight on each connection when the database vanished may go out twice.

Just before the server stops, the sink turns slow for a moment, so the outage surely lands
in the middle of a chunk (messages in flight, the rest claimed). The provider's limit
counter must then still say what the provider really accepted.

The scenario runs once per module; the tests below each check one part of the outcome.
"""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.fault_sink import ROOT, FaultRecord, FaultSinkProcess, free_port
from tests.faults.harness import QueueDb, Worker, duplicates, figures, lost, wait_until

pytestmark = pytest.mark.postgres_only

MESSAGES = 1000
STOP_AFTER = 200  # messages accepted by the sink before the database goes away
OUTAGE_SECONDS = 2
CONNECTIONS = 16  # the most the worker has in flight to the sink (the default is 64)
WORKER_ENV = {
    "MAILPASS_QUEUE_LEASE_SECONDS": "3",
    "MAILPASS_QUEUE_POLL_SECONDS": "1",
    "MAILPASS_QUEUE_CONNECTIONS": str(CONNECTIONS),
}


def _pg_bin() -> Path:
    # The same search as bin/pg-test-cluster: initdb on PATH (symlinks resolved), else
    # the highest /usr/lib/postgresql/N/bin.
    for tool in ("initdb", "pg_ctl"):
        found = shutil.which(tool)
        if found and (Path(os.path.realpath(found)).parent / "pg_ctl").exists():
            return Path(os.path.realpath(found)).parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()],
    )
    if candidates and (candidates[-1] / "pg_ctl").exists():
        return candidates[-1]
    raise RuntimeError("pg_ctl not found")


class PgCluster:
    """A throwaway cluster from bin/pg-test-cluster, plus stop/start of its server."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mailpass-pg.", dir="/tmp"))
        self.port = free_port()
        self.url = ""

    def create(self) -> "PgCluster":
        # The port was free when picked but another process may take it first: retry, as
        # bin/test-all does.
        for _ in range(3):
            proc = subprocess.run(
                [str(ROOT / "bin" / "pg-test-cluster"), "start", str(self.dir), str(self.port)],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            if proc.returncode == 0:
                self.url = proc.stdout.strip()
                return self
            self.destroy()
            self.dir = Path(tempfile.mkdtemp(prefix="mailpass-pg.", dir="/tmp"))
            self.port = free_port()
        raise AssertionError(f"could not start a PostgreSQL cluster: {proc.stderr}")

    def destroy(self) -> None:
        subprocess.run(
            [str(ROOT / "bin" / "pg-test-cluster"), "stop", str(self.dir)],
            capture_output=True,
            timeout=120,
            check=False,
        )

    @property
    def home(self) -> Path:
        moved = self.dir / "cluster-home"
        return Path(moved.read_text().strip()) if moved.exists() else self.dir

    def _pg_ctl(self, *args: str) -> None:
        cmd = [str(_pg_bin() / "pg_ctl"), *args]
        if os.geteuid() == 0:  # the server belongs to the postgres user, as in the script
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, cwd="/", capture_output=True, text=True, timeout=90, check=False)
        assert proc.returncode == 0, f"{cmd}: {proc.stdout}{proc.stderr}"

    def stop_server(self) -> None:
        self._pg_ctl("stop", "-D", str(self.home / "data"), "-m", "fast", "-w", "-t", "30")

    def start_server(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.home} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._pg_ctl(
            "start", "-w", "-t", "60", "-D", str(self.home / "data"),
            "-l", str(self.home / "log"), "-o", options,
        )  # fmt: skip


@dataclass
class Outage:
    db: QueueDb
    record: FaultRecord
    # "survived": still running after the outage and emptied the queue itself;
    # "exited": left on its own (a fresh worker finished); "stuck": neither, within 60 s.
    worker_outcome: str
    worker_exit: int | None  # on SIGTERM at the end, or on its own; None: ignored SIGTERM
    worker_stderr: str
    seconds: float
    recovery_seconds: float  # from the restart until the queue was empty
    usage_counted: int  # what the provider's limit counter says was sent


def _drain(db: QueueDb, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if db.unfinished() == 0:
                return True
        except Exception:  # noqa: BLE001 - the database may still be coming back
            pass
        time.sleep(0.25)
    return False


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    workdir = tmp_path_factory.mktemp("db-outage")
    cluster = PgCluster()
    sink = FaultSinkProcess(workdir)
    spawned: list[Worker] = []
    try:
        cluster.create()
        db = QueueDb(url=cluster.url)
        db.manage("migrate", "--noinput", "-v", "0")
        sink.start()
        sink.set_faults(delay=0.005)  # a drain of several seconds: the outage lands mid-way
        db.seed(port=sink.port, messages=MESSAGES)
        started = time.monotonic()

        worker = Worker.spawn(db, workdir, "worker", "--loop", "--batch-size", "20", **WORKER_ENV)
        spawned.append(worker)
        wait_until(
            lambda: len(sink.record.accepted()) >= STOP_AFTER, timeout=60, what="the drain to start"
        )
        # A slow relay for a moment, so the database surely vanishes in the middle of a chunk
        # (a message in flight, the rest of the chunk claimed), not between two chunks.
        sink.set_faults(delay=1.0)
        time.sleep(1.5)
        cluster.stop_server()
        sink.set_faults(delay=0.005)
        time.sleep(OUTAGE_SECONDS)
        cluster.start_server()
        restarted = time.monotonic()

        emptied = False
        deadline = time.monotonic() + 60
        while worker.alive() and time.monotonic() < deadline:
            if _drain(db, timeout=0.5):
                emptied = True
                break
        if not worker.alive():
            worker_outcome = "exited"
        else:
            worker_outcome = "survived" if emptied else "stuck"
        try:
            worker_exit: int | None = worker.stop(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()  # deaf to SIGTERM: reported as such below
            worker_exit = None
        if worker_outcome != "survived":
            fresh = Worker.spawn(db, workdir, "fresh", "--loop", "--batch-size", "20", **WORKER_ENV)
            spawned.append(fresh)
            assert _drain(db, timeout=60), "a fresh worker could not empty the queue either"
            assert fresh.stop(timeout=30) == 0, fresh.stderr
        recovery = time.monotonic() - restarted

        yield Outage(
            db=db,
            record=sink.record,
            worker_outcome=worker_outcome,
            worker_exit=worker_exit,
            worker_stderr=worker.stderr,
            seconds=time.monotonic() - started,
            recovery_seconds=recovery,
            usage_counted=db.provider_usage(),
        )
    finally:
        for w in spawned:
            w.kill()
        sink.stop()
        cluster.destroy()


def test_a_database_outage_mid_drain_loses_nothing_and_leaves_nothing_sending(outage):
    figures(
        "database outage (postgresql)",
        messages=MESSAGES,
        outage_seconds=OUTAGE_SECONDS,
        worker=outage.worker_outcome,
        worker_exit=outage.worker_exit,
        lost=len(lost(outage.db, outage.record)),
        duplicates=duplicates(outage.record),
        accepted_by_sink=sum(outage.record.accepted().values()),
        usage_counted=outage.usage_counted,
        recovery_seconds=outage.recovery_seconds,
        seconds=outage.seconds,
    )
    assert lost(outage.db, outage.record) == set()
    # Only the messages in flight (one per connection) when it vanished.
    assert duplicates(outage.record) <= CONNECTIONS
    assert outage.db.statuses() == {"sent": MESSAGES}
    assert outage.db.still_claimed() == 0


def test_the_loop_worker_rides_out_a_database_outage_or_exits_cleanly(outage):
    assert "Traceback" not in outage.worker_stderr, outage.worker_stderr
    assert outage.worker_outcome in ("survived", "exited"), outage.worker_stderr
    if outage.worker_outcome == "survived":
        assert outage.worker_exit == 0, outage.worker_stderr  # SIGTERM at the end


def test_a_database_outage_leaves_no_unused_capacity_counted_against_the_provider(outage):
    # ProviderUsage is "how many messages a provider accepted". It must never count more
    # than the sink accepted, or a limit would hold mail back that it has room for. (This
    # provider has no limits, so what an outage keeps from being counted is only a figure.)
    assert outage.usage_counted <= sum(outage.record.accepted().values())
