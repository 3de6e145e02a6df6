"""MailPass benchmark suite: the body of `make bench` (a benchmark, not a test).

    make bench                                # the full run (~10-14 min today; less as
                                              # the drain gets faster)
    make bench BENCH_ARGS=--quick             # a smoke run: small counts, 3 reps (~5 min)
    make bench BENCH_ARGS="--skip memory,status --reps 7"   # any subset; --help lists all
    make bench BENCH_ARGS=--profile           # + a CPU profile of one 1-worker drain
                                              # (bench/results/drain-profile.txt)

Everything runs on this machine, on 127.0.0.1 only: a throwaway PostgreSQL cluster
(bin/pg-test-cluster), a fresh migrated database, two minimal SMTP sinks (bench/sink.py,
one answering DATA at once, one after --delay-ms), and gunicorn for the HTTP figures. All
of it is stopped on exit, also on Ctrl-C or SIGTERM.

The machine's speed drifts by up to 2x between minutes, so absolute rates mean little.
Every rate is therefore also given as a ratio to "the limit" -- a plain smtplib loop
sending the same pre-built message over one persistent connection to the same sink --
measured right before and right after it (the ratio uses the mean of the two), and
repetitions are interleaved: rep 1 of every measurement, then rep 2, and so on. The table
shows the median over the reps and the spread (min-max). Before each measurement the bench
waits (up to 2 s) for the machine to go quiet, and it reports how much CPU processes
outside the bench used during the drains: other work on the machine shows up there.

What is measured, per rep:
  limit       smtplib, one connection, N x the same pre-built ~2 KB html+text message
  django      EmailMultiAlternatives + send_messages over one connection (reference)
  drain1/2    N messages queued (bulk SQL copies of a message stored by batch_enqueue),
              then 1 or 2 `manage.py process_mail_queue` processes until they exit;
              msg/s = N / wall time of the processes (start-up included). Verified: every
              message `sent`, the sink got each Message-ID exactly once.
  delay       the same 1-worker drain against a sink answering DATA after --delay-ms,
              next to one smtplib connection to that sink
  ingest      client processes POST /send-batch (100 messages each) to gunicorn
  latency     sequential POST /send next to a bare smtplib transaction on a fresh
              connection (what /send does per request)
  status      GET /status/{id} for random ids among --status-rows sent messages
              (inserted once), plus unknown ids (404) as the baseline of the request
Once, at the end: one worker draining --memory-messages, its RSS sampled from /proc.

Prints one table and writes it to bench/results/latest.txt (raw numbers: latest.json).
Exits non-zero when a measurement could not be verified (e.g. a drain that did not send
every message exactly once); a target that is not met is reported, not an error.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import math
import os
import platform
import random
import re
import resource
import secrets
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import sink as sinkmod  # noqa: E402

PY = sys.executable
MANAGE = str(ROOT / "manage.py")
RESULTS_DIR = BENCH_DIR / "results"

FROM_EMAIL = "bench@example.com"
TO_EMAIL = "recipient@example.com"
SUBJECT = "Your MailPass receipt for order #48213"
TEXT = (
    "Hello Ada,\n\n"
    "Thanks for your order #48213, placed on 21 November. Here is what you bought:\n\n"
    "  1 x Mechanical keyboard (brown switches)        89.00 EUR\n"
    "  2 x USB-C cable, braided, 2 m                   19.80 EUR\n"
    "  1 x Desk mat, grey felt                         24.50 EUR\n"
    "  Shipping (DHL, 2-3 days)                          4.90 EUR\n"
    "  Total                                           138.20 EUR\n\n"
    "We will send you another email with the tracking link once it ships.\n"
    "Questions? Just reply to this message.\n\n"
    "The Example Shop team\n"
)
HTML = (
    '<!doctype html><html><body style="font-family:sans-serif;color:#222">\n'
    '<h1 style="font-size:20px">Thanks for your order, Ada!</h1>\n'
    "<p>Order <strong>#48213</strong>, placed on 21 November.</p>\n"
    '<table style="border-collapse:collapse;width:100%">\n'
    "<tr><td>1 &times; Mechanical keyboard, brown</td><td align=right>89.00 EUR</td></tr>\n"
    "<tr><td>2 &times; USB-C cable, braided, 2&nbsp;m</td><td align=right>19.80 EUR</td></tr>\n"
    "<tr><td>1 &times; Desk mat, grey felt</td><td align=right>24.50 EUR</td></tr>\n"
    "<tr><td>Shipping (DHL, 2&ndash;3 days)</td><td align=right>4.90 EUR</td></tr>\n"
    "<tr><td><strong>Total</strong></td><td align=right><strong>138.20 EUR</strong></td></tr>\n"
    "</table>\n"
    "<p>We will send you another email with the tracking link once it ships.</p>\n"
    '<p><a href="https://shop.example.com/orders/48213">View your order</a> &middot; '
    "questions? Just reply to this message.</p>\n"
    '<p style="color:#888;font-size:12px">The Example Shop team</p>\n'
    "</body></html>\n"
)

# --- small helpers -------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


_TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU used so far by `root`, its reaped children and its live children (one level:
    PostgreSQL's backends under the postmaster, gunicorn's workers under the master)."""
    fields = _stat_fields(root)
    total = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            child = _stat_fields(int(entry.name))
        except OSError:
            continue
        if int(child[1]) == root:  # ppid
            total += int(child[11]) + int(child[12])
    return total / _TICK


def children_cpu_seconds() -> float:
    """CPU of this process's reaped children so far (the drain workers, once they exit)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def vm_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    busy = values[0] + values[1] + values[2] + values[5] + values[6]  # user nice system irq softirq
    return busy, sum(values)


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (user, nice, system, irq)."""
    return _cpu_times()[0] / _TICK


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def settle(max_wait: float = 2.0, busy_below: float = 0.15) -> float:
    """Wait (up to max_wait) until the machine is nearly idle: the previous measurement's
    after-effects (PostgreSQL writing, autovacuum, exiting processes) must not land on the
    next one. Returns the seconds waited."""
    started = time.monotonic()
    while True:
        busy0, total0 = _cpu_times()
        time.sleep(0.2)
        busy1, total1 = _cpu_times()
        fraction = (busy1 - busy0) / max(1, total1 - total0)
        waited = time.monotonic() - started
        if fraction < busy_below or waited >= max_wait:
            return waited


class VerificationError(Exception):
    """A measurement ran but its outcome was wrong: its number must not be used."""


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


