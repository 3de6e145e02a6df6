"""What a bench measures against: all on 127.0.0.1, all thrown away at exit.

A throwaway PostgreSQL cluster (bin/pg-test-cluster), the settings every bench process runs
with, the three SMTP sinks (bench/sink.py: near, answering DATA late, and far away), the fake
ESP API (bench/esp_fake.py), the webhook receiver (bench/webhook_receiver.py), gunicorn for
the HTTP rows and the child processes the measurements start. Whatever starts registers its
stop with a Cleanup first, so Ctrl-C or SIGTERM at any moment leaves nothing running.
bench/dashboard.py uses the cluster, the settings and the cleanup as well.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sink as sinkmod
from esp_fake import EspFakeProcess
from fixtures import BenchData
from webhook_receiver import WebhookReceiverProcess

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PY = sys.executable
MANAGE = str(ROOT / "manage.py")
RESULTS_DIR = BENCH_DIR / "results"
PG_TEST_CLUSTER = str(ROOT / "bin" / "pg-test-cluster")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cleanup:
    """Things to undo at exit, last registered first; each runs once, errors reported."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[], None]]] = []

    def push(self, name: str, step: Callable[[], None]) -> None:
        self.steps.append((name, step))

    def run(self) -> None:
        while self.steps:
            name, step = self.steps.pop()
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - cleanup must go on
                print(f"bench: warning: cleanup '{name}' failed: {exc}", file=sys.stderr)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def exit_on_signals() -> None:
    """SIGTERM and SIGHUP end the run the way Ctrl-C does: through the cleanup."""
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGHUP, _raise_exit)


def shut_down(cleanup: Cleanup) -> None:
    """Close this process's database connections (the cluster is about to go), then clean up."""
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()
    cleanup.run()


# --- PostgreSQL and the settings --------------------------------------------------------


@dataclass(frozen=True)
class PostgresCluster:
    url: str
    directory: Path

    def postmaster_pid(self) -> int:
        home = self.directory
        if (home / "cluster-home").exists():
            home = Path((home / "cluster-home").read_text().strip())
        return int((home / "data" / "postmaster.pid").read_text().split()[0])


def start_postgres(cleanup: Cleanup, prefix: str = "mailpass-bench-pg.") -> PostgresCluster:
    """Start a throwaway cluster on a free port, trying three times (another process may take
    the port between our choosing it and PostgreSQL binding it)."""
    errors = []
    for attempt in (1, 2, 3):
        directory = tempfile.mkdtemp(prefix=prefix)

        def stop(d: str = directory) -> None:
            # Safe on a half-started or never-started cluster; removes the directory.
            subprocess.run(
                [PG_TEST_CLUSTER, "stop", d],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )

        # Registered before the start, so an interrupt in the middle still stops it.
        cleanup.push("postgres", stop)
        result = subprocess.run(
            [PG_TEST_CLUSTER, "start", directory, str(free_port())],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0:
            return PostgresCluster(url=result.stdout.strip(), directory=Path(directory))
        errors.append(result.stderr)
        log(f"PostgreSQL did not start (attempt {attempt})")
    sys.stderr.write("".join(errors))
    raise RuntimeError("could not start a throwaway PostgreSQL cluster")


def settings_env(db_url: str, *, allowed_hosts: str) -> dict[str, str]:
    """This process's environment without DEBUG, plus the settings of every bench process."""
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="mailpass.settings",
        # A fresh key each run: the settings refuse a weak one when DEBUG is off.
        SECRET_KEY=secrets.token_urlsafe(50),
        MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS="1",  # the providers point at 127.0.0.1
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS=allowed_hosts,
    )
    return env


def setup_django(env: dict[str, str]) -> None:
    """Run Django in this process with `env` as its environment."""
    os.environ.update(env)
    os.environ.pop("DEBUG", None)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    import django

    django.setup()


# --- one run's world --------------------------------------------------------------------


