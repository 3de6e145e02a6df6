"""A run's figures and the table they make (printed, and written to bench/results/latest.txt
with the raw numbers in latest.json).

Each figure is kept once per rep under a key ("drain1", "lat_send_p50", ...); a rate measured
between two samples of the limit also gets "<key>:ratio", its ratio to their mean. The table
shows the median of each key over the reps and its spread (min-max).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
from pathlib import Path

from environment import ROOT


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class Results:
    """Every figure of a run, and what could not be verified."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}  # key -> one value per rep
        self.errors: list[str] = []
        self.notes: dict[str, str] = {}
        self.memory: dict[str, float] | None = None  # the memory row, measured once
        self.rep: int | str = 0  # what is running now, for the error messages
        self.brackets = 0  # measurements with limit samples around them
        self.unsteady = 0  # ... whose two limit samples differ by more than 1.5x

    def record(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)

    def limits_around(self, before: float | None, after: float | None) -> list[float]:
        """The limit samples around a measurement; counts the brackets whose two samples
        disagree by more than 1.5x (the machine changed speed in the middle of it)."""
        limits = [x for x in (before, after) if x]
        if limits:
            self.brackets += 1
            if len(limits) == 2 and max(limits) > 1.5 * min(limits):
                self.unsteady += 1
        return limits

    def record_rate(self, key: str, rate: float, limits: list[float]) -> None:
        """A rate, and its ratio to the mean of the limit samples around it."""
        self.record(key, rate)
        if limits:
            self.record(key + ":ratio", rate / statistics.fmean(limits))

    def rep_summary(self) -> str:
        """The headline figures of the last rep, for the progress log."""
        parts = []
        for key in (
            "limit",
            "drain1:ratio",
            "drain2:ratio",
            "drain3:ratio",
            "web_far:vs_near",
            "drain1_hooks:vs_drain1",
            "drain1_signed:vs_drain1",
            "webhooks",
            "webhooks_far:of_bound",
            "drain_delay:vs_conn",
            "far_smtp:kept",
            "far_postmark:kept",
            "far_ses:kept",
            "ingest",
            "lat_overhead_p50",
            "far_send_round_trips",
            "status_p99",
        ):
            if self.values.get(key):
                parts.append(f"{key}={self.values[key][-1]:.3g}")
        return " ".join(parts)


# --- the table ----------------------------------------------------------------------------

HEADER = (
    "metric",
    "median",
    "min-max",
    "unit",
    "x limit (min-max)",
    "target",
    "measured vs target",
    "met?",
)
CPU_PARTS = (("cpu_worker", "worker"), ("cpu_pg", "PostgreSQL"), ("cpu_sink", "sink"))