# --- configuration -------------------------------------------------------------------

FULL = {
    "reps": 5,
    "limit_messages": 2000,
    "django_messages": 1000,
    "drain_messages": 5000,
    "delay_ms": 2.0,
    "delay_conn_messages": 500,
    "ingest_requests": 60,
    "ingest_clients": 4,
    "gunicorn_workers": 2,
    "latency_requests": 150,
    "status_rows": 1_000_000,
    "status_lookups": 300,
    "memory_messages": 100_000,
    "sink_messages": 20_000,
}
QUICK = {
    **FULL,
    "reps": 3,
    "limit_messages": 1000,
    "django_messages": 300,
    "drain_messages": 1000,
    "delay_conn_messages": 200,
    "ingest_requests": 20,
    "latency_requests": 40,
    "status_rows": 100_000,
    "status_lookups": 100,
    "memory_messages": 20_000,
    "sink_messages": 5_000,
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="MailPass benchmark suite on a throwaway PostgreSQL (see bench/run.py)."
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    for name, default in FULL.items():
        kind = float if isinstance(default, float) else int
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=None,
            help=f"(full: {default}, quick: {QUICK[name]})",
        )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated: django,drain,delay,ingest,latency,status,memory,startup,sink",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run one 1-worker drain under cProfile (bench/results/drain-profile.txt)",
    )
    parser.add_argument("--results", default=str(RESULTS_DIR / "latest.txt"))
    args = parser.parse_args()
    base = QUICK if args.quick else FULL
    for name, default in base.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