class Environment:
    """PostgreSQL with a migrated database and the bench's data, three sinks (one answering
    DATA at once, one after `slow_sink_delay_ms`, one `far_sink_rtt_ms` away), the fake ESP
    API that the bench's Postmark and SES providers call, the receiver that the webhook rows'
    endpoints point at, Django in this process, gunicorn
    once start_gunicorn() is called, and every child process: all stopped by `cleanup`."""

    def __init__(
        self, cleanup: Cleanup, *, slow_sink_delay_ms: float, far_sink_rtt_ms: float = 20.0
    ) -> None:
        self.cleanup = cleanup
        self.slow_sink_delay_ms = slow_sink_delay_ms
        self.far_sink_rtt_ms = far_sink_rtt_ms
        self.workdir = Path(tempfile.mkdtemp(prefix="mailpass-bench."))
        cleanup.push("workdir", lambda: shutil.rmtree(self.workdir, ignore_errors=True))
        self.children: list[subprocess.Popen] = []
        cleanup.push("child processes", self._kill_children)
        self._conn: http.client.HTTPConnection | None = None

    def start(self) -> None:
        t0 = time.perf_counter()
        log("starting PostgreSQL")
        self.postgres = start_postgres(self.cleanup)
        self.postmaster = self.postgres.postmaster_pid()
        self.env = settings_env(self.postgres.url, allowed_hosts="127.0.0.1")
        # Measuring throughput, not the throttles (1200 requests/min per key and 3000 per
        # account by default, which a bench passes in seconds) nor the account's daily quota
        # (10,000 recipients by default; a full run accepts ~35,000). Both still run on
        # every request: the throttles with a rate never reached, the quota with 0 (none).
        for name, unlimited in (
            ("MAILPASS_API_RATE_LIMIT", "10000000/min"),
            ("MAILPASS_ACCOUNT_RATE_LIMIT", "10000000/min"),
            ("MAILPASS_ACCOUNT_DAILY_RECIPIENTS", "0"),
            ("MAILPASS_ACCOUNT_DAILY_BYTES", "0"),
        ):
            self.env[name] = os.environ.get(name, unlimited)
        self.env["MAILPASS_SMTP_PORTS"] = "*"  # the sinks listen on free ports

        log("starting the SMTP sinks")
        self.sink = sinkmod.SinkProcess(delay_ms=0).start()
        self.cleanup.push("sink", self.sink.stop)
        self.slow_sink = sinkmod.SinkProcess(delay_ms=self.slow_sink_delay_ms).start()
        self.cleanup.push("slow sink", self.slow_sink.stop)
        self.far_sink = sinkmod.SinkProcess(rtt_ms=self.far_sink_rtt_ms).start()
        self.cleanup.push("far sink", self.far_sink.stop)
        self.esp = EspFakeProcess().start()
        self.cleanup.push("fake ESP API", self.esp.stop)
        self.receiver = WebhookReceiverProcess().start()
        self.cleanup.push("webhook receiver", self.receiver.stop)
        self._point_esps_at_the_fake()

        log("migrating a fresh database")
        subprocess.run(
            [PY, MANAGE, "migrate", "--noinput", "-v", "0"], env=self.env, cwd=ROOT, check=True
        )
        setup_django(self.env)
        self.data = BenchData(sink_port=self.sink.port)
        self._check_esps_call_the_fake()
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            self.pg_version = cur.fetchone()[0]
        log(f"setup done in {time.perf_counter() - t0:.1f}s")

    def _point_esps_at_the_fake(self) -> None:
        """Every process of the bench sends the Postmark and SES providers' calls to the fake,
        directly: no proxy, no AWS settings or metadata service from this machine."""
        for name in [k for k in self.env if k.startswith("AWS_") or k.lower().endswith("_proxy")]:
            del self.env[name]
        self.env.update(
            MAILPASS_ESP_API_URLS=f"postmark={self.esp.url},amazon_ses={self.esp.url}",
            AWS_EC2_METADATA_DISABLED="true",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )

    def _check_esps_call_the_fake(self) -> None:
        """Refuse to go on unless both ESP providers resolve to the fake on 127.0.0.1."""
        from providers.connections import api_url_for

        for kind, provider in self.data.esp_providers.items():
            url = api_url_for(provider)
            if url != self.esp.url:
                raise RuntimeError(f"the bench's {kind} provider would call {url}, not the fake")

    # -- child processes

    def popen(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, **kwargs)
        self.children.append(proc)
        return proc

    def _kill_children(self) -> None:
        for proc in self.children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    # -- gunicorn

    def start_gunicorn(self, workers: int) -> None:
        self.http_port = free_port()
        gunicorn = str(Path(PY).parent / "gunicorn")
        err = open(self.workdir / "gunicorn.log", "w")
        self.gunicorn = self.popen(
            [
                gunicorn,
                "mailpass.wsgi",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{self.http_port}",
                "--timeout",
                "120",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=err,
            stderr=err,
        )
        self.cleanup.push("gunicorn", self._stop_gunicorn)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.gunicorn.poll() is not None:
                raise RuntimeError(
                    "gunicorn exited: " + (self.workdir / "gunicorn.log").read_text()
                )
            with contextlib.suppress(OSError):
                status, _ = self.http("GET", "/api/v1/mail/status/nope@bench")
                if status == 404:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not answer within 60 s")
        # Warm both workers (imports, DB connections) before anything is timed.
        for _ in range(20):
            self.http("GET", "/api/v1/mail/status/nope@bench")

    def _stop_gunicorn(self) -> None:
        sinkmod.stop_process(self.gunicorn, timeout=30)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.data.secret}", "Content-Type": "application/json"}

    def http(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """One request to gunicorn as the bench's API key, over a kept-alive connection."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=60)
        try:
            self._conn.request(method, path, body=body, headers=self.headers())
            response = self._conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            raise
