"""The measurements, one function per row of the table, in the table's order.

Each takes the Environment, runs once (bench/run.py repeats them) and returns its figure;
the ones with detail lines under their row (CPU per message, ...) record those in the
Results too. A measurement whose outcome is wrong (a drain that did not send every message
exactly once, an HTTP error) raises VerificationError: its number must not be used.
"""

from __future__ import annotations

import contextlib
import io
import json
import pstats
import random
import re
import smtplib
import subprocess
import time
import traceback
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import sink as sinkmod
from environment import BENCH_DIR, MANAGE, PY, RESULTS_DIR, ROOT, Environment, log
from esp_fake import EspFakeProcess
from fixtures import (
    FROM_EMAIL,
    HTML,
    SUBJECT,
    TEMPLATE_ALIAS,
    TEMPLATE_HTML,
    TEMPLATE_SUBJECT,
    TEMPLATE_TEXT,
    TEMPLATE_VARIABLES,
    TEXT,
    TO_EMAIL,
)
from probes import (
    children_cpu_seconds,
    machine_busy_seconds,
    self_cpu_seconds,
    settle,
    tree_cpu_seconds,
    vm_kib,
)
from report import Results, percentile

T = TypeVar("T")


class VerificationError(Exception):
    """A measurement ran but its outcome was wrong: its number must not be used."""


def attempt(results: Results, name: str, measure: Callable[[], T]) -> T | None:
    """Run one measurement; a failure is noted in `results` and the run goes on."""
    try:
        return measure()
    except VerificationError as exc:
        results.errors.append(f"rep {results.rep}: {name}: {exc}")
        log(f"  {name}: NOT VERIFIED: {exc}")
    except Exception as exc:  # noqa: BLE001 - one broken measurement must not end the run
        results.errors.append(f"rep {results.rep}: {name}: {type(exc).__name__}: {exc}")
        log(f"  {name}: ERROR\n{traceback.format_exc()}")
    return None


# --- the limit, and rates measured against it -----------------------------------------


class LimitSamples:
    """The limit row: plain smtplib, one persistent connection, the same pre-built bytes.
    Sampled between the rates of a rep, so that every rate has a sample of the limit just
    before and just after it (the machine's speed drifts within minutes)."""

    def __init__(self, env: Environment, results: Results, count: int) -> None:
        self.env = env
        self.results = results
        self.count = count
        self.last: float | None = None

    def sample(self) -> None:
        settle()
        rate = attempt(
            self.results,
            "limit",
            lambda: smtp_rate(self.env, self.results, self.env.sink, self.count),
        )
        if rate is not None:
            self.results.record("limit", rate)
        self.last = rate

    def rate(self, key: str, measure: Callable[[], float]) -> None:
        """Measure a rate, then sample the limit; record the rate and its ratio to the
        samples just before and just after it."""
        before = self.last
        rate = attempt(self.results, key, measure)
        self.sample()
        if rate is not None:
            self.results.record_rate(key, rate, self.results.limits_around(before, self.last))


def smtp_rate(env: Environment, results: Results, sink: sinkmod.SinkProcess, count: int) -> float:
    """msg/s of smtplib sending the message `count` times over one connection to `sink`."""
    msg = env.data.message_bytes
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
    if sink is env.sink:
        results.record("sink_busy", cpu / elapsed)  # fraction of one core
        results.record("sink_cpu_us", cpu / count * 1e6)
    return count / elapsed


def sink_capacity(env: Environment, count: int) -> float:
    """sink capacity: a pipelining raw client, to show the sink is never what is measured."""
    settle()
    return sinkmod.raw_blast("127.0.0.1", env.sink.port, count, env.data.message_bytes)


def django_rate(env: Environment, count: int) -> float:
    """Reference: Django's EmailMultiAlternatives + send_messages over one connection."""
    from django.core.mail import EmailMultiAlternatives, get_connection

    settle()
    env.sink.reset()
    conn = get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host="127.0.0.1",
        port=env.sink.port,
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
    accepted = env.sink.stats()["accepted"]
    if accepted != count:
        raise VerificationError(f"Django loop: sink counted {accepted:.0f} of {count}")
    return count / elapsed


# --- draining the queue -----------------------------------------------------------------


# Each drain worker's PostgreSQL connections carry this name (libpq reads PGAPPNAME), so
# pg_stat_activity tells them apart from the bench's own and from each other.
WORKER_APP_NAME = "mailpass-bench-worker-"