def num(x: float | None, fmt: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def met(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "**NO**")


class Table:
    """The table's rows, one column per HEADER entry, from the medians of the figures."""

    def __init__(self, values: dict[str, list[float]]) -> None:
        self.values = values
        self.rows: list[tuple[str, ...]] = []

    def median(self, key: str) -> float | None:
        return statistics.median(self.values[key]) if self.values.get(key) else None

    def spread(self, key: str, fmt: str) -> str:
        if not self.values.get(key):
            return "-"
        return f"{format(min(self.values[key]), fmt)}-{format(max(self.values[key]), fmt)}"

    def ratio(self, key: str) -> str:
        r = self.median(key + ":ratio")
        if r is None:
            return "-"
        return f"{r:.2f}x ({self.spread(key + ':ratio', '.2f')})"

    def row(
        self,
        label: str,
        median: str,
        spread: str,
        unit: str,
        x_limit: str = "",
        target: str = "",
        vs_target: str = "",
        met: str = "",
    ) -> None:
        self.rows.append((label, median, spread, unit, x_limit, target, vs_target, met))

    def rate(
        self, label: str, key: str, target: str = "", ok: bool | None = None, vs: str = ""
    ) -> None:
        """A msg/s row with its ratio to the limit."""
        x_limit = self.ratio(key) if key != "limit" else "1.00x"
        value, spread = num(self.median(key), ",.0f"), self.spread(key, ",.0f")
        self.row(label, value, spread, "msg/s", x_limit, target, vs, met(ok))

    def ms(self, label: str, key: str, target_ms: float | None = None) -> None:
        """A latency row; with a target, met when the median is below it."""
        m = self.median(key)
        self.row(
            label,
            num(m, ".2f"),
            self.spread(key, ".2f"),
            "ms",
            "",
            f"< {target_ms:g} ms" if target_ms else "",
            f"{m / target_ms:.1f}x target" if target_ms and m else "",
            met(None if target_ms is None or m is None else m < target_ms),
        )

    def info(self, label: str, value: str, unit: str, spread: str = "", note: str = "") -> None:
        """A detail line under the row above it."""
        self.row("  - " + label, value, spread, unit, "", "", note, "")

    def cpu(
        self,
        prefix: str,
        parts: tuple[tuple[str, str], ...] = CPU_PARTS,
        per: str = "message",
        note: str = "",
    ) -> None:
        if all(self.values.get(f"{prefix}_{k}") for k, _ in parts):
            value = " / ".join(f"{name} {self.median(f'{prefix}_{k}'):.2f}" for k, name in parts)
            self.info(f"CPU per {per}{note}", value, "ms")

    def markdown(self) -> list[str]:
        lines = [
            "| " + " | ".join(HEADER) + " |",
            "|" + "|".join("---" for _ in HEADER) + "|",
        ]
        return lines + ["| " + " | ".join(row) + " |" for row in self.rows]


def limit_rows(t: Table, message_size: int) -> None:
    t.rate(
        f"**limit**: plain smtplib, 1 persistent connection, the same pre-built "
        f"{message_size:,} B html+text message",
        "limit",
        "(reference)",
    )
    if t.values.get("sink_busy"):
        t.info(
            "sink CPU during the limit loop",
            f"{t.median('sink_cpu_us'):.0f} us/msg = {t.median('sink_busy') * 100:.0f}% of a core",
            "",
            note="the sink is not the bottleneck",
        )


def sink_rows(t: Table) -> None:
    sink, limit = t.median("sink"), t.median("limit")
    t.row(
        "sink capacity: pipelined raw client",
        num(sink, ",.0f"),
        t.spread("sink", ",.0f"),
        "msg/s",
        f"{sink / limit:.0f}x" if sink is not None and limit else "-",
        "> 20,000 msg/s",
        "",
        met(None if sink is None else sink > 20_000),
    )


def django_rows(t: Table) -> None:
    t.rate("Django EmailMultiAlternatives + send_messages, 1 connection", "django", "(reference)")


def drain_rows(t: Table, n_drain: int) -> None:
    r = t.median("drain1:ratio")
    t.rate(
        f"drain: process_mail_queue, 1 worker, {n_drain:,} msgs",
        "drain1",
        ">= 0.5x limit",
        None if r is None else r >= 0.5,
        f"{r / 0.5:.2f}x target" if r else "",
    )
    if t.values.get("drain1_inner"):
        t.info(
            "the same, excluding start-up (the command's own timing)",
            num(t.median("drain1_inner"), ",.0f"),
            "msg/s",
            t.spread("drain1_inner", ",.0f"),
        )
    t.cpu("drain1")
    if t.values.get("drain1_wall_per_msg"):
        t.info(
            "wall time per message",
            num(t.median("drain1_wall_per_msg"), ".2f"),
            "ms",
            t.spread("drain1_wall_per_msg", ".2f"),
        )


def drain2_rows(t: Table, n_drain: int) -> None:
    r = t.median("drain2:ratio")
    t.rate(
        f"drain: 2 workers at once, {n_drain:,} msgs",
        "drain2",
        ">= 1.0x limit",
        None if r is None else r >= 1.0,
        f"{r:.2f}x target" if r else "",
    )
    t.cpu("drain2")
    _cores("drain2", t, 2)
    r3 = t.median("drain3")
    t.rate(
        f"drain: 3 worker processes at once (as on 3 machines), {n_drain:,} msgs",
        "drain3",
        "(the curve)",
        None,
        f"{r3 / t.median('drain1'):.2f}x drain1" if r3 and t.median("drain1") else "",
    )
    t.cpu("drain3")
    _cores("drain3", t, 3)


def _cores(prefix: str, t: Table, workers: int) -> None:
    """How busy each process was: cores in use over the drain's wall time."""
    keys = (f"{prefix}_core_worker", f"{prefix}_core_pg", f"{prefix}_core_sink")
    if all(t.values.get(k) for k in keys):
        worker, pg, sink = (t.median(k) for k in keys)
        machine = t.median(f"{prefix}_core_machine")
        t.info(
            f"cores busy: each of {workers} worker(s) {worker:.2f} / PostgreSQL {pg:.2f} / "
            f"sink {sink:.2f}" + (f" (machine {machine:.2f} of its cores)" if machine else ""),
            "",
            "cores",
        )


def web_rows(t: Table, clients: int, far_ms: float) -> None:
    """/send through gunicorn under concurrent load (bench/webtier.py)."""
    ratio = t.median("web_far:vs_near")
    for key, label in (
        (
            "web_near",
            f"/send, {clients} concurrent clients, gunicorn.conf.py (threads), provider at 0 ms",
        ),
        ("web_far", f"  the same, the provider's API {far_ms:g} ms away"),
        (
            "web_sync_far",
            f"  the same {far_ms:g} ms away with gunicorn -w 2 (sync workers: before)",
        ),
    ):
        if t.values.get(key):
            target, ok, vs = "", None, ""
            if key == "web_far" and ratio is not None:
                target, ok, vs = ">= 0.7x the 0 ms row", ratio >= 0.7, f"{ratio:.2f}x the 0 ms row"
            t.row(
                label,
                num(t.median(key), ",.0f"),
                t.spread(key, ",.0f"),
                "req/s",
                "",
                target,
                vs,
                met(ok),
            )
            t.info(
                "p50 / p99 per request",
                f"{t.median(key + '_p50'):,.0f} / {t.median(key + '_p99'):,.0f}",
                "ms",
            )


def retention_rows(t: Table, rows: int, drain_messages: int) -> None:
    """purge_messages on `rows` old messages, and a drain beside it (bench/retention.py)."""
    if not t.values.get("purge"):
        return
    t.row(
        f"purge_messages: {rows:,} messages 60 days old, 2 events each (once per run)",
        num(t.median("purge"), ",.0f"),
        f"{t.median('purge_seconds'):.0f} s in all",
        "msg/s",
    )
    t.rate(f"drain: 1 worker, {drain_messages:,} msgs, before the purge", "drain_alone")
    r = t.median("drain_beside_purge:vs_alone")
    t.rate(
        "  the same while purge_messages runs",
        "drain_beside_purge",
        ">= 0.8x before",
        None if r is None else r >= 0.8,
        f"{r:.2f}x before" if r else "",
    )


HOOKS_KEPT_TARGET = 0.9  # issue 17: storing webhook events must not slow the mail queue
SENDER_CPU = (("cpu_sender", "sender"), ("cpu_pg", "PostgreSQL"), ("cpu_receiver", "receiver"))


def drain_hooks_rows(t: Table, n_drain: int) -> None:
    """drain1 again with an endpoint subscribed to `sent`: what storing the events costs."""
    kept = t.median("drain1_hooks:vs_drain1")
    t.rate(
        f"drain with webhooks: 1 worker, {n_drain:,} msgs, an endpoint subscribed to `sent` "
        "(each message also stores an event + a delivery; no sender running)",
        "drain1_hooks",
        f">= {HOOKS_KEPT_TARGET:g}x drain1 (same rep, run right before it)",
        None if kept is None else kept >= HOOKS_KEPT_TARGET,
        f"{kept:.2f}x drain1 ({t.spread('drain1_hooks:vs_drain1', '.2f')})" if kept else "",
    )
    if t.values.get("drain1_hooks_inner"):
        t.info(
            "the same, excluding start-up (the command's own timing)",
            num(t.median("drain1_hooks_inner"), ",.0f"),
            "msg/s",
            t.spread("drain1_hooks_inner", ",.0f"),
        )
    t.cpu("drain1_hooks")
    if t.values.get("drain1_hooks_cpu_worker_added"):
        t.info(
            "CPU per message added to drain1's (same rep)",
            f"worker {t.median('drain1_hooks_cpu_worker_added'):+.2f} / "
            f"PostgreSQL {t.median('drain1_hooks_cpu_pg_added'):+.2f}",
            "ms",
        )


def dkim_rows(t: Table, n_drain: int) -> None:
    """drain1 again with every message DKIM-signed, and what one signature costs."""
    for key, keys in (("drain1_signed", "RSA 2048"), ("drain1_signed2", "RSA 2048 + Ed25519")):
        r = t.median(f"{key}:ratio")
        kept = t.median(f"{key}:vs_drain1")
        t.rate(
            f"drain, every message DKIM-signed ({keys}): 1 worker, {n_drain:,} msgs",
            key,
            ">= 0.5x limit",
            None if r is None else r >= 0.5,
            f"{r / 0.5:.2f}x target; {kept:.2f}x drain1 ({t.spread(f'{key}:vs_drain1', '.2f')})"
            if r and kept
            else "",
        )
        t.cpu(key)
    for key, label in (
        ("sign_rsa", "DKIM signature of the bench message, in-process, one core: RSA 2048"),
        ("sign_both", "the same with RSA 2048 and Ed25519 (two signatures)"),
        ("sign_dkimpy", "dkimpy's own sign(), RSA 2048 (pure-Python RSA: not used)"),
    ):
        if t.values.get(key):
            t.row(
                ("  - " if key != "sign_rsa" else "") + label,
                num(t.median(key), ",.0f"),
                t.spread(key, ",.0f"),
                "us",
                "",
                "",
                f"{t.median(key) / t.median('sign_rsa'):.1f}x ours"
                if key == "sign_dkimpy" and t.median("sign_rsa")
                else "",
                "",
            )


def webhook_rows(t: Table, notes: dict[str, str], n_hooks: int, n_far: int, far_ms: float) -> None:
    """The webhook sender: on loopback, and with the receiver far away."""
    threads = int(notes.get("webhook_threads", "0")) or None
    body = notes.get("webhook_body_bytes")
    threads_text = f"{threads} threads" if threads else "default threads"
    t.row(
        f"webhooks: 1 process_webhooks ({threads_text}), {n_hooks:,} deliveries"
        + (f" ({body} B email.delivered bodies)" if body else "")
        + ", receiver on loopback answering 200 at once",
        num(t.median("webhooks"), ",.0f"),
        t.spread("webhooks", ",.0f"),
        "deliveries/s",
        "",
        "(reference)",
    )
    if t.values.get("webhooks_inner"):
        t.info(
            "the same, excluding start-up (the command's own timing)",
            num(t.median("webhooks_inner"), ",.0f"),
            "deliveries/s",
            t.spread("webhooks_inner", ",.0f"),
        )
    t.cpu("webhooks", SENDER_CPU, per="delivery", note=" (the sender's start-up included)")
    if t.values.get("webhooks_conns_per_delivery"):
        t.info(
            "connections opened at the receiver per delivery; most POSTs in flight at once",
            f"{t.median('webhooks_conns_per_delivery'):.2f}; "
            f"{num(t.median('webhooks_peak_in_flight'), '.0f')}",
            "",
        )

    bound = threads / (far_ms / 1000) if threads else None
    of_bound, vs = t.median("webhooks_far:of_bound"), t.median("webhooks_far:vs_loopback")
    versus = []
    if of_bound is not None:
        versus.append(f"{of_bound:.2f}x bound ({t.spread('webhooks_far:of_bound', '.2f')})")
    if vs is not None:
        versus.append(f"{vs:.2f}x loopback ({t.spread('webhooks_far:vs_loopback', '.2f')})")
    t.row(
        f"webhooks, receiver {far_ms:g} ms away (every POST answered {far_ms:g} ms late): "
        f"1 process_webhooks, {n_far:,} deliveries, by the command's own timing",
        num(t.median("webhooks_far"), ",.0f"),
        t.spread("webhooks_far", ",.0f"),
        "deliveries/s",
        "",
        f"bound: {threads} threads / {far_ms:g} ms = {bound:,.0f}/s" if bound else "",
        "; ".join(versus),
    )
    t.info(
        "the loopback row by the same timing (the basis of x loopback)",
        num(t.median("webhooks_inner"), ",.0f"),
        "deliveries/s",
    )
    if t.values.get("webhooks_far_peak_in_flight"):
        t.info(
            "connections opened at the receiver per delivery; most POSTs in flight at once",
            f"{t.median('webhooks_far_conns_per_delivery'):.2f}; "
            f"{num(t.median('webhooks_far_peak_in_flight'), '.0f')}",
            "",
        )
    t.cpu("webhooks_far", SENDER_CPU, per="delivery", note=" (the sender's start-up included)")
    t.info(
        "start-up included (wall time of the process)",
        num(t.median("webhooks_far_wall"), ",.0f"),
        "deliveries/s",
        t.spread("webhooks_far_wall", ",.0f"),
    )


def delay_rows(t: Table, n_drain: int, delay_ms: float) -> None:
    t.rate(
        f"1 smtplib connection, sink answers DATA after {delay_ms:g} ms",
        "conn_delay",
        "(reference)",
    )
    r = t.median("drain_delay:vs_conn")
    t.rate(
        f"drain: 1 worker, {n_drain:,} msgs, sink answers DATA after {delay_ms:g} ms",
        "drain_delay",
        ">= 5x that 1 connection",
        None if r is None else r >= 5,
        f"{r:.2f}x 1 conn ({t.spread('drain_delay:vs_conn', '.2f')})" if r else "",
    )
    t.cpu("drain_delay")


KEPT_TARGET = 0.7  # issue 14: a worker keeps 70% of its speed at a distance


def far_rows(t: Table, label: str, key: str, near_label: str, *, api: bool) -> None:
    """A provider at a distance: the far rate with kept = far / near against the target,
    the near rate, and what was open at once."""
    kept = t.median(key + ":kept")
    t.rate(
        label,
        key + "_far",
        f">= {KEPT_TARGET:g}x the same at 0 ms",
        None if kept is None else kept >= KEPT_TARGET,
        f"kept {kept:.2f} ({t.spread(key + ':kept', '.2f')})" if kept is not None else "",
    )
    t.rate("  - " + near_label, key + "_near")

    def far_near(part: str) -> str:
        values = [t.median(f"{key}_{d}_{part}") for d in ("far", "near")]
        return " / ".join(num(v, ".0f") for v in values)

    if api:
        t.info("peak send calls in flight at the fake, far / near", far_near("peak_in_flight"), "")
        t.info("peak connections open at the fake, far / near", far_near("peak_conns"), "")
    else:
        t.info("peak SMTP connections open at the sink, far / near", far_near("peak_conns"), "")
    t.info(
        "PostgreSQL connections per worker, far / near",
        far_near("db_conns"),
        "",
        note="most at once, pg_stat_activity every 50 ms",
    )
    walls = [t.median(f"{key}_{d}_wall") for d in ("far", "near")]
    t.info(
        "start-up included (wall time of the process), far / near",
        " / ".join(num(v, ",.0f") for v in walls),
        "msg/s",
    )


def far_smtp_rows(t: Table, n_far: int, far_ms: float) -> None:
    far_rows(
        t,
        f"SMTP relay {far_ms:g} ms away (every reply {far_ms:g} ms late, one delay per read): "
        f"drain, 1 worker, {n_far:,} msgs",
        "far_smtp",
        "the same relay at 0 ms (the same sink code)",
        api=False,
    )


def far_api_rows(t: Table, n_far: int, far_ms: float) -> None:
    for key, name in (("far_postmark", "Postmark"), ("far_ses", "Amazon SES v2")):
        far_rows(
            t,
            f"{name} API {far_ms:g} ms away (fake ESP, every send call {far_ms:g} ms late): "
            f"drain, 1 worker, {n_far:,} msgs",
            key,
            "the same API at 0 ms",
            api=True,
        )


def far_send_rows(t: Table, far_ms: float) -> None:
    t.ms(
        "/send p50, relay at 0 ms (sequential, alternating with the next row)", "far_send_near_p50"
    )
    t.ms("/send p99, relay at 0 ms", "far_send_near_p99")
    t.ms(f"/send p50, relay {far_ms:g} ms away", "far_send_far_p50")
    t.ms(f"/send p99, relay {far_ms:g} ms away", "far_send_far_p99")
    trips = t.median("far_send_round_trips")
    t.row(
        f"round trips a /send costs: (far p50 - near p50) / {far_ms:g} ms",
        num(trips, ".1f"),
        t.spread("far_send_round_trips", ".1f"),
        "round trips",
        "",
        "<= 3",
        "",
        met(None if trips is None else trips <= 3),
    )


def ingest_rows(t: Table, gunicorn_workers: int, clients: int) -> None:
    r = t.median("ingest")
    t.rate(
        f"ingest: /send-batch, 100 msgs/request, gunicorn -w {gunicorn_workers}, "
        f"{clients} client processes",
        "ingest",
        ">= 3,000 msg/s",
        None if r is None else r >= 3000,
        f"{r / 3000:.2f}x target" if r else "",
    )
    t.cpu("ingest", (("cpu_app", "gunicorn"), ("cpu_pg", "PostgreSQL"), ("cpu_clients", "clients")))
    templated = t.median("ingest_template")
    kept = templated / r if templated and r else None
    t.rate(
        "ingest, every item rendered from a template (the same receipt)",
        "ingest_template",
        ">= 0.8x ingest",
        None if kept is None else kept >= 0.8,
        f"{kept:.2f}x ingest" if kept else "",
    )
    t.cpu(
        "ingest_template",
        (("cpu_app", "gunicorn"), ("cpu_pg", "PostgreSQL"), ("cpu_clients", "clients")),
    )
    renders = t.median("render")
    t.row(
        "template render: the receipt with 3 order lines, in-process, one core",
        num(renders, ",.0f"),
        t.spread("render", ",.0f"),
        "templates/s",
        "",
        "",
        f"{renders / r:.1f}x ingest's msg/s" if renders and r else "",
        "",
    )


def latency_rows(t: Table) -> None:
    t.ms("/send latency p50 (sequential requests)", "lat_send_p50")
    t.ms("/send latency p99", "lat_send_p99")
    t.ms("bare SMTP transaction p50 (new connection, EHLO, send, QUIT)", "lat_bare_p50")
    t.ms("bare SMTP transaction p99", "lat_bare_p99")
    t.ms("/send overhead p50 (/send p50 - bare p50)", "lat_overhead_p50", target_ms=5.0)


def status_rows(t: Table, table_rows: int) -> None:
    p50 = t.median("status_p50")
    t.row(
        f"status lookup p50 ({table_rows:,} messages in the table)",
        num(p50, ".2f"),
        t.spread("status_p50", ".2f"),
        "ms",
    )
    t.ms("status lookup p99", "status_p99", target_ms=10)
    if t.values.get("status_404_p50"):
        t.info(
            "unknown id (404: same auth and query, no row) p50 / p99",
            f"{t.median('status_404_p50'):.2f} / {t.median('status_404_p99'):.2f}",
            "ms",
        )


def memory_rows(t: Table, memory: dict[str, float], messages: int, n_drain: int) -> None:
    base = t.median("drain1_rss")
    growth = memory["peak"] / base - 1 if base else None
    t.row(
        f"memory: peak RSS of 1 worker draining {messages:,} (once)",
        f"{memory['peak']:.0f}",
        "-",
        "MiB",
        "",
        f"flat: <= 1.10x the {n_drain:,}-message drain's peak" if base else "flat",
        f"{growth * 100:+.0f}% vs {base:.0f} MiB" if base else "",
        met(None if growth is None else growth <= 0.10),
    )
    course = ", ".join(
        f"{k[2:]}% {memory[k]:.0f}" for k in ("at10", "at25", "at50", "at75", "at90")
    )
    t.info("RSS along the way", f"{course}, end {memory['end']:.0f}", "MiB")
    t.info("its drain rate", f"{memory['rate']:,.0f}", "msg/s")


def startup_rows(t: Table) -> None:
    t.row(
        "process_mail_queue start-up on an empty queue (in every drain)",
        num(t.median("startup"), ".2f"),
        t.spread("startup", ".2f"),
        "s",
    )


def table_text(
    args: argparse.Namespace,
    results: Results,
    *,
    message_size: int,
    table_rows: int | None,
    pg_version: str,
    sink_loop: str,
    elapsed: float,
    code: str,
) -> str:
    """The heading lines, the table of every row not skipped, and what was not verified."""
    skip = args.skip
    t = Table(results.values)
    limit_rows(t, message_size)
    if "sink" not in skip:
        sink_rows(t)
    if "django" not in skip:
        django_rows(t)
    # In run_rep's order: drain1_hooks runs right after drain1, which it is compared with.
    if "drain" not in skip:
        drain_rows(t, args.drain_messages)
    if "webhooks" not in skip:
        drain_hooks_rows(t, args.drain_messages)
    if "dkim" not in skip:
        dkim_rows(t, args.drain_messages)
    if "drain" not in skip:
        drain2_rows(t, args.drain_messages)
    if "webhooks" not in skip:
        webhook_rows(
            t, results.notes, args.webhook_deliveries, args.webhook_far_deliveries, args.far_api_ms
        )
    if "delay" not in skip:
        delay_rows(t, args.drain_messages, args.delay_ms)
    if "far-smtp" not in skip:
        far_smtp_rows(t, args.far_messages, args.far_smtp_ms)
    if "far-api" not in skip:
        far_api_rows(t, args.far_messages, args.far_api_ms)
    if "ingest" not in skip:
        ingest_rows(t, args.gunicorn_workers, args.ingest_clients)
    if "latency" not in skip:
        latency_rows(t)
    if "far-send" not in skip:
        far_send_rows(t, args.far_smtp_ms)
    if "status" not in skip:
        status_rows(t, table_rows)
    if "web" not in skip:
        web_rows(t, args.web_clients, args.far_api_ms)
    if "retention" not in skip:
        retention_rows(t, args.retention_rows, args.drain_messages)
    if "memory" not in skip and results.memory:
        memory_rows(t, results.memory, args.memory_messages, args.drain_messages)
    if "startup" not in skip:
        startup_rows(t)

    head = heading(
        args, results, pg_version=pg_version, sink_loop=sink_loop, elapsed=elapsed, code=code
    )
    text = "\n".join(head) + "\n\n" + "\n".join(t.markdown()) + "\n"
    if results.errors:
        text += (
            "\nNOT VERIFIED (these runs are left out of the figures):\n"
            + "\n".join(f"- {e}" for e in results.errors)
            + "\n"
        )
    return text


def heading(
    args: argparse.Namespace,
    results: Results,
    *,
    pg_version: str,
    sink_loop: str,
    elapsed: float,
    code: str,
) -> list[str]:
    """What ran where, and what disturbed it."""
    notes = results.notes
    head = [
        f"MailPass bench, {dt.datetime.now():%Y-%m-%d %H:%M}, PostgreSQL {pg_version}, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores; "
        f"{args.reps} interleaved reps{' (--quick: a smoke run)' if args.quick else ''}; "
        f"took {elapsed / 60:.1f} min",
        f"sink: bench/sink.py on {sink_loop}. x limit: each rate over the mean of the limit "
        "samples taken just before and just after it, median (min-max) over the reps."
        + (f" {notes['table']}." if "table" in notes else ""),
        f"code: {code}",
    ]
    load = results.values.get("foreign_load")
    if load:
        line = (
            f"other load on the machine during the drains (CPU used by processes outside "
            f"the bench): median {statistics.median(load):.2f} cores, max {max(load):.2f} "
            f"of {os.cpu_count()}"
        )
        if max(load) > 0.25:
            line += " -- the run was disturbed; ratios hold up better than absolute rates"
        head.append(line)
    if results.unsteady:
        head.append(
            f"machine speed: in {results.unsteady} of {results.brackets} measurements the "
            "limit samples before and after differed by more than 1.5x (the medians absorb a "
            "few)"
        )
    overrides = " ".join(
        f"{k}={v}"
        for k, v in sorted(os.environ.items())
        if k.startswith("MAILPASS_") and k not in BENCH_SETTINGS
    )
    if overrides:
        head.append(f"environment: {overrides}")
    return head


# What the bench itself sets for its own processes: not an override worth a line.
BENCH_SETTINGS = (
    "MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS",
    "MAILPASS_SMTP_PORTS",
    "MAILPASS_ESP_API_URLS",
)


def write_results(path: Path, table: str, args: argparse.Namespace, results: Results) -> None:
    """The table to `path`, the raw numbers next to it (.json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(table)
    path.with_suffix(".json").write_text(
        json.dumps(
            {
                "args": vars(args) | {"skip": sorted(args.skip)},
                "values": results.values,
                "memory": results.memory,
                "errors": results.errors,
                "notes": results.notes,
            },
            indent=1,
            default=str,
        )
    )


# --- which code was measured --------------------------------------------------------------


def git_commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def code_version(commit_at_start: str) -> str:
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
    if commit_at_start != commit:
        commit = f"{commit_at_start} at the start, {commit} at the end"
    return f"commit {commit}" + (
        f" with {len(dirty)} uncommitted changes outside bench/" if dirty else ""
    )
