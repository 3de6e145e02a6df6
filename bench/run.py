"""MailPass benchmark suite: the body of `make bench` (a benchmark, not a test).

    make bench                                # the full run (~15-20 min today, ~6 of
                                              # them the far rows; less as the engine
                                              # hides distance and the drain gets faster)
    make bench BENCH_ARGS=--quick             # a smoke run: small counts, 3 reps (~5 min)
    make bench BENCH_ARGS="--skip memory,status --reps 7"   # any subset; --help lists all
    make bench BENCH_ARGS=--profile           # + a CPU profile of one 1-worker drain
                                              # (bench/results/drain-profile.txt)

Everything runs on this machine, on 127.0.0.1 only: a throwaway PostgreSQL cluster
(bin/pg-test-cluster), a fresh migrated database, three minimal SMTP sinks (bench/sink.py:
one answering at once, one answering DATA after --delay-ms, one --far-smtp-ms away), a fake
ESP API (bench/esp_fake.py: Postmark's and SES v2's send calls), a webhook receiver
(bench/webhook_receiver.py) and gunicorn for the HTTP figures. All of it is stopped on
exit, also on Ctrl-C or SIGTERM.

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
  webhooks    outbound webhooks (api/outbox.py, api/webhook_sender.py), three rows:
              drain1_hooks: drain1 again while the bench account has an endpoint subscribed
              to `sent`, so each message sent also stores an event and a delivery (no
              sender runs); msg/s and its ratio to drain1 of the same rep. Verified: the
              drain as drain1, and exactly N pending email.sent deliveries after it.
              webhooks: --webhook-deliveries pending deliveries (bulk SQL, ~600 B
              email.delivered bodies), then one `manage.py process_webhooks` (its default
              threads) until it exits, against bench/webhook_receiver.py on 127.0.0.1
              answering 200 at once; deliveries/s = N / wall time of the process. Verified:
              every delivery succeeded at its first attempt, the receiver got N POSTs with
              N distinct webhook-ids, each signed with the endpoint's secret.
              webhooks_far: the same with --webhook-far-deliveries (multiples of the 16
              default threads: no round of POSTs goes out part empty) and the receiver
              answering every POST --far-api-ms late; by the command's own timing (start-up
              left out), next to the bound threads / --far-api-ms and the ratio to the
              loopback row (by the same timing)
  dkim        drain1 again with every message DKIM-signed (the bench sender's domain a
              verified sender domain: RSA 2048; then RSA and Ed25519), msg/s and its ratio
              to drain1 of the same rep; verified as drain1, and every message reached the
              sink signed. And --signatures signatures of the bench message in the bench's
              own process (µs each, one core): providers.dkim with RSA, with both keys,
              and dkimpy's own sign() with the same RSA key (1/20 as many)
  delay       the same 1-worker drain against a sink answering DATA after --delay-ms,
              next to one smtplib connection to that sink
  far-smtp    the SMTP relay at a distance: a 1-worker drain of --far-messages (project
              defaults) against a sink whose every reply, the greeting too, arrives
              --far-smtp-ms late (all replies to one read leave together after one delay,
              so pipelined commands cost one round trip), and against the same sink code
              at 0 ms; msg/s by the worker's own timing (start-up left out), kept = far /
              near (target >= 0.7), the most SMTP sessions open at once at the sink, and
              the most PostgreSQL connections the worker held at once (pg_stat_activity,
              by the worker's application name, sampled every 50 ms)
  far-api     the same through the bench's Postmark and Amazon SES providers, both
              pointed at the fake ESP API (MAILPASS_ESP_API_URLS), which answers every
              send call --far-api-ms late, and at once; plus the most calls in flight
              and connections open at once at the fake
  far-send    sequential POST /send with the relay at 0 ms and --far-smtp-ms away,
              alternating; p50 and p99 of each, and the round trips a /send costs:
              (far p50 - near p50) / --far-smtp-ms
  ingest      client processes POST /send-batch (100 messages each) to gunicorn; the same
              with every item naming a template (the receipt as a Mustache template,
              api/templating.py) instead of its own content; and that template rendered
              --renders times in the bench's own process (templates per second, one core)
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
import sys
import time
from collections.abc import Callable
from pathlib import Path

import measurements as measure
import retention
import webtier
from environment import RESULTS_DIR, Cleanup, Environment, exit_on_signals, log, shut_down
from report import Results, code_version, git_commit, table_text, write_results

FULL = {
    "reps": 5,
    "limit_messages": 2000,
    "django_messages": 1000,
    "drain_messages": 5000,
    "delay_ms": 2.0,
    "delay_conn_messages": 500,
    "ingest_requests": 60,
    "ingest_clients": 4,
    "renders": 5000,
    "signatures": 2000,
    "gunicorn_workers": 2,
    "latency_requests": 150,
    "far_smtp_ms": 20.0,
    "far_api_ms": 100.0,
    "far_messages": 1000,
    "far_send_requests": 100,
    "status_rows": 1_000_000,
    "status_lookups": 300,
    "memory_messages": 100_000,
    "sink_messages": 20_000,
    "webhook_deliveries": 5000,
    "webhook_far_deliveries": 480,
    "web_clients": 32,
    "web_requests": 10,
    "retention_rows": 1_000_000,
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
    "far_messages": 200,
    "far_send_requests": 20,
    "status_rows": 100_000,
    "status_lookups": 100,
    "memory_messages": 20_000,
    "sink_messages": 5_000,
    "signatures": 500,
    "webhook_deliveries": 1000,
    "webhook_far_deliveries": 160,
    "web_requests": 5,
    "retention_rows": 100_000,
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
        help="comma-separated: django,drain,webhooks,dkim,delay,far-smtp,far-api,ingest,latency,"
        "far-send,status,web,retention,memory,startup,sink",
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
    if args.far_smtp_ms <= 0 or args.far_api_ms <= 0:
        parser.error("--far-smtp-ms and --far-api-ms must be above 0 (the far rows divide by them)")
    return args


def run_rep(env: Environment, results: Results, args: argparse.Namespace) -> None:
    """One rep of every row not skipped, in the table's order."""
    skip = args.skip
    rates: dict[str, float] = {}  # this rep's, for the rows compared with another row

    def kept(key: str, measure_rate: Callable[[], float]) -> Callable[[], float]:
        def run() -> float:
            rates[key] = measure_rate()
            return rates[key]

        return run

    if "sink" not in skip:
        rate = measure.attempt(
            results, "sink", lambda: measure.sink_capacity(env, args.sink_messages)
        )
        if rate is not None:
            results.record("sink", rate)
    limit = measure.LimitSamples(env, results, args.limit_messages)
    limit.sample()
    if "django" not in skip:
        limit.rate("django", lambda: measure.django_rate(env, args.django_messages))
    n = args.drain_messages
    if "drain" not in skip:
        limit.rate(
            "drain1",
            kept("drain1", lambda: measure.drain(env, results, 1, env.sink, n, key="drain1")),
        )
    if "webhooks" not in skip:
        # Right after drain1, which it is compared with: the machine drifts within minutes.
        limit.rate(
            "drain1_hooks",
            kept("drain1_hooks", lambda: measure.drain_with_webhooks(env, results, n)),
        )
        if "drain1" in rates and "drain1_hooks" in rates:
            results.record("drain1_hooks:vs_drain1", rates["drain1_hooks"] / rates["drain1"])
            for part in ("cpu_worker", "cpu_pg"):
                added = results.values[f"drain1_hooks_{part}"][-1]
                results.record(
                    f"drain1_hooks_{part}_added", added - results.values[f"drain1_{part}"][-1]
                )
    if "dkim" not in skip:
        # Next to drain1 too, for the same reason.
        for key, ed25519 in (("drain1_signed", False), ("drain1_signed2", True)):
            limit.rate(
                key,
                kept(key, lambda e=ed25519: measure.drain_signed(env, results, n, ed25519=e)),
            )
            if "drain1" in rates and key in rates:
                results.record(f"{key}:vs_drain1", rates[key] / rates["drain1"])
        measure.attempt(
            results, "signing", lambda: measure.signing_costs(env, results, args.signatures)
        )
    if "drain" not in skip:
        limit.rate("drain2", lambda: measure.drain(env, results, 2, env.sink, n, key="drain2"))
        limit.rate("drain3", lambda: measure.drain(env, results, 3, env.sink, n, key="drain3"))
    if "webhooks" not in skip:
        measure.webhooks(
            env,
            results,
            count=args.webhook_deliveries,
            far_count=args.webhook_far_deliveries,
            far_ms=args.far_api_ms,
        )
    if "delay" not in skip:
        measure.relay_delay(
            env,
            results,
            limit,
            conn_messages=args.delay_conn_messages,
            drain_messages=args.drain_messages,
        )
    if "far-smtp" not in skip:
        measure.far_smtp(env, results, limit, count=args.far_messages)
    if "far-api" not in skip:
        measure.far_api(env, results, limit, count=args.far_messages, far_ms=args.far_api_ms)
    if "ingest" not in skip:
        limit.rate(
            "ingest",
            lambda: measure.ingest_rate(env, results, args.ingest_requests, args.ingest_clients),
        )
        limit.rate(
            "ingest_template",
            lambda: measure.ingest_rate(
                env, results, args.ingest_requests, args.ingest_clients, templated=True
            ),
        )
        rate = measure.attempt(results, "render", lambda: measure.render_rate(args.renders))
        if rate is not None:
            results.record("render", rate)
    if "latency" not in skip:
        figures = measure.attempt(
            results, "latency", lambda: measure.latency(env, args.latency_requests)
        )
        for k, value in (figures or {}).items():
            results.record("lat_" + k, value)
    if "far-send" not in skip:
        figures = measure.attempt(
            results,
            "far-send",
            lambda: measure.far_send(env, args.far_send_requests, args.far_smtp_ms),
        )
        for k, value in (figures or {}).items():
            results.record("far_send_" + k, value)
    if "status" not in skip:
        figures = measure.attempt(
            results, "status", lambda: measure.status_lookups(env, args.status_lookups)
        )
        for k, value in (figures or {}).items():
            results.record("status_" + k, value)
    if "web" not in skip:
        measure.attempt(
            results,
            "web",
            lambda: webtier.web_tier(
                env,
                results,
                far_ms=args.far_api_ms,
                clients=args.web_clients,
                per_client=args.web_requests,
            ),
        )
    if "startup" not in skip:
        seconds = measure.attempt(results, "startup", lambda: measure.startup_seconds(env))
        if seconds is not None:
            results.record("startup", seconds)
    measure.attempt(results, "vacuum", env.data.vacuum)