@dataclass
class DrainRun:
    """What one drain measured."""

    elapsed: float  # wall seconds of the worker processes, start-up included
    inner: float  # the slowest worker's own seconds (its health line), 0 if none printed
    rss_peaks: list[int]  # KiB, one per worker
    db_connections: int  # the most PostgreSQL connections one worker held at once (sampled)
    cpu_workers: float  # CPU seconds of the workers, PostgreSQL and the sink or fake ESP
    cpu_pg: float
    cpu_target: float
    target_stats: dict[str, float]  # the sink's or fake's counters at the end


def drain(
    env: Environment,
    results: Results,
    workers: int,
    sink: sinkmod.SinkProcess,
    count: int,
    key: str | None = None,
    verify: Callable[[], None] | None = None,
) -> float:
    """Queue `count` messages, run `workers` process_mail_queue at once until they exit.

    Returns msg/s over the wall time of the subprocesses (start-up included). Verifies
    every message is `sent` and the sink received each Message-ID exactly once (and calls
    `verify`, if given, before the rows are cleared). With `key`, also records the slowest
    worker's own timing, the peak RSS of the workers and the CPU per message of the
    workers, PostgreSQL and the sink.
    """
    run = run_drain(env, results, workers, sink, count, verify=verify)
    if key:
        if run.inner > 0:
            results.record(key + "_inner", count / run.inner)
        results.record(key + "_rss", max(run.rss_peaks) / 1024)
        results.record(key + "_cpu_worker", run.cpu_workers / count * 1000)
        results.record(key + "_cpu_pg", run.cpu_pg / count * 1000)
        results.record(key + "_cpu_sink", run.cpu_target / count * 1000)
        results.record(key + "_wall_per_msg", run.elapsed / count * 1000)
        results.record(key + "_core_worker", run.cpu_workers / workers / run.elapsed)
        results.record(key + "_core_pg", run.cpu_pg / run.elapsed)
        results.record(key + "_core_sink", run.cpu_target / run.elapsed)
    return count / run.elapsed