# --- the bench --------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, cleanup: Cleanup) -> None:
        self.args = args
        self.cleanup = cleanup
        self.workdir = Path(tempfile.mkdtemp(prefix="mailpass-bench."))
        cleanup.push("workdir", lambda: _rmtree(self.workdir))
        self.values: dict[str, list[float]] = {}  # metric -> one value per rep
        self.errors: list[str] = []
        self.notes: dict[str, str] = {}
        self.children: list[subprocess.Popen] = []
        self.brackets = 0  # measurements with limit samples around them
        self.unsteady = 0  # ... whose two limit samples differ by more than 1.5x
        cleanup.push("child processes", self._kill_children)

    # -- bookkeeping

    def record(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)

    def _kill_children(self) -> None:
        for proc in self.children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def popen(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, **kwargs)
        self.children.append(proc)
        return proc

    # -- infrastructure

    def start_postgres(self) -> str:
        script = str(ROOT / "bin" / "pg-test-cluster")
        pg_log = self.workdir / "pg-test-cluster.log"
        for attempt in (1, 2, 3):
            pg_dir = tempfile.mkdtemp(prefix="mailpass-bench-pg.")
            port = free_port()

            def stop(d: str = pg_dir) -> None:
                # Safe on a half-started or never-started cluster; removes the directory.
                subprocess.run(
                    [script, "stop", d],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )

            # Registered before the start, so an interrupt in the middle still stops it.
            self.cleanup.push("postgres", stop)
            with open(pg_log, "a") as err:
                result = subprocess.run(
                    [script, "start", pg_dir, str(port)],
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                )
            if result.returncode == 0:
                self.pg_dir = Path(pg_dir)
                return result.stdout.strip()
            log(f"PostgreSQL did not start (attempt {attempt})")
        sys.stderr.write(pg_log.read_text())
        raise RuntimeError("could not start a throwaway PostgreSQL cluster")

    def environment(self, db_url: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
        env.update(
            DATABASE_URL=db_url,
            DJANGO_SETTINGS_MODULE="mailpass.settings",
            # A fresh key each run: the settings refuse a weak one when DEBUG is off.
            SECRET_KEY=secrets.token_urlsafe(50),
            MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS="1",
            MAILPASS_SMTP_PORTS="*",  # the sinks listen on free ports
            LOG_LEVEL="WARNING",
            ALLOWED_HOSTS="127.0.0.1",
            # Measuring throughput, not the per-key throttle (1200/min by default, which a
            # bench exceeds in seconds); the throttle still runs on every request.
            MAILPASS_API_RATE_LIMIT=os.environ.get("MAILPASS_API_RATE_LIMIT", "10000000/min"),
        )
        env.pop("DEBUG", None)
        return env

    def setup(self) -> None:
        a = self.args
        t0 = time.perf_counter()
        log("starting PostgreSQL")
        self.db_url = self.start_postgres()
        home = self.pg_dir
        if (home / "cluster-home").exists():
            home = Path((home / "cluster-home").read_text().strip())
        self.postmaster = int((home / "data" / "postmaster.pid").read_text().split()[0])
        self.env = self.environment(self.db_url)
        os.environ.update(self.env)
        os.environ.pop("DEBUG", None)

        log("starting the SMTP sinks")
        self.sink = sinkmod.SinkProcess(delay_ms=0).start()
        self.cleanup.push("sink", self.sink.stop)
        self.slow_sink = sinkmod.SinkProcess(delay_ms=a.delay_ms).start()
        self.cleanup.push("slow sink", self.slow_sink.stop)

        log("migrating a fresh database")
        subprocess.run(
            [PY, MANAGE, "migrate", "--noinput", "-v", "0"], env=self.env, cwd=ROOT, check=True
        )
        import django

        sys.path.insert(0, str(ROOT))
        os.chdir(ROOT)
        django.setup()
        self._fixtures()
        log(f"setup done in {time.perf_counter() - t0:.1f}s")

    def _fixtures(self) -> None:
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.db import connection

        from accounts.services import account_create
        from api.emails import build_email
        from api.models import Message
        from api.serializers import MessageInputSerializer
        from api.services import api_key_create, batch_enqueue
        from providers.services import provider_create

        user = get_user_model().objects.create_user(username="bench", password=None)
        self.account = account_create(owner=user, name="bench")
        self.api_key, self.secret = api_key_create(
            account=self.account, name="bench", created_by=user
        )
        self.provider = provider_create(
            account=self.account,
            name="bench sink",
            host="127.0.0.1",
            port=self.sink.port,
            security="none",
            from_email=FROM_EMAIL,
            from_name="MailPass Bench",
            timeout=25,  # the most MAILPASS_REQUEST_TIMEOUT_SECONDS allows by default
            is_default=True,
        )
        serializer = MessageInputSerializer(
            data={"to": TO_EMAIL, "subject": SUBJECT, "html": HTML, "text": TEXT}
        )
        serializer.is_valid(raise_exception=True)
        [result] = batch_enqueue(
            account=self.account, api_key=self.api_key, items=[serializer.validated_data]
        )
        # The template every bulk-inserted message copies (all columns but the ones set
        # below), so the copies are what the API itself stores. Kept out of the queue.
        self.template = result.message
        Message.objects.filter(pk=self.template.pk).update(
            status=Message.Status.FAILED, error_message="bench template"
        )
        self.message_bytes = build_email(self.template).message().as_bytes(linesep="\r\n")
        self.columns = [f.column for f in Message._meta.concrete_fields if f.column != "id"]
        self.table = Message._meta.db_table
        self.msgid_domain = settings.MAILPASS_MESSAGE_ID_DOMAIN
        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            self.pg_version = cur.fetchone()[0]
        self.base_id = self.template.pk  # rows above it are removed after each measurement

    # -- database helpers

    def insert_copies(self, count: int, *, sent: bool = False, chunk: int = 100_000) -> None:
        """Insert `count` copies of the template: queued and due now, or already sent.

        Sent copies (the status lookups' history) keep the template's subject and columns
        but carry a short body, so that a million of them take ~0.6 GB instead of ~2.2 GB.
        """
        from django.db import connection, transaction

        message_id = (
            "'<' || md5(random()::text || clock_timestamp()::text || g::text) || '.' || "
            f"floor(extract(epoch from now()))::bigint || '@{self.msgid_domain}>'"
        )
        when = "now() - g * interval '1 second'" if sent else "now()"
        overrides = {
            "message_id": message_id,
            "to_email": "'user' || g || '@example.com'",
            "status": "'sent'" if sent else "'queued'",
            "error_message": "NULL",
            "attempts": "1" if sent else "0",
            "next_attempt_at": when,
            "claim_token": "NULL",
            "lease_expires_at": "NULL",
            "provider_message_id": "''",
            "created_at": when,
            "sent_at": when if sent else "NULL",
            "updated_at": when,
        }
        if sent:
            overrides["html"] = "'<p>Thanks for your order #' || g || '.</p>'"
            overrides["text"] = "'Thanks for your order #' || g || '.'"
        cols = ", ".join(f'"{c}"' for c in self.columns)
        exprs = ", ".join(overrides.get(c, f't."{c}"') for c in self.columns)
        done = 0
        while done < count:
            n = min(chunk, count - done)
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(
                    f'INSERT INTO "{self.table}" ({cols}) SELECT {exprs} '
                    f'FROM "{self.table}" t, generate_series(%s, %s) g WHERE t.id = %s',
                    [done + 1, done + n, self.template.pk],
                )
            done += n

    def status_counts(self) -> dict[str, int]:
        from django.db.models import Count

        from api.models import Message

        rows = (
            Message.objects.filter(pk__gt=self.base_id)
            .values_list("status")
            .annotate(n=Count("id"))
        )
        return dict(rows)

    def clear_new_rows(self) -> None:
        """Remove every message (and event) created since base_id: a stable table size."""
        from django.db import connection, transaction

        from api.models import Message

        with transaction.atomic(), connection.cursor() as cur:
            # Rows of other tables that point at those messages (events, ...) go first.
            for rel in Message._meta.related_objects:
                if rel.many_to_many or not rel.field.concrete:
                    continue
                cur.execute(
                    f'DELETE FROM "{rel.related_model._meta.db_table}" '
                    f'WHERE "{rel.field.column}" > %s',
                    [self.base_id],
                )
            cur.execute(f'DELETE FROM "{self.table}" WHERE id > %s', [self.base_id])

    def vacuum(self) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute(f'VACUUM (ANALYZE) "{self.table}"')

    def point_provider_at(self, port: int) -> None:
        from providers.models import Provider

        Provider.objects.filter(pk=self.provider.pk).update(port=port)

    # -- status rows (once)

    def fill_status_rows(self) -> None:
        from django.db import connection

        n = self.args.status_rows
        log(f"inserting {n:,} sent messages for the status lookups")
        t0 = time.perf_counter()
        self.insert_copies(n, sent=True)
        self.vacuum()
        with connection.cursor() as cur:
            cur.execute(f'SELECT min(id), max(id), count(*) FROM "{self.table}"')
            _, hi, total = cur.fetchone()
            cur.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{self.table}'))")
            size = cur.fetchone()[0]
        self.status_range = (self.template.pk + 1, hi)
        self.base_id = hi
        self.table_rows = total
        self.notes["table"] = f"{total:,} rows in {self.table} ({size} with indexes)"
        log(f"  {total:,} rows ({size}) in {time.perf_counter() - t0:.1f}s")

    # -- gunicorn

    def start_gunicorn(self) -> None:
        self.http_port = free_port()
        gunicorn = str(Path(PY).parent / "gunicorn")
        err = open(self.workdir / "gunicorn.log", "w")
        self.gunicorn = self.popen(
            [
                gunicorn,
                "mailpass.wsgi",
                "-w",
                str(self.args.gunicorn_workers),
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
        if self.gunicorn.poll() is None:
            self.gunicorn.terminate()
            try:
                self.gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.gunicorn.kill()
                self.gunicorn.wait()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}", "Content-Type": "application/json"}

    def http(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        conn = getattr(self, "_conn", None)
        if conn is None:
            conn = self._conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=self.headers())
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            raise

    # -- measurements ----------------------------------------------------------------

    def smtp_rate(self, sink: sinkmod.SinkProcess, count: int) -> float:
        """The limit: plain smtplib, one persistent connection, the same pre-built bytes."""
        msg = self.message_bytes
        sink.reset()
        client = smtplib.SMTP("127.0.0.1", sink.port, timeout=30)
        client.ehlo()
        cpu = sink.cpu_seconds()
        started = time.perf_counter()
        for _ in range(count):
            client.sendmail(FROM_EMAIL, [TO_EMAIL], msg)
        elapsed = time.perf_counter() - started
        cpu = sink.cpu_seconds() - cpu
        client.quit()
        accepted = sink.stats()["accepted"]
        if accepted != count:
            raise VerificationError(f"smtplib loop: sink counted {accepted:.0f} of {count}")
        if sink is self.sink:
            self.record("sink_busy", cpu / elapsed)  # fraction of one core
            self.record("sink_cpu_us", cpu / count * 1e6)
        return count / elapsed

    def django_rate(self, count: int) -> float:
        """Reference: Django's EmailMultiAlternatives + send_messages over one connection."""
        from django.core.mail import EmailMultiAlternatives, get_connection

        self.sink.reset()
        conn = get_connection(
            "django.core.mail.backends.smtp.EmailBackend",
            host="127.0.0.1",
            port=self.sink.port,
            username="",
            password="",
            use_tls=False,
            use_ssl=False,
            timeout=30,
            fail_silently=False,
        )
        conn.open()
        started = time.perf_counter()
        for i in range(count):
            email = EmailMultiAlternatives(
                SUBJECT,
                TEXT,
                f"MailPass Bench <{FROM_EMAIL}>",
                [TO_EMAIL],
                headers={"Message-ID": f"<{i}.{started}@bench.invalid>"},
            )
            email.attach_alternative(HTML, "text/html")
            conn.send_messages([email])
        elapsed = time.perf_counter() - started
        conn.close()
        accepted = self.sink.stats()["accepted"]
        if accepted != count:
            raise VerificationError(f"Django loop: sink counted {accepted:.0f} of {count}")
        return count / elapsed

    def drain(
        self, workers: int, sink: sinkmod.SinkProcess, count: int, key: str | None = None
    ) -> float:
        """Queue `count` messages, run `workers` process_mail_queue at once until they exit.

        Returns msg/s over the wall time of the subprocesses (start-up included). Verifies
        every message is `sent` and the sink received each Message-ID exactly once. With
        `key`, also records the slowest worker's own timing, the peak RSS of the workers
        and the CPU per message of the workers, PostgreSQL and the sink.
        """
        self.clear_new_rows()
        self.point_provider_at(sink.port)
        sink.reset()
        self.insert_copies(count)
        settle()
        outs = []
        procs = []
        cpu_workers = children_cpu_seconds()
        cpu_pg = tree_cpu_seconds(self.postmaster)
        cpu_sink = sink.cpu_seconds()
        cpu_machine = machine_busy_seconds()
        cpu_self = self_cpu_seconds()
        started = time.perf_counter()
        for i in range(workers):
            out = open(self.workdir / f"drain-{i}.log", "w+")
            outs.append(out)
            procs.append(
                self.popen(
                    [PY, MANAGE, "process_mail_queue"],
                    env=self.env,
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        peaks = self.wait_sampling(procs, timeout=max(300.0, count / 20))
        elapsed = time.perf_counter() - started
        cpu_workers = children_cpu_seconds() - cpu_workers
        cpu_pg = tree_cpu_seconds(self.postmaster) - cpu_pg
        cpu_sink = sink.cpu_seconds() - cpu_sink
        cpu_machine = machine_busy_seconds() - cpu_machine
        cpu_self = self_cpu_seconds() - cpu_self
        # CPU that none of the processes taking part used: other work on this machine.
        foreign = cpu_machine - cpu_workers - cpu_pg - cpu_sink - cpu_self
        self.record("foreign_load", max(0.0, foreign) / elapsed)
        inner = 0.0
        texts = []
        for out in outs:
            out.seek(0)
            text = out.read()
            out.close()
            texts.append(text)
            for m in re.finditer(r" in ([0-9.]+)s", text):
                inner = max(inner, float(m.group(1)))
        if any(p.returncode for p in procs):
            raise VerificationError(
                f"process_mail_queue exited {[p.returncode for p in procs]}: {texts[0][-500:]}"
            )
        self._verify_sent(sink, count, f"drain ({workers} worker(s))")
        self.clear_new_rows()
        self.point_provider_at(self.sink.port)
        if key:
            if inner > 0:
                self.record(key + "_inner", count / inner)
            self.record(key + "_rss", max(peaks) / 1024)
            self.record(key + "_cpu_worker", cpu_workers / count * 1000)
            self.record(key + "_cpu_pg", cpu_pg / count * 1000)
            self.record(key + "_cpu_sink", cpu_sink / count * 1000)
            self.record(key + "_wall_per_msg", elapsed / count * 1000)
        return count / elapsed

    def wait_sampling(self, procs: list[subprocess.Popen], timeout: float) -> list[int]:
        """Wait for `procs`, sampling their peak RSS (VmHWM, KiB) every 20 ms."""
        peaks = [0] * len(procs)
        deadline = time.monotonic() + timeout
        while True:
            alive = False
            for i, proc in enumerate(procs):
                if proc.poll() is None:
                    alive = True
                    peaks[i] = max(peaks[i], vm_kib(proc.pid, "VmHWM") or 0)
            if not alive:
                return peaks
            if time.monotonic() > deadline:
                for proc in procs:
                    proc.kill()
                    proc.wait()
                raise VerificationError(
                    f"{len(procs)} process(es) still running after {timeout:.0f}s"
                )
            time.sleep(0.02)

    def _verify_sent(self, sink: sinkmod.SinkProcess, count: int, what: str) -> None:
        counts = self.status_counts()
        stats = sink.stats()
        problems = []
        if counts != {"sent": count}:
            problems.append(f"statuses {counts}, expected {{'sent': {count}}}")
        if stats["accepted"] != count or stats["unique_ids"] != count:
            problems.append(
                f"sink accepted {stats['accepted']:.0f} messages with "
                f"{stats['unique_ids']:.0f} distinct Message-IDs, expected {count}"
            )
        if stats["duplicate_ids"]:
            problems.append(f"{stats['duplicate_ids']:.0f} Message-IDs arrived twice")
        if problems:
            raise VerificationError(f"{what}: " + "; ".join(problems))

    def startup(self) -> float:
        """Wall seconds of process_mail_queue on an empty queue (interpreter + Django)."""
        self.clear_new_rows()
        settle()
        started = time.perf_counter()
        subprocess.run(
            [PY, MANAGE, "process_mail_queue"],
            env=self.env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - started

    def ingest(self) -> float:
        """Concurrent client processes POST /send-batch (100 messages each) to gunicorn."""
        a = self.args
        self.clear_new_rows()
        body = json.dumps(
            {
                "messages": [
                    {"to": f"user{i}@example.com", "subject": SUBJECT, "html": HTML, "text": TEXT}
                    for i in range(100)
                ],
                "from_email": FROM_EMAIL,
            }
        )
        per_client = [a.ingest_requests // a.ingest_clients] * a.ingest_clients
        for i in range(a.ingest_requests % a.ingest_clients):
            per_client[i] += 1
        settle()
        cpu_app = tree_cpu_seconds(self.gunicorn.pid)
        cpu_pg = tree_cpu_seconds(self.postmaster)
        start_at = time.monotonic() + 1.0  # every client started and waiting by then
        procs = []
        for n in per_client:
            if not n:
                continue
            proc = self.popen(
                [PY, str(BENCH_DIR / "clients.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            job = {
                "port": self.http_port,
                "path": "/api/v1/mail/send-batch",
                "headers": self.headers(),
                "body": body,
                "count": n,
                "start_at": start_at,
            }
            proc.stdin.write(json.dumps(job))
            proc.stdin.close()
            procs.append(proc)
        results = []
        for proc in procs:
            out = proc.stdout.read()
            proc.wait(timeout=600)
            if proc.returncode:
                raise VerificationError(f"an ingest client exited {proc.returncode}")
            results.append(json.loads(out))
        wall = max(r["ended"] for r in results) - min(r["started"] for r in results)
        cpu_clients = sum(r["cpu"] for r in results)
        cpu_app = tree_cpu_seconds(self.gunicorn.pid) - cpu_app
        cpu_pg = tree_cpu_seconds(self.postmaster) - cpu_pg
        if min(r["started"] for r in results) > start_at + 0.05:
            log("  ingest: a client started late; the clients may be the bottleneck")
        ok = sum(r["ok"] for r in results)
        errors = [e for r in results for e in r["errors"]]
        if ok != a.ingest_requests:
            raise VerificationError(
                f"ingest: {ok} of {a.ingest_requests} requests answered 200: {errors[:3]}"
            )
        expected = ok * 100
        counts = self.status_counts()
        if counts != {"queued": expected}:
            raise VerificationError(f"ingest: statuses {counts}, expected {expected} queued")
        self.clear_new_rows()
        self.record("ingest_cpu_app", cpu_app / expected * 1000)
        self.record("ingest_cpu_pg", cpu_pg / expected * 1000)
        self.record("ingest_cpu_clients", cpu_clients / expected * 1000)
        return expected / wall

    def latency(self) -> dict[str, float]:
        """/send (sequential) next to a bare smtplib transaction on a fresh connection."""
        n = self.args.latency_requests
        self.clear_new_rows()
        self.point_provider_at(self.sink.port)
        self.sink.reset()
        body = json.dumps({"to": TO_EMAIL, "subject": SUBJECT, "html": HTML, "text": TEXT}).encode()
        msg = self.message_bytes
        send, bare = [], []
        warmup = 5
        settle()
        for i in range(n + warmup):
            t = time.perf_counter()
            client = smtplib.SMTP("127.0.0.1", self.sink.port, timeout=30)
            client.sendmail(FROM_EMAIL, [TO_EMAIL], msg)
            client.quit()
            t_bare = time.perf_counter() - t
            t = time.perf_counter()
            status, data = self.http("POST", "/api/v1/mail/send", body)
            t_send = time.perf_counter() - t
            if status != 200:
                raise VerificationError(f"/send answered {status}: {data[:300]!r}")
            if i >= warmup:
                bare.append(t_bare * 1000)
                send.append(t_send * 1000)
        stats = self.sink.stats()
        if stats["accepted"] != 2 * (n + warmup):
            raise VerificationError(
                f"latency: sink counted {stats['accepted']:.0f} of {2 * (n + warmup)}"
            )
        counts = self.status_counts()
        if counts != {"sent": n + warmup}:
            raise VerificationError(f"latency: statuses {counts}, expected all sent")
        self.clear_new_rows()
        overhead = [s - b for s, b in zip(send, bare, strict=True)]
        return {
            "send_p50": percentile(send, 50),
            "send_p99": percentile(send, 99),
            "bare_p50": percentile(bare, 50),
            "bare_p99": percentile(bare, 99),
            "overhead_p50": percentile(send, 50) - percentile(bare, 50),
            "overhead_p99_paired": percentile(overhead, 99),
        }

    def status_lookups(self) -> dict[str, float]:
        """GET /status for random existing ids, and (one in three) for unknown ids: the
        404 costs the same request, key and query without a row, so the difference is
        what fetching and rendering the message adds."""
        from api.models import Message

        n = self.args.status_lookups
        lo, hi = self.status_range
        ids = random.sample(range(lo, hi + 1), min(n, hi - lo + 1))
        known = list(Message.objects.filter(pk__in=ids).values_list("message_id", flat=True))
        random.shuffle(known)
        unknown = [
            f"<{random.getrandbits(128):032x}.1700000000@nowhere.invalid>"
            for _ in range(max(1, len(known) // 2))
        ]
        plan = [(mid, 200) for mid in known] + [(mid, 404) for mid in unknown]
        random.shuffle(plan)
        plan = plan[:10] + plan  # the first ten are a warm-up
        times: dict[int, list[float]] = {200: [], 404: []}
        settle()
        for i, (mid, expect) in enumerate(plan):
            path = "/api/v1/mail/status/" + urllib.parse.quote(mid.strip("<>"), safe="@.")
            t = time.perf_counter()
            status, data = self.http("GET", path)
            elapsed = time.perf_counter() - t
            if status != expect:
                raise VerificationError(
                    f"status lookup answered {status}, not {expect}: {data[:300]!r}"
                )
            if i >= 10:
                times[expect].append(elapsed * 1000)
        return {
            "p50": percentile(times[200], 50),
            "p99": percentile(times[200], 99),
            "404_p50": percentile(times[404], 50),
            "404_p99": percentile(times[404], 99),
        }

    def memory(self) -> dict[str, float]:
        """Peak RSS of one process_mail_queue draining memory_messages, and its course."""
        n = self.args.memory_messages
        self.clear_new_rows()
        self.vacuum()
        self.point_provider_at(self.sink.port)
        self.sink.reset()
        log(f"memory: queueing {n:,} messages")
        self.insert_copies(n, chunk=50_000)
        log("memory: draining them with one worker")
        settle()
        out = open(self.workdir / "memory-drain.log", "w+")
        started = time.perf_counter()
        proc = self.popen(
            [PY, MANAGE, "process_mail_queue"],
            env=self.env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        marks = [0.1, 0.25, 0.5, 0.75, 0.9]
        at: dict[float, float] = {}
        rss = hwm = 0.0
        next_poll = 0.0
        while proc.poll() is None:
            now_rss, now_hwm = vm_kib(proc.pid, "VmRSS"), vm_kib(proc.pid, "VmHWM")
            if now_rss and now_hwm:
                rss, hwm = now_rss / 1024, now_hwm / 1024
            now = time.perf_counter()
            if now >= next_poll and len(at) < len(marks):
                next_poll = now + 0.25
                with contextlib.suppress(OSError):
                    done = self.sink.stats()["accepted"] / n
                    for mark in marks:
                        if done >= mark and mark not in at:
                            at[mark] = rss
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        out.seek(0)
        text = out.read()
        out.close()
        if proc.returncode:
            raise VerificationError(f"memory drain exited {proc.returncode}: {text[-500:]}")
        self._verify_sent(self.sink, n, "memory drain")
        self.clear_new_rows()
        self.vacuum()
        result = {"peak": hwm, "end": rss, "rate": n / elapsed}
        for mark in marks:
            result[f"at{int(mark * 100)}"] = at.get(mark, float("nan"))
        return result

    def profile_drain(self) -> str:
        """One 1-worker drain under cProfile; returns the top of the cumulative listing."""
        import pstats

        count = self.args.drain_messages
        self.clear_new_rows()
        self.point_provider_at(self.sink.port)
        self.sink.reset()
        self.insert_copies(count)
        prof = RESULTS_DIR / "drain.prof"
        prof.parent.mkdir(parents=True, exist_ok=True)
        # CPU time (process_time), not wall time: waiting on PostgreSQL and the sink is
        # left out, so the listing shows what the worker itself spends.
        code = (
            "import cProfile, runpy, sys, time\n"
            "sys.argv = [sys.argv[1], 'process_mail_queue']\n"
            "profile = cProfile.Profile(time.process_time)\n"
            "try:\n"
            "    profile.runcall(runpy.run_path, sys.argv[0], run_name='__main__')\n"
            "finally:\n"
            f"    profile.dump_stats({str(prof)!r})\n"
        )
        started = time.perf_counter()
        # cProfile sees only the thread it runs in: one connection keeps all the work there.
        subprocess.run(
            [PY, "-c", code, MANAGE],
            env={**self.env, "MAILPASS_QUEUE_CONNECTIONS": "1"},
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - started
        self._verify_sent(self.sink, count, "profiled drain")
        self.clear_new_rows()
        import io

        buf = io.StringIO()
        stats = pstats.Stats(str(prof), stream=buf)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
        text = (
            f"cProfile (CPU time) of one process_mail_queue draining {count:,} messages over one "
            f"connection ({elapsed:.1f}s wall under the profiler)\n" + buf.getvalue()
        )
        (RESULTS_DIR / "drain-profile.txt").write_text(text)
        return text

    # -- the run -------------------------------------------------------------------------

    def attempt(self, name: str, fn: Callable[[], object]) -> object | None:
        try:
            return fn()
        except VerificationError as exc:
            self.errors.append(f"rep {self.rep}: {name}: {exc}")
            log(f"  {name}: NOT VERIFIED: {exc}")
        except Exception as exc:  # noqa: BLE001 - one broken measurement must not end the run
            self.errors.append(f"rep {self.rep}: {name}: {type(exc).__name__}: {exc}")
            log(f"  {name}: ERROR\n{traceback.format_exc()}")
        return None

    def limit_sample(self) -> float | None:
        settle()
        rate = self.attempt("limit", lambda: self.smtp_rate(self.sink, self.args.limit_messages))
        if rate is not None:
            self.record("limit", rate)
        return rate

    def bracketed(self, key: str, fn: Callable[[], float], before: float | None) -> float | None:
        """Measure `fn` (a rate), take a limit sample after it, record the rate and its
        ratio to the mean of the limit samples just before and just after."""
        rate = self.attempt(key, fn)
        after = self.limit_sample()
        if rate is not None:
            self.record(key, rate)
            limits = self._limits(before, after)
            if limits:
                self.record(key + ":ratio", rate / statistics.fmean(limits))
        return after

    def _limits(self, before: float | None, after: float | None) -> list[float]:
        """The limit samples around a measurement; counts the brackets whose two samples
        disagree by more than 1.5x (the machine changed speed in the middle of it)."""
        limits = [x for x in (before, after) if x]
        if limits:
            self.brackets += 1
            if len(limits) == 2 and max(limits) > 1.5 * min(limits):
                self.unsteady += 1
        return limits

    def one_rep(self) -> None:
        a, skip = self.args, self.args.skip
        if "sink" not in skip:
            settle()
            rate = self.attempt(
                "sink",
                lambda: sinkmod.raw_blast(
                    "127.0.0.1", self.sink.port, a.sink_messages, self.message_bytes
                ),
            )
            if rate is not None:
                self.record("sink", rate)
        lim = self.limit_sample()
        if "django" not in skip:
            lim = self.bracketed(
                "django", lambda: (settle(), self.django_rate(a.django_messages))[1], lim
            )
        if "drain" not in skip:
            lim = self.bracketed(
                "drain1", lambda: self.drain(1, self.sink, a.drain_messages, key="drain1"), lim
            )
            lim = self.bracketed(
                "drain2", lambda: self.drain(2, self.sink, a.drain_messages, key="drain2"), lim
            )
        if "delay" not in skip:

            def conn_delay() -> float:
                settle()
                return self.smtp_rate(self.slow_sink, a.delay_conn_messages)

            conn = self.attempt("conn_delay", conn_delay)
            drained = self.attempt(
                "drain_delay",
                lambda: self.drain(1, self.slow_sink, a.drain_messages, key="drain_delay"),
            )
            after = self.limit_sample()
            limits = self._limits(lim, after)
            for key, rate in (("conn_delay", conn), ("drain_delay", drained)):
                if rate is not None:
                    self.record(key, rate)
                    if limits:
                        self.record(key + ":ratio", rate / statistics.fmean(limits))
            if conn and drained:
                self.record("drain_delay:vs_conn", drained / conn)
            lim = after
        if "ingest" not in skip:
            lim = self.bracketed("ingest", self.ingest, lim)
        if "latency" not in skip:
            lat = self.attempt("latency", self.latency)
            if lat:
                for k, v in lat.items():
                    self.record("lat_" + k, v)
        if "status" not in skip:
            st = self.attempt("status", self.status_lookups)
            if st:
                for k, val in st.items():
                    self.record("status_" + k, val)
        if "startup" not in skip:
            seconds = self.attempt("startup", self.startup)
            if seconds is not None:
                self.record("startup", seconds)
        self.attempt("vacuum", self.vacuum)

    def run(self) -> int:
        a = self.args
        t_start = time.perf_counter()
        self.rep = 0
        self.commit_at_start = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        self.setup()
        if "status" not in a.skip:
            self.fill_status_rows()
        else:
            self.status_range = (self.template.pk + 1, self.template.pk)
        needs_http = {"ingest", "latency", "status"} - a.skip
        if needs_http:
            log("starting gunicorn")
            self.start_gunicorn()
        for rep in range(1, a.reps + 1):
            self.rep = rep
            t0 = time.perf_counter()
            log(f"rep {rep}/{a.reps}")
            self.one_rep()
            log(f"rep {rep} done in {time.perf_counter() - t0:.0f}s: " + self._rep_summary())
        self.rep = "memory"
        if "memory" not in a.skip:
            mem = self.attempt("memory", self.memory)
            if mem:
                self.mem = mem
        self.elapsed = time.perf_counter() - t_start
        if a.profile:
            self.rep = "profile"
            if self.attempt("profile", self.profile_drain):
                log(f"CPU profile of a drain: {RESULTS_DIR / 'drain-profile.txt'}")
        table = self.table_text()
        print(table)
        out = Path(a.results)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table)
        out.with_suffix(".json").write_text(
            json.dumps(
                {
                    "args": vars(a) | {"skip": sorted(a.skip)},
                    "values": self.values,
                    "memory": getattr(self, "mem", None),
                    "errors": self.errors,
                    "notes": self.notes,
                },
                indent=1,
                default=str,
            )
        )
        log(f"written to {out} (raw numbers: {out.with_suffix('.json')})")
        return 1 if self.errors else 0

    def code_version(self) -> str:
        """The commit measured, and whether files outside bench/ had uncommitted changes."""
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--", ".", ":!bench"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()
        except (OSError, subprocess.CalledProcessError):
            return "not a git checkout"
        if self.commit_at_start != commit:
            commit = f"{self.commit_at_start} at the start, {commit} at the end"
        return f"commit {commit}" + (
            f" with {len(dirty)} uncommitted changes outside bench/" if dirty else ""
        )

    def _rep_summary(self) -> str:
        parts = []
        for key in (
            "limit",
            "drain1:ratio",
            "drain2:ratio",
            "drain_delay:vs_conn",
            "ingest",
            "lat_overhead_p50",
            "status_p99",
        ):
            if self.values.get(key):
                parts.append(f"{key}={self.values[key][-1]:.3g}")
        return " ".join(parts)

    # -- the table -----------------------------------------------------------------------

    def table_text(self) -> str:
        a = self.args
        v = self.values

        def med(key: str) -> float | None:
            return statistics.median(v[key]) if v.get(key) else None

        def spread(key: str, fmt: str) -> str:
            if not v.get(key):
                return "-"
            return f"{format(min(v[key]), fmt)}-{format(max(v[key]), fmt)}"

        def num(x: float | None, fmt: str) -> str:
            return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)

        def ratio(key: str) -> str:
            r = med(key + ":ratio")
            if r is None:
                return "-"
            return f"{r:.2f}x ({spread(key + ':ratio', '.2f')})"

        def met(ok: bool | None) -> str:
            return "-" if ok is None else ("yes" if ok else "**NO**")

        rows: list[tuple[str, ...]] = []

        def rate_row(label, key, target="", ok=None, vs=""):
            rows.append(
                (
                    label,
                    num(med(key), ",.0f"),
                    spread(key, ",.0f"),
                    "msg/s",
                    ratio(key) if key != "limit" else "1.00x",
                    target,
                    vs,
                    met(ok),
                )
            )

        def info(label, value, unit, rng="", note=""):
            rows.append(("  - " + label, value, rng, unit, "", "", note, ""))

        def cpu_row(prefix: str, parts: tuple[tuple[str, str], ...]) -> None:
            if all(v.get(f"{prefix}_{k}") for k, _ in parts):
                value = " / ".join(f"{name} {med(f'{prefix}_{k}'):.2f}" for k, name in parts)
                info("CPU per message", value, "ms")

        n_drain = a.drain_messages
        size = len(self.message_bytes)
        rate_row(
            f"**limit**: plain smtplib, 1 persistent connection, the same pre-built "
            f"{size:,} B html+text message",
            "limit",
            "(reference)",
        )
        if v.get("sink_busy"):
            info(
                "sink CPU during the limit loop",
                f"{med('sink_cpu_us'):.0f} us/msg = {med('sink_busy') * 100:.0f}% of a core",
                "",
                note="the sink is not the bottleneck",
            )
        if "sink" not in a.skip:
            ok = med("sink") and med("limit") and med("sink") > 20 * med("limit")
            rows.append(
                (
                    "sink capacity: pipelined raw client",
                    num(med("sink"), ",.0f"),
                    spread("sink", ",.0f"),
                    "msg/s",
                    f"{med('sink') / med('limit'):.0f}x" if ok is not None else "-",
                    "> 20,000 msg/s",
                    "",
                    met(None if med("sink") is None else med("sink") > 20_000),
                )
            )
        if "django" not in a.skip:
            rate_row(
                "Django EmailMultiAlternatives + send_messages, 1 connection",
                "django",
                "(reference)",
            )
        cpu_parts = (("cpu_worker", "worker"), ("cpu_pg", "PostgreSQL"), ("cpu_sink", "sink"))
        if "drain" not in a.skip:
            r = med("drain1:ratio")
            rate_row(
                f"drain: process_mail_queue, 1 worker, {n_drain:,} msgs",
                "drain1",
                ">= 0.5x limit",
                None if r is None else r >= 0.5,
                f"{r / 0.5:.2f}x target" if r else "",
            )
            if v.get("drain1_inner"):
                info(
                    "the same, excluding start-up (the command's own timing)",
                    num(med("drain1_inner"), ",.0f"),
                    "msg/s",
                    spread("drain1_inner", ",.0f"),
                )
            cpu_row("drain1", cpu_parts)
            if v.get("drain1_wall_per_msg"):
                info(
                    "wall time per message",
                    num(med("drain1_wall_per_msg"), ".2f"),
                    "ms",
                    spread("drain1_wall_per_msg", ".2f"),
                )
            r = med("drain2:ratio")
            rate_row(
                f"drain: 2 workers at once, {n_drain:,} msgs",
                "drain2",
                ">= 1.0x limit",
                None if r is None else r >= 1.0,
                f"{r:.2f}x target" if r else "",
            )
            cpu_row("drain2", cpu_parts)
        if "delay" not in a.skip:
            rate_row(
                f"1 smtplib connection, sink answers DATA after {a.delay_ms:g} ms",
                "conn_delay",
                "(reference)",
            )
            r = med("drain_delay:vs_conn")
            rate_row(
                f"drain: 1 worker, {n_drain:,} msgs, sink answers DATA after {a.delay_ms:g} ms",
                "drain_delay",
                ">= 5x that 1 connection",
                None if r is None else r >= 5,
                f"{r:.2f}x 1 conn ({spread('drain_delay:vs_conn', '.2f')})" if r else "",
            )
            cpu_row("drain_delay", cpu_parts)
        if "ingest" not in a.skip:
            r = med("ingest")
            rate_row(
                f"ingest: /send-batch, 100 msgs/request, gunicorn -w {a.gunicorn_workers}, "
                f"{a.ingest_clients} client processes",
                "ingest",
                ">= 3,000 msg/s",
                None if r is None else r >= 3000,
                f"{r / 3000:.2f}x target" if r else "",
            )
            cpu_row(
                "ingest",
                (("cpu_app", "gunicorn"), ("cpu_pg", "PostgreSQL"), ("cpu_clients", "clients")),
            )
        if "latency" not in a.skip:
            for label, key, target, limit_ms in (
                ("/send latency p50 (sequential requests)", "lat_send_p50", "", None),
                ("/send latency p99", "lat_send_p99", "", None),
                (
                    "bare SMTP transaction p50 (new connection, EHLO, send, QUIT)",
                    "lat_bare_p50",
                    "",
                    None,
                ),
                ("bare SMTP transaction p99", "lat_bare_p99", "", None),
                ("/send overhead p50 (/send p50 - bare p50)", "lat_overhead_p50", "< 5 ms", 5.0),
            ):
                m = med(key)
                rows.append(
                    (
                        label,
                        num(m, ".2f"),
                        spread(key, ".2f"),
                        "ms",
                        "",
                        target,
                        f"{m / limit_ms:.1f}x target" if limit_ms and m else "",
                        met(None if limit_ms is None or m is None else m < limit_ms),
                    )
                )
        if "status" not in a.skip:
            rows.append(
                (
                    f"status lookup p50 ({self.table_rows:,} messages in the table)",
                    num(med("status_p50"), ".2f"),
                    spread("status_p50", ".2f"),
                    "ms",
                    "",
                    "",
                    "",
                    "",
                )
            )
            m = med("status_p99")
            rows.append(
                (
                    "status lookup p99",
                    num(m, ".2f"),
                    spread("status_p99", ".2f"),
                    "ms",
                    "",
                    "< 10 ms",
                    f"{m / 10:.1f}x target" if m else "",
                    met(None if m is None else m < 10),
                )
            )
            if v.get("status_404_p50"):
                info(
                    "unknown id (404: same auth and query, no row) p50 / p99",
                    f"{med('status_404_p50'):.2f} / {med('status_404_p99'):.2f}",
                    "ms",
                )
        if "memory" not in a.skip:
            mem = getattr(self, "mem", None)
            base = med("drain1_rss")
            if mem:
                growth = mem["peak"] / base - 1 if base else None
                rows.append(
                    (
                        f"memory: peak RSS of 1 worker draining {a.memory_messages:,} (once)",
                        f"{mem['peak']:.0f}",
                        "-",
                        "MiB",
                        "",
                        f"flat: <= 1.10x the {n_drain:,}-message drain's peak" if base else "flat",
                        f"{growth * 100:+.0f}% vs {base:.0f} MiB" if base else "",
                        met(None if growth is None else growth <= 0.10),
                    )
                )
                course = ", ".join(
                    f"{k[2:]}% {mem[k]:.0f}" for k in ("at10", "at25", "at50", "at75", "at90")
                )
                info("RSS along the way", f"{course}, end {mem['end']:.0f}", "MiB")
                info("its drain rate", f"{mem['rate']:,.0f}", "msg/s")
        if "startup" not in a.skip:
            rows.append(
                (
                    "process_mail_queue start-up on an empty queue (in every drain)",
                    num(med("startup"), ".2f"),
                    spread("startup", ".2f"),
                    "s",
                    "",
                    "",
                    "",
                    "",
                )
            )

        header = (
            "metric",
            "median",
            "min-max",
            "unit",
            "x limit (min-max)",
            "target",
            "measured vs target",
            "met?",
        )
        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        loop = self.sink.loop_kind
        overrides = " ".join(
            f"{k}={v}"
            for k, v in sorted(os.environ.items())
            if k.startswith("MAILPASS_")
            and k not in ("MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS", "MAILPASS_SMTP_PORTS")
        )
        head = [
            f"MailPass bench, {dt.datetime.now():%Y-%m-%d %H:%M}, PostgreSQL {self.pg_version}, "
            f"Python {platform.python_version()}, {os.cpu_count()} cores; "
            f"{a.reps} interleaved reps{' (--quick: a smoke run)' if a.quick else ''}; "
            f"took {self.elapsed / 60:.1f} min",
            f"sink: bench/sink.py on {loop}. x limit: each rate over the mean of the limit "
            "samples taken just before and just after it, median (min-max) over the reps."
            + (f" {self.notes['table']}." if "table" in self.notes else ""),
        ]
        head.append(f"code: {self.code_version()}")
        if v.get("foreign_load"):
            load = v["foreign_load"]
            line = (
                f"other load on the machine during the drains (CPU used by processes outside "
                f"the bench): median {statistics.median(load):.2f} cores, max {max(load):.2f} "
                f"of {os.cpu_count()}"
            )
            if max(load) > 0.25:
                line += " -- the run was disturbed; ratios hold up better than absolute rates"
            head.append(line)
        if self.unsteady:
            head.append(
                f"machine speed: in {self.unsteady} of {self.brackets} measurements the limit "
                "samples before and after differed by more than 1.5x (the medians absorb a few)"
            )
        if overrides:
            head.append(f"environment: {overrides}")
        text = "\n".join(head) + "\n\n" + "\n".join(lines) + "\n"
        if self.errors:
            text += (
                "\nNOT VERIFIED (these runs are left out of the figures):\n"
                + "\n".join(f"- {e}" for e in self.errors)
                + "\n"
            )
        return text


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    args = parse_args()
    cleanup = Cleanup()
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGHUP, _raise_exit)
    try:
        return Bench(args, cleanup).run()
    finally:
        # The database connection first: the cluster is about to go away.
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