def run(args: argparse.Namespace, cleanup: Cleanup) -> int:
    """Set up, run the reps and the once-only rows, print and write the table. Returns the
    exit status: 1 when a measurement could not be verified."""
    t_start = time.perf_counter()
    results = Results()
    commit_at_start = git_commit()
    env = Environment(cleanup, slow_sink_delay_ms=args.delay_ms, far_sink_rtt_ms=args.far_smtp_ms)
    env.start()
    table_rows = None
    if "status" not in args.skip:
        table_rows = measure.add_status_history(env, results, args.status_rows)
    if {"ingest", "latency", "far-send", "status"} - args.skip:
        log("starting gunicorn")
        env.start_gunicorn(args.gunicorn_workers)
    for rep in range(1, args.reps + 1):
        results.rep = rep
        t0 = time.perf_counter()
        log(f"rep {rep}/{args.reps}")
        run_rep(env, results, args)
        log(f"rep {rep} done in {time.perf_counter() - t0:.0f}s: " + results.rep_summary())
    results.rep = "retention"
    if "retention" not in args.skip:
        measure.attempt(
            results,
            "retention",
            lambda: retention.retention(
                env, results, rows=args.retention_rows, drain_messages=args.drain_messages
            ),
        )
    results.rep = "memory"
    if "memory" not in args.skip:
        results.memory = measure.attempt(
            results, "memory", lambda: measure.memory(env, args.memory_messages)
        )
    elapsed = time.perf_counter() - t_start
    if args.profile:
        results.rep = "profile"
        if measure.attempt(
            results, "profile", lambda: measure.profile_drain(env, args.drain_messages)
        ):
            log(f"CPU profile of a drain: {RESULTS_DIR / 'drain-profile.txt'}")
    table = table_text(
        args,
        results,
        message_size=len(env.data.message_bytes),
        table_rows=table_rows,
        pg_version=env.pg_version,
        sink_loop=env.sink.loop_kind,
        elapsed=elapsed,
        code=code_version(commit_at_start),
    )
    print(table)
    out = Path(args.results)
    write_results(out, table, args, results)
    log(f"written to {out} (raw numbers: {out.with_suffix('.json')})")
    return 1 if results.errors else 0


def main() -> int:
    args = parse_args()
    cleanup = Cleanup()
    exit_on_signals()
    try:
        return run(args, cleanup)
    finally:
        shut_down(cleanup)


if __name__ == "__main__":
    sys.exit(main())