def run_drain(
    env: Environment,
    results: Results,
    workers: int,
    target: sinkmod.SinkProcess | EspFakeProcess,
    count: int,
    *,
    provider_id: int | None = None,
    count_db: bool = False,
    verify: Callable[[], None] | None = None,
) -> DrainRun:
    """Queue `count` messages and run `workers` process_mail_queue until they exit; verify
    every message is `sent` and `target` received each Message-ID exactly once, then call
    `verify` (if given: it raises VerificationError) before the rows are cleared.

    A sink as `target`: the messages go through the bench's SMTP provider, pointed at it
    for the drain. The fake ESP: they go through `provider_id` (one of the ESP providers).
    With `count_db`, pg_stat_activity is sampled every 50 ms for the workers' connections.
    """
    data = env.data
    data.clear_new_rows()
    if isinstance(target, sinkmod.SinkProcess):
        data.point_provider_at(target.port)
    target.reset()
    data.insert_copies(count, provider_id=provider_id)
    sampler = DbConnections() if count_db else None
    settle()
    outs = []
    procs = []
    cpu_workers = children_cpu_seconds()
    cpu_pg = tree_cpu_seconds(env.postmaster)
    cpu_target = target.cpu_seconds()
    cpu_machine = machine_busy_seconds()
    cpu_self = self_cpu_seconds()
    started = time.perf_counter()
    for i in range(workers):
        out = open(env.workdir / f"drain-{i}.log", "w+")
        outs.append(out)
        procs.append(
            env.popen(
                [PY, MANAGE, "process_mail_queue"],
                env={**env.env, "PGAPPNAME": f"{WORKER_APP_NAME}{i}"},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
    peaks = _wait_sampling(
        procs, timeout=max(300.0, count / 20), tick=sampler.sample if sampler else None
    )
    elapsed = time.perf_counter() - started
    cpu_workers = children_cpu_seconds() - cpu_workers
    cpu_pg = tree_cpu_seconds(env.postmaster) - cpu_pg
    cpu_target = target.cpu_seconds() - cpu_target
    cpu_machine = machine_busy_seconds() - cpu_machine
    cpu_self = self_cpu_seconds() - cpu_self
    # CPU that none of the processes taking part used: other work on this machine.
    foreign = cpu_machine - cpu_workers - cpu_pg - cpu_target - cpu_self
    results.record("foreign_load", max(0.0, foreign) / elapsed)
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
    _verify_sent(env, target, count, f"drain ({workers} worker(s))")
    if verify is not None:
        verify()
    stats = target.stats()
    data.clear_new_rows()
    data.point_provider_at(env.sink.port)
    return DrainRun(
        elapsed=elapsed,
        inner=inner,
        rss_peaks=peaks,
        db_connections=sampler.peak if sampler else 0,
        cpu_workers=cpu_workers,
        cpu_pg=cpu_pg,
        cpu_target=cpu_target,
        target_stats=stats,
    )


class DbConnections:
    """The most PostgreSQL connections any one drain worker held at once, from
    pg_stat_activity (every connection of the worker's application name, idle or not),
    sampled at most every 50 ms: a connection opened and closed between two samples is
    missed, so this is a lower bound."""

    def __init__(self, every: float = 0.05) -> None:
        self.every = every
        self.next = 0.0
        self.peak = 0

    def sample(self) -> None:
        from django.db import connection

        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + self.every
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s "
                "GROUP BY application_name",
                [WORKER_APP_NAME + "%"],
            )
            for (n,) in cur.fetchall():
                self.peak = max(self.peak, n)


def _wait_sampling(
    procs: list[subprocess.Popen], timeout: float, tick: Callable[[], None] | None = None
) -> list[int]:
    """Wait for `procs`, sampling their peak RSS (VmHWM, KiB) every 20 ms (and calling
    `tick` as often)."""
    peaks = [0] * len(procs)
    deadline = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
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
            raise VerificationError(f"{len(procs)} process(es) still running after {timeout:.0f}s")
        time.sleep(0.02)


def _verify_sent(
    env: Environment, sink: sinkmod.SinkProcess | EspFakeProcess, count: int, what: str
) -> None:
    counts = env.data.status_counts()
    stats = sink.stats()
    problems = []
    if counts != {"sent": count}:
        problems.append(f"statuses {counts}, expected {{'sent': {count}}}")
    if stats["accepted"] != count or stats["unique_ids"] != count:
        problems.append(
            f"{'sink' if isinstance(sink, sinkmod.SinkProcess) else 'fake ESP'} accepted "
            f"{stats['accepted']:.0f} messages with "
            f"{stats['unique_ids']:.0f} distinct Message-IDs, expected {count}"
        )
    if stats["duplicate_ids"]:
        problems.append(f"{stats['duplicate_ids']:.0f} Message-IDs arrived twice")
    if problems:
        raise VerificationError(f"{what}: " + "; ".join(problems))


# --- outbound webhooks ------------------------------------------------------------------

# What process_webhooks prints after each pass (one pass without --loop).
_SENDER_LINE = re.compile(r"attempted (\d+), succeeded (\d+), failed (\d+) in ([0-9.]+)s")


def drain_with_webhooks(env: Environment, results: Results, count: int) -> float:
    """drain1 while the bench account has an enabled endpoint subscribed to `sent`: every
    message the worker sends also stores a webhook event and a pending delivery, in the
    transaction that marks it sent. No sender runs. msg/s over the wall time, figures
    under "drain1_hooks" as drain1's. Verifies the drain as drain1, then that exactly
    `count` events were stored, each with one pending email.sent delivery, and that the
    receiver heard nothing; the endpoint and every webhook row are gone afterwards."""
    receiver = env.receiver

    def verify() -> None:
        counts = env.data.webhook_counts()
        events = env.data.webhook_event_count()
        if counts != {("email.sent", "pending", 0): count} or events != count:
            raise VerificationError(
                f"drain with webhooks: {events} events and deliveries "
                f"{ {f'{k} {s} x{a}': n for (k, s, a), n in counts.items()} }, "
                f"expected {count} pending email.sent deliveries of as many events"
            )
        posted = receiver.stats()["requests"]
        if posted:
            raise VerificationError(f"drain with webhooks: the receiver got {posted:.0f} POSTs")

    receiver.reset()
    with env.data.webhook_endpoint(receiver.url, events=["sent"]):
        return drain(env, results, 1, env.sink, count, key="drain1_hooks", verify=verify)


def drain_signed(env: Environment, results: Results, count: int, *, ed25519: bool) -> float:
    """drain1 with every message DKIM-signed: the bench sender's domain is a verified
    sender domain (RSA 2048, and Ed25519 too with `ed25519`). Figures under
    "drain1_signed" (or "drain1_signed2"). Verifies the drain as drain1, and that every
    message reached the sink with a DKIM-Signature on top."""
    key = "drain1_signed2" if ed25519 else "drain1_signed"

    def verify() -> None:
        signed = env.sink.stats()["signed"]
        if signed != count:
            raise VerificationError(f"signed drain: {signed:.0f} of {count} messages signed")

    with env.data.signing_domain(ed25519=ed25519):
        return drain(env, results, 1, env.sink, count, key=key, verify=verify)


def signing_costs(env: Environment, results: Results, signatures: int) -> None:
    """What DKIM-signing the bench message costs in this process (one core), in µs: with
    RSA 2048 (providers.dkim), with RSA and Ed25519, and with dkimpy's own sign() (pure
    Python RSA, the library our signer replaces) for the same RSA key."""
    import dkim as dkimpy

    from providers import dkim
    from providers.crypto import encrypt_json

    wire = env.data.message_bytes  # CRLF line ends, as sent
    rsa, ed = dkim.new_key_pair(dkim.RSA), dkim.new_key_pair(dkim.ED25519)
    signers = [
        dkim.signer(
            "example.com", name, pair.algorithm, encrypt_json({"pem": pair.private_pem.decode()})
        )
        for name, pair in (("rsa", rsa), ("ed", ed))
    ]

    def per_signature(sign: Callable[[], object], n: int) -> float:
        sign()
        started = time.perf_counter()
        for _ in range(n):
            sign()
        return (time.perf_counter() - started) / n * 1e6

    results.record("sign_rsa", per_signature(lambda: dkim.sign(wire, signers[:1]), signatures))
    results.record("sign_both", per_signature(lambda: dkim.sign(wire, signers), signatures))
    results.record(
        "sign_dkimpy",
        per_signature(
            lambda: dkimpy.sign(
                wire, b"rsa", b"example.com", rsa.private_pem, canonicalize=(b"relaxed", b"relaxed")
            ),
            max(signatures // 20, 10),
        ),
    )


@dataclass
class WebhookRun:
    """What one process_webhooks run measured."""

    elapsed: float  # wall seconds of the process, start-up included
    inner: float  # its own seconds (its "attempted ... in X.XXs" line)
    cpu_sender: float  # CPU seconds of the sender, PostgreSQL and the receiver
    cpu_pg: float
    cpu_receiver: float
    receiver_stats: dict[str, float]  # the receiver's counters at the end


def send_webhooks(env: Environment, results: Results, count: int, latency_ms: float) -> WebhookRun:
    """`count` pending deliveries of `email.delivered` events (bulk SQL, due now) to an
    endpoint of the bench account at env.receiver, which answers 200 after `latency_ms`;
    then one `manage.py process_webhooks` (its default threads) until it exits.

    Verifies: the command exited 0 reporting `count` attempted and succeeded; every
    delivery `succeeded` at its first attempt, with one attempt row each; the receiver got
    exactly `count` POSTs with `count` distinct webhook-id headers, each with a
    webhook-signature header that verifies with the endpoint's secret."""
    from api.models import WebhookAttempt

    data, receiver = env.data, env.receiver
    data.clear_new_rows()
    receiver.set_latency(latency_ms)
    try:
        with data.webhook_endpoint(receiver.url) as (endpoint, secret):
            receiver.set_secret(secret)
            receiver.reset()
            size = data.add_webhook_deliveries(count, endpoint.pk)
            results.notes["webhook_body_bytes"] = str(size)
            settle()
            out = open(env.workdir / "webhooks.log", "w+")
            cpu_sender = children_cpu_seconds()
            cpu_pg = tree_cpu_seconds(env.postmaster)
            cpu_receiver = receiver.cpu_seconds()
            cpu_machine = machine_busy_seconds()
            cpu_self = self_cpu_seconds()
            started = time.perf_counter()
            proc = env.popen(
                [PY, MANAGE, "process_webhooks"],
                env=env.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            _wait_sampling([proc], timeout=max(300.0, count / 10))
            elapsed = time.perf_counter() - started
            cpu_sender = children_cpu_seconds() - cpu_sender
            cpu_pg = tree_cpu_seconds(env.postmaster) - cpu_pg
            cpu_receiver = receiver.cpu_seconds() - cpu_receiver
            cpu_machine = machine_busy_seconds() - cpu_machine
            cpu_self = self_cpu_seconds() - cpu_self
            foreign = cpu_machine - cpu_sender - cpu_pg - cpu_receiver - cpu_self
            results.record("foreign_load", max(0.0, foreign) / elapsed)
            out.seek(0)
            text = out.read()
            out.close()
            if proc.returncode:
                raise VerificationError(f"process_webhooks exited {proc.returncode}: {text[-500:]}")
            passes = _SENDER_LINE.findall(text)
            attempted, succeeded, failed = (sum(int(p[i]) for p in passes) for i in range(3))
            inner = sum(float(p[3]) for p in passes)
            stats = receiver.stats()
            problems = []
            if inner <= 0:
                problems.append(f"the command printed no timing: {text[-300:]!r}")
            if (attempted, succeeded, failed) != (count, count, 0):
                problems.append(
                    f"the command reported attempted {attempted}, succeeded {succeeded}, "
                    f"failed {failed}: {text[-300:]!r}"
                )
            counts = data.webhook_counts()
            if counts != {("email.delivered", "succeeded", 1): count}:
                shown = {f"{s} x{a}": n for (_, s, a), n in counts.items()}
                problems.append(f"deliveries {shown}, expected {count} succeeded x1")
            tries = WebhookAttempt.objects.count()
            if tries != count:
                problems.append(f"{tries} attempt rows, expected {count}")
            if stats["requests"] != count or stats["unique_ids"] != count:
                problems.append(
                    f"the receiver got {stats['requests']:.0f} POSTs with "
                    f"{stats['unique_ids']:.0f} distinct webhook-ids, expected {count}"
                )
            for name in ("duplicate_ids", "no_id", "unsigned", "bad_signature"):
                if stats[name]:
                    problems.append(f"{name}: {stats[name]:.0f}")
            if problems:
                raise VerificationError("process_webhooks: " + "; ".join(problems))
    finally:
        receiver.set_latency(0)
        receiver.set_secret("")
    data.clear_new_rows()
    return WebhookRun(
        elapsed=elapsed,
        inner=inner,
        cpu_sender=cpu_sender,
        cpu_pg=cpu_pg,
        cpu_receiver=cpu_receiver,
        receiver_stats=stats,
    )


def webhooks(
    env: Environment, results: Results, *, count: int, far_count: int, far_ms: float
) -> None:
    """The two sender rows: `count` deliveries to the receiver on loopback answering at
    once ("webhooks": deliveries/s over the process's wall time), then `far_count` to it
    answering after `far_ms` ("webhooks_far": by the command's own timing, start-up left
    out as in the far rows, next to the bound threads / far_ms)."""
    from api import webhook_sender

    results.notes["webhook_threads"] = str(webhook_sender.THREADS)
    rates: dict[str, float] = {}
    for key, n, latency in (("webhooks", count, 0.0), ("webhooks_far", far_count, far_ms)):
        run = attempt(
            results, key, lambda n=n, latency=latency: send_webhooks(env, results, n, latency)
        )
        if run is None:
            continue
        rates[key] = n / run.inner
        stats = run.receiver_stats
        results.record(key + "_wall", n / run.elapsed)
        results.record(key + "_inner", n / run.inner)
        results.record(key + "_cpu_sender", run.cpu_sender / n * 1000)
        results.record(key + "_cpu_pg", run.cpu_pg / n * 1000)
        results.record(key + "_cpu_receiver", run.cpu_receiver / n * 1000)
        results.record(key + "_conns_per_delivery", stats["connections"] / n)
        results.record(key + "_peak_in_flight", stats["peak_in_flight"])
        results.record(key, n / (run.elapsed if key == "webhooks" else run.inner))
    if "webhooks" in rates and "webhooks_far" in rates:
        results.record("webhooks_far:vs_loopback", rates["webhooks_far"] / rates["webhooks"])
    if "webhooks_far" in rates:
        bound = webhook_sender.THREADS / (far_ms / 1000)
        results.record("webhooks_far:of_bound", rates["webhooks_far"] / bound)


def relay_delay(
    env: Environment,
    results: Results,
    limit: LimitSamples,
    *,
    conn_messages: int,
    drain_messages: int,
) -> None:
    """The two rows of a relay answering DATA late: one smtplib connection to the slow sink,
    then a 1-worker drain to it, both between the same two samples of the limit."""

    def one_connection() -> float:
        settle()
        return smtp_rate(env, results, env.slow_sink, conn_messages)

    before = limit.last
    conn = attempt(results, "conn_delay", one_connection)
    drained = attempt(
        results,
        "drain_delay",
        lambda: drain(env, results, 1, env.slow_sink, drain_messages, key="drain_delay"),
    )
    limit.sample()
    limits = results.limits_around(before, limit.last)
    for key, rate in (("conn_delay", conn), ("drain_delay", drained)):
        if rate is not None:
            results.record_rate(key, rate, limits)
    if conn and drained:
        results.record("drain_delay:vs_conn", drained / conn)


# --- providers at a distance ----------------------------------------------------------

ESP_KEYS = {"postmark": "far_postmark", "amazon_ses": "far_ses"}


def _near_and_far(rep: int | str) -> tuple[tuple[str, bool], ...]:
    """The order of a rep's two drains: near first in odd reps, far first in even ones, so
    neither always runs on a machine the other just warmed up."""
    order = (("near", False), ("far", True))
    return order if not isinstance(rep, int) or rep % 2 else order[::-1]


def _distance_drain(
    env: Environment,
    results: Results,
    key: str,
    target: sinkmod.SinkProcess | EspFakeProcess,
    count: int,
    provider_id: int | None = None,
) -> float | None:
    """One 1-worker drain of a near/far pair; records its figures under `key` and returns
    its msg/s by the worker's own timing (start-up left out: it is the same near and far,
    and would hide most of the difference in a short drain), or None if it failed."""
    run = attempt(
        results,
        key,
        lambda: run_drain(env, results, 1, target, count, provider_id=provider_id, count_db=True),
    )
    if run is None:
        return None
    if run.inner <= 0:
        log(f"  {key}: the worker printed no timing; using the wall time (start-up included)")
    rate = count / (run.inner or run.elapsed)
    results.record(key + "_wall", count / run.elapsed)
    results.record(key + "_db_conns", run.db_connections)
    stats = run.target_stats
    if isinstance(target, sinkmod.SinkProcess):
        results.record(key + "_peak_conns", stats["peak_sessions"])
    else:
        results.record(key + "_peak_conns", stats["peak_connections"])
        results.record(key + "_peak_in_flight", stats["peak_in_flight"])
    return rate


def _record_kept(results: Results, key: str, rates: dict[str, float | None], limits: list) -> None:
    for distance in ("near", "far"):
        if rates.get(distance) is not None:
            results.record_rate(f"{key}_{distance}", rates[distance], limits)
    if rates.get("near") and rates.get("far"):
        results.record(key + ":kept", rates["far"] / rates["near"])


def far_smtp(env: Environment, results: Results, limit: LimitSamples, *, count: int) -> None:
    """The SMTP relay at a distance: a 1-worker drain (project defaults) against the far
    sink (every reply env.far_sink_rtt_ms late, one delay per read) and against the near
    sink (the same code at 0 ms); kept = far / near. Then a sample of the limit."""
    before = limit.last
    rates: dict[str, float | None] = {}
    for distance, far in _near_and_far(results.rep):
        sink = env.far_sink if far else env.sink
        rates[distance] = _distance_drain(env, results, f"far_smtp_{distance}", sink, count)
    limit.sample()
    _record_kept(results, "far_smtp", rates, results.limits_around(before, limit.last))


def far_api(
    env: Environment, results: Results, limit: LimitSamples, *, count: int, far_ms: float
) -> None:
    """Each ESP API at a distance: a 1-worker drain through the bench's Postmark and SES
    providers, with the fake answering every send call after `far_ms` and at once; kept =
    far / near. Then a sample of the limit."""
    before = limit.last
    all_rates = {}
    try:
        for kind, key in ESP_KEYS.items():
            provider_id = env.data.esp_providers[kind].pk
            rates: dict[str, float | None] = {}
            for distance, far in _near_and_far(results.rep):
                env.esp.set_latency(far_ms if far else 0)
                rates[distance] = _distance_drain(
                    env, results, f"{key}_{distance}", env.esp, count, provider_id
                )
            all_rates[key] = rates
    finally:
        env.esp.set_latency(0)
    limit.sample()
    limits = results.limits_around(before, limit.last)
    for key, rates in all_rates.items():
        _record_kept(results, key, rates, limits)


def far_send(env: Environment, requests: int, far_ms: float) -> dict[str, float]:
    """Sequential POST /send with the default provider the relay at 0 ms (env.sink) and
    `far_ms` away (env.far_sink), alternating request by request; the round trips a /send
    costs = (far p50 - near p50) / far_ms."""
    env.data.clear_new_rows()
    body = json.dumps({"to": TO_EMAIL, "subject": SUBJECT, "html": HTML, "text": TEXT}).encode()
    sinks = {"near": env.sink, "far": env.far_sink}
    for sink in sinks.values():
        sink.reset()
    times: dict[str, list[float]] = {"near": [], "far": []}
    warmup = 3
    settle()
    try:
        for i in range(requests + warmup):
            order = ("near", "far") if i % 2 else ("far", "near")
            for distance in order:
                env.data.point_provider_at(sinks[distance].port)
                t = time.perf_counter()
                status, data = env.http("POST", "/api/v1/mail/send", body)
                elapsed = time.perf_counter() - t
                if status != 200:
                    raise VerificationError(f"/send answered {status}: {data[:300]!r}")
                if i >= warmup:
                    times[distance].append(elapsed * 1000)
    finally:
        env.data.point_provider_at(env.sink.port)
    for distance, sink in sinks.items():
        accepted = sink.stats()["accepted"]
        if accepted != requests + warmup:
            raise VerificationError(
                f"/send far: the {distance} sink counted {accepted:.0f} of {requests + warmup}"
            )
    counts = env.data.status_counts()
    if counts != {"sent": 2 * (requests + warmup)}:
        raise VerificationError(f"/send far: statuses {counts}, expected all sent")
    env.data.clear_new_rows()
    near_p50, far_p50 = percentile(times["near"], 50), percentile(times["far"], 50)
    return {
        "near_p50": near_p50,
        "near_p99": percentile(times["near"], 99),
        "far_p50": far_p50,
        "far_p99": percentile(times["far"], 99),
        "round_trips": (far_p50 - near_p50) / far_ms,
    }


# --- the HTTP API -------------------------------------------------------------------------


def ingest_rate(
    env: Environment, results: Results, requests: int, clients: int, *, templated: bool = False
) -> float:
    """Concurrent client processes POST /send-batch (100 messages each) to gunicorn; with
    `templated`, every item names the bench's template instead of its own content."""
    env.data.clear_new_rows()
    key = "ingest_template" if templated else "ingest"
    template = {"alias": TEMPLATE_ALIAS, "variables": TEMPLATE_VARIABLES}
    content = (
        {"template": template} if templated else {"subject": SUBJECT, "html": HTML, "text": TEXT}
    )
    body = json.dumps(
        {
            "messages": [{"to": f"user{i}@example.com", **content} for i in range(100)],
            "from_email": FROM_EMAIL,
        }
    )
    per_client = [requests // clients] * clients
    for i in range(requests % clients):
        per_client[i] += 1
    settle()
    cpu_app = tree_cpu_seconds(env.gunicorn.pid)
    cpu_pg = tree_cpu_seconds(env.postmaster)
    start_at = time.monotonic() + 1.0  # every client started and waiting by then
    procs = []
    for n in per_client:
        if not n:
            continue
        proc = env.popen(
            [PY, str(BENCH_DIR / "clients.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        job = {
            "port": env.http_port,
            "path": "/api/v1/mail/send-batch",
            "headers": env.headers(),
            "body": body,
            "count": n,
            "start_at": start_at,
        }
        proc.stdin.write(json.dumps(job))
        proc.stdin.close()
        procs.append(proc)
    answers = []
    for proc in procs:
        out = proc.stdout.read()
        proc.wait(timeout=600)
        if proc.returncode:
            raise VerificationError(f"an ingest client exited {proc.returncode}")
        answers.append(json.loads(out))
    wall = max(r["ended"] for r in answers) - min(r["started"] for r in answers)
    cpu_clients = sum(r["cpu"] for r in answers)
    cpu_app = tree_cpu_seconds(env.gunicorn.pid) - cpu_app
    cpu_pg = tree_cpu_seconds(env.postmaster) - cpu_pg
    if min(r["started"] for r in answers) > start_at + 0.05:
        log("  ingest: a client started late; the clients may be the bottleneck")
    ok = sum(r["ok"] for r in answers)
    errors = [e for r in answers for e in r["errors"]]
    if ok != requests:
        raise VerificationError(f"ingest: {ok} of {requests} requests answered 200: {errors[:3]}")
    expected = ok * 100
    counts = env.data.status_counts()
    if counts != {"queued": expected}:
        raise VerificationError(f"ingest: statuses {counts}, expected {expected} queued")
    env.data.clear_new_rows()
    results.record(f"{key}_cpu_app", cpu_app / expected * 1000)
    results.record(f"{key}_cpu_pg", cpu_pg / expected * 1000)
    results.record(f"{key}_cpu_clients", cpu_clients / expected * 1000)
    return expected / wall


def render_rate(renders: int) -> float:
    """The bench's template rendered in this process (one core), with its variables: the
    cost a templated /send or batch item adds. Templates per second."""
    from api import templating

    def once() -> templating.Rendered:
        return templating.render(
            subject=TEMPLATE_SUBJECT,
            html_body=TEMPLATE_HTML,
            text=TEMPLATE_TEXT,
            defaults={},
            variables=TEMPLATE_VARIABLES,
        )

    rendered = once()
    if (rendered.subject, rendered.html, rendered.text) != (SUBJECT, HTML, TEXT):
        raise VerificationError("render: the bench template does not render to the receipt")
    started = time.perf_counter()
    for _ in range(renders):
        once()
    return renders / (time.perf_counter() - started)


def latency(env: Environment, requests: int) -> dict[str, float]:
    """/send (sequential) next to a bare smtplib transaction on a fresh connection."""
    n = requests
    env.data.clear_new_rows()
    env.data.point_provider_at(env.sink.port)
    env.sink.reset()
    body = json.dumps({"to": TO_EMAIL, "subject": SUBJECT, "html": HTML, "text": TEXT}).encode()
    msg = env.data.message_bytes
    send, bare = [], []
    warmup = 5
    settle()
    for i in range(n + warmup):
        t = time.perf_counter()
        client = smtplib.SMTP("127.0.0.1", env.sink.port, timeout=30)
        client.sendmail(FROM_EMAIL, [TO_EMAIL], msg)
        client.quit()
        t_bare = time.perf_counter() - t
        t = time.perf_counter()
        status, data = env.http("POST", "/api/v1/mail/send", body)
        t_send = time.perf_counter() - t
        if status != 200:
            raise VerificationError(f"/send answered {status}: {data[:300]!r}")
        if i >= warmup:
            bare.append(t_bare * 1000)
            send.append(t_send * 1000)
    stats = env.sink.stats()
    if stats["accepted"] != 2 * (n + warmup):
        raise VerificationError(
            f"latency: sink counted {stats['accepted']:.0f} of {2 * (n + warmup)}"
        )
    counts = env.data.status_counts()
    if counts != {"sent": n + warmup}:
        raise VerificationError(f"latency: statuses {counts}, expected all sent")
    env.data.clear_new_rows()
    overhead = [s - b for s, b in zip(send, bare, strict=True)]
    return {
        "send_p50": percentile(send, 50),
        "send_p99": percentile(send, 99),
        "bare_p50": percentile(bare, 50),
        "bare_p99": percentile(bare, 99),
        "overhead_p50": percentile(send, 50) - percentile(bare, 50),
        "overhead_p99_paired": percentile(overhead, 99),
    }


def add_status_history(env: Environment, results: Results, rows: int) -> int:
    """Before the reps: the sent messages the status lookups pick from. Returns the rows
    then in the table (they stay for the whole run)."""
    log(f"inserting {rows:,} sent messages for the status lookups")
    t0 = time.perf_counter()
    total, size = env.data.add_sent_history(rows)
    results.notes["table"] = f"{total:,} rows in {env.data.table} ({size} with indexes)"
    log(f"  {total:,} rows ({size}) in {time.perf_counter() - t0:.1f}s")
    return total


def status_lookups(env: Environment, lookups: int) -> dict[str, float]:
    """GET /status for random existing ids, and (one in three) for unknown ids: the
    404 costs the same request, key and query without a row, so the difference is
    what fetching and rendering the message adds."""
    from api.models import Message

    lo, hi = env.data.status_range
    ids = random.sample(range(lo, hi + 1), min(lookups, hi - lo + 1))
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
        status, data = env.http("GET", path)
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


# --- once per run -------------------------------------------------------------------------


def memory(env: Environment, messages: int) -> dict[str, float]:
    """Peak RSS of one process_mail_queue draining `messages`, and its course."""
    n = messages
    data = env.data
    data.clear_new_rows()
    data.vacuum()
    data.point_provider_at(env.sink.port)
    env.sink.reset()
    log(f"memory: queueing {n:,} messages")
    data.insert_copies(n, chunk=50_000)
    log("memory: draining them with one worker")
    settle()
    out = open(env.workdir / "memory-drain.log", "w+")
    started = time.perf_counter()
    proc = env.popen(
        [PY, MANAGE, "process_mail_queue"],
        env=env.env,
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
                done = env.sink.stats()["accepted"] / n
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
    _verify_sent(env, env.sink, n, "memory drain")
    data.clear_new_rows()
    data.vacuum()
    result = {"peak": hwm, "end": rss, "rate": n / elapsed}
    for mark in marks:
        result[f"at{int(mark * 100)}"] = at.get(mark, float("nan"))
    return result


def startup_seconds(env: Environment) -> float:
    """Wall seconds of process_mail_queue on an empty queue (interpreter + Django)."""
    env.data.clear_new_rows()
    settle()
    started = time.perf_counter()
    subprocess.run(
        [PY, MANAGE, "process_mail_queue"],
        env=env.env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def profile_drain(env: Environment, count: int) -> str:
    """With --profile: one 1-worker drain under cProfile, written to
    bench/results/drain-profile.txt; returns the top of the cumulative listing."""
    env.data.clear_new_rows()
    env.data.point_provider_at(env.sink.port)
    env.sink.reset()
    env.data.insert_copies(count)
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
        env={**env.env, "MAILPASS_QUEUE_CONNECTIONS": "1"},
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    _verify_sent(env, env.sink, count, "profiled drain")
    env.data.clear_new_rows()
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
