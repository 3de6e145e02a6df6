"""The dashboard's message pages at 1,000,000 messages (a benchmark, not a test).

    .venv/bin/python bench/dashboard.py                      # 1,000,000 messages, 20 requests
    .venv/bin/python bench/dashboard.py --messages 100000    # a smoke run
    .venv/bin/python bench/dashboard.py --explain            # + EXPLAIN ANALYZE of each page's
                                                             #   slowest query

On this machine, on 127.0.0.1 only: a throwaway PostgreSQL cluster (bin/pg-test-cluster),
migrated, then --messages messages for one account and 5% as many for another, bulk-loaded
with INSERT ... SELECT generate_series: 90 days of them, newest last, with a mix of statuses
(delivered 55%, sent 37%, failed 3%, bounced 2%, suppressed 1.5%, complained 0.1%, and a
backlog of queued/sending at the top), tags, subjects and ~200,000 recipients. Then VACUUM
ANALYZE, as autovacuum would have done by then.

Then the other side of the bargain: the time one UPDATE takes to change the status of
--write-rows messages, with the dashboard's indexes and with the index they replaced (each
status change puts an entry in every index; the queue's drain is the product's headline).

Each case is one dashboard page, requested through Django's test Client by a logged-in
user in this process (template rendering included, no HTTP server): 2 warm-up requests,
then --requests timed ones. The table shows the median and p95 in ms, the SQL queries of
one request, and the rows the page shows. Target: every page well under 200 ms.
Everything is stopped and removed on exit, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import statistics
import sys
import time

from environment import (
    Cleanup,
    exit_on_signals,
    log,
    settings_env,
    setup_django,
    shut_down,
    start_postgres,
)
from report import percentile

RARE_RECIPIENT = "Rare.Person@Example.org"  # one message, 60 days back
ROW_LINK = re.compile(r'<a href="/messages/(\d+)/">')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per case")
    parser.add_argument("--explain", action="store_true", help="print query plans")
    parser.add_argument("--write-rows", type=int, default=20_000, help="rows per timed UPDATE")
    parser.add_argument("--write-reps", type=int, default=5)
    parser.add_argument(
        "--keep", action="store_true", help="leave the database running at the end (Ctrl-C stops)"
    )
    return parser.parse_args()


# One chunk of messages for one account. %(n)s is the account's total, g its position:
# created_at runs evenly over 90 days up to now, so ids follow time as they do for real.
LOAD_SQL = """
INSERT INTO api_message (
    account_id, provider_id, message_id, from_email, from_name, to_email, reply_to, cc, bcc,
    subject, html, text, tags, metadata, track_opens, track_clicks, status, error_message,
    failure_reason, attempts, queued_at, next_attempt_at, turn_at, provider_message_id,
    created_at, sent_at, updated_at)
SELECT
    %(account)s, %(provider)s,
    '<' || md5(%(seed)s || ':' || g) || '.' || g || '@bench.mailpass.test>',
    'shop@example.com', 'Example Shop',
    'customer' || floor(r3 * 200000)::int || '@example.com', '', '[]', '[]',
    subject, '<p>' || subject || '</p><p>Thanks for shopping with us.</p>',
    subject || E'\\n\\nThanks for shopping with us.', tags,
    jsonb_build_object('order_id', g::text), false, false,
    status,
    CASE status WHEN 'failed' THEN '550 5.1.1 mailbox unavailable' END,
    CASE status WHEN 'failed' THEN 'rejected' END,
    CASE WHEN status IN ('queued', 'sending') THEN 0 ELSE 1 END,
    created, created, created, '', created,
    CASE WHEN status NOT IN ('queued', 'sending', 'failed', 'suppressed') THEN created END,
    created
FROM (
    SELECT g, r3, created,
        CASE
            WHEN r1 < 0.40 THEN 'Your receipt for order #' || g
            WHEN r1 < 0.65 THEN 'Reset your password'
            WHEN r1 < 0.85 THEN 'Weekly digest: what is new in week ' || (g %% 52)
            WHEN r1 < 0.95 THEN 'Welcome to Example Shop'
            WHEN r1 < 0.9995 THEN 'Your order #' || g || ' has shipped'
            ELSE 'Security alert: a new sign-in to your account'
        END AS subject,
        CASE
            WHEN r1 < 0.40 THEN '["receipt"]'
            WHEN r1 < 0.65 THEN '["password-reset"]'
            WHEN r1 < 0.85 THEN '["newsletter", "weekly"]'
            WHEN r1 < 0.95 THEN '["welcome"]'
            WHEN r1 < 0.9995 THEN '[]'
            ELSE '["security"]'
        END::jsonb AS tags,
        CASE
            WHEN g > %(n)s - 2000 THEN
                CASE WHEN r2 < 0.5 THEN 'queued' WHEN r2 < 0.55 THEN 'sending' ELSE 'sent' END
            WHEN r2 < 0.55 THEN 'delivered'
            WHEN r2 < 0.92 THEN 'sent'
            WHEN r2 < 0.95 THEN 'failed'
            WHEN r2 < 0.97 THEN 'bounced'
            WHEN r2 < 0.971 THEN 'complained'
            WHEN r2 < 0.986 THEN 'suppressed'
            ELSE 'sent'
        END AS status
    FROM (
        SELECT g, random() AS r1, random() AS r2, random() AS r3,
            now() - (%(n)s - g) * (interval '90 days' / %(n)s) AS created
        FROM generate_series(%(first)s, %(last)s) g
    ) AS raw
) AS picked
"""


def load(account_id: int, provider_id: int, n: int, seed: str) -> None:
    from django.db import connection

    chunk = 100_000
    with connection.cursor() as cur:
        for first in range(1, n + 1, chunk):
            last = min(n, first + chunk - 1)
            params = {"account": account_id, "provider": provider_id, "seed": seed, "n": n}
            cur.execute(LOAD_SQL, {**params, "first": first, "last": last})
            log(f"  {last:,} of {n:,}")
        cur.execute(
            "UPDATE api_message SET to_email = %s WHERE id = "
            "(SELECT id FROM api_message WHERE account_id = %s ORDER BY id OFFSET %s LIMIT 1)",
            [RARE_RECIPIENT, account_id, n // 3],
        )


def setup(args: argparse.Namespace) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import account_create
    from api.models import Message, MessageEvent
    from providers import limits
    from providers.services import provider_create

    log("migrating a fresh database")
    call_command("migrate", "--noinput", verbosity=0)
    accounts = []
    for name in ("bench", "other"):
        user = get_user_model().objects.create_user(username=name, password=None)
        account = account_create(owner=user, name=name)
        provider = provider_create(
            account=account,
            name=f"{name} relay",
            host="127.0.0.1",
            port=2525,
            security="none",
            from_email="shop@example.com",
            hourly_limit=5000,
            daily_limit=100_000,
            is_default=True,
        )
        limits.record_usage(provider=provider, count=1234)
        accounts.append((user, account, provider))
    t0 = time.perf_counter()
    for (_, account, provider), n, seed in zip(
        accounts, (args.messages, args.messages // 20), ("bench", "other"), strict=True
    ):
        log(f"loading {n:,} messages for {account.name}")
        load(account.pk, provider.pk, n, seed)
    log("VACUUM ANALYZE")
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) api_message")
        cur.execute("SELECT pg_size_pretty(pg_table_size('api_message'))")
        table_size = cur.fetchone()[0]
        cur.execute(
            "SELECT indexrelname, pg_size_pretty(pg_relation_size(indexrelid)) "
            "FROM pg_stat_user_indexes WHERE relname = 'api_message' ORDER BY indexrelname"
        )
        indexes = cur.fetchall()
    log(f"loaded in {time.perf_counter() - t0:.0f}s")
    user, account, _ = accounts[0]
    # The detail page's message: an old delivered one with a few events.
    detail = Message.objects.filter(account=account, status="delivered").order_by("id")[1000]
    for event_type, extra in (
        ("delivered", {"description": "250 2.0.0 OK"}),
        ("open", {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0"}),
        ("click", {"url": "https://shop.example.com/orders/1", "ip_address": "203.0.113.7"}),
    ):
        MessageEvent.objects.create(account=account, message=detail, event_type=event_type, **extra)
    return {
        "user": user,
        "account": account,
        "detail": detail,
        "table_size": table_size,
        "indexes": indexes,
    }


def cases(world: dict) -> list[tuple[str, str, dict]]:
    import datetime as dt

    from django.utils import timezone

    today = timezone.localdate()
    week = {
        "date_from": (today - dt.timedelta(days=37)).isoformat(),
        "date_to": (today - dt.timedelta(days=31)).isoformat(),
    }
    pk = world["detail"].pk
    return [
        ("log: no filter", "/messages/", {}),
        ("log: status=delivered (55%)", "/messages/", {"status": "delivered"}),
        ("log: status=failed (3%)", "/messages/", {"status": "failed"}),
        ("log: status=complained (0.1%)", "/messages/", {"status": "complained"}),
        ("log: status=queued (backlog)", "/messages/", {"status": "queued"}),
        ("log: status=sending", "/messages/", {"status": "sending"}),
        ("log: recipient (~5 messages)", "/messages/", {"recipient": "customer4242@example.com"}),
        ("log: rare recipient (1, 60 days)", "/messages/", {"recipient": RARE_RECIPIENT.lower()}),
        ("log: unknown recipient", "/messages/", {"recipient": "nobody@example.net"}),
        ("log: tag=receipt (40%)", "/messages/", {"tag": "receipt"}),
        ("log: tag=security (0.05%)", "/messages/", {"tag": "security"}),
        ("log: tag=unknown", "/messages/", {"tag": "no-such-tag"}),
        ("log: one week, 5 weeks back", "/messages/", week),
        ("log: subject, few hits", "/messages/", {"q": "security alert"}),
        ("log: subject, no hits", "/messages/", {"q": "no such subject"}),
        ("log: subject in that week", "/messages/", {"q": "security alert", **week}),
        (
            "log: failed + tag + subject",
            "/messages/",
            {"status": "failed", "tag": "receipt", "q": "order"},
        ),
        ("log: page 50 (cursor)", "PAGE50", {}),
        ("message detail (3 events)", f"/messages/{pk}/", {}),
        ("message html (iframe)", f"/messages/{pk}/html/", {}),
        ("overview (14 days, cold cache)", "/", {"cold": True}),
        ("overview (14 days)", "/", {}),
        ("overview (48 hours)", "/", {"by": "hour"}),
    ]


def page_50_url(client) -> str:
    url = "/messages/"
    for _ in range(49):
        html = client.get(url).content.decode()
        found = re.search(r'<a href="([^"]*)" rel="next">', html)
        url = "/messages/" + found.group(1).replace("&amp;", "&")
    return url


def measure(args: argparse.Namespace, world: dict) -> list[tuple]:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(world["user"])
    rows = []
    for name, url, params in cases(world):
        # A cold case starts each request without the overview's cached counts of past days.
        cold = params.pop("cold", False)
        if url == "PAGE50":
            url = page_50_url(client)
        for _ in range(2):
            response = client.get(url, params)
            assert response.status_code == 200, (name, response.status_code)
        times = []
        for _ in range(args.requests):
            if cold:
                cache.clear()
            t0 = time.perf_counter()
            client.get(url, params)
            times.append((time.perf_counter() - t0) * 1000)
        if cold:
            cache.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        shown = len(set(ROW_LINK.findall(response.content.decode())))
        note = "window note" if "look at" in response.content.decode() else ""
        rows.append(
            (name, statistics.median(times), percentile(times, 95), len(queries), shown, note)
        )
        log(f"{name}: median {statistics.median(times):.1f} ms")
        if args.explain:
            explain(name, queries.captured_queries)
    return rows


# What the dashboard's indexes cost the queue: every status change of a message writes a
# new row version, and (status being in partial index predicates, no change is HOT) each
# version gets an entry in every index whose predicate it matches. Timed: one UPDATE moving
# --write-rows sent messages to delivered (a webhook's change; the queue's own changes touch
# the same indexes), with this migration's indexes and with the ones it replaced.
BEFORE = "CREATE INDEX message_account_recent_before ON api_message (account_id, created_at DESC)"
DASHBOARD_INDEXES = (
    "message_account_recent",
    "message_account_recipient",
    "message_account_trouble",
)


def write_cost(rows: int, reps: int) -> tuple[float, float]:
    """(µs per row changed with the dashboard's indexes, µs without them), medians."""
    from django.db import connection, transaction

    with connection.cursor() as cur:
        cur.execute(BEFORE)
        cur.execute(
            "SELECT array_agg(id) FROM (SELECT id FROM api_message WHERE status = 'sent' "
            "ORDER BY id DESC LIMIT %s) AS picked",
            [rows],
        )
        ids = cur.fetchone()[0]
    timings: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(reps):
        for with_dashboard in (True, False):
            with transaction.atomic(), connection.cursor() as cur:
                dropped = ["message_account_recent_before"] if with_dashboard else DASHBOARD_INDEXES
                for name in dropped:
                    cur.execute(f"DROP INDEX {name}")  # undone by the rollback below
                t0 = time.perf_counter()
                cur.execute(
                    "UPDATE api_message SET status = 'delivered', updated_at = now() "
                    "WHERE id = ANY(%s)",
                    [ids],
                )
                timings[with_dashboard].append((time.perf_counter() - t0) * 1e6 / len(ids))
                transaction.set_rollback(True)
            with connection.cursor() as cur:
                cur.execute("VACUUM api_message")
    with connection.cursor() as cur:
        cur.execute("DROP INDEX message_account_recent_before")
    return statistics.median(timings[True]), statistics.median(timings[False])


def explain(name: str, captured: list[dict]) -> None:
    from django.db import connection

    slowest = max(captured, key=lambda q: float(q["time"]))
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
        plan = "\n".join(f"    {line}" for (line,) in cur.fetchall())
    print(f"\n== {name} ({slowest['time']} s)\n    {slowest['sql'][:400]}\n{plan}", flush=True)


def report(
    args: argparse.Namespace, world: dict, rows: list[tuple], cost: tuple[float, float]
) -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0]
    lines = [
        f"MailPass dashboard bench: {args.messages:,} messages in one account "
        f"(+{args.messages // 20:,} in another), PostgreSQL {version}, "
        f"{args.requests} requests per page, in-process test Client",
        f"api_message: {world['table_size']} of table; indexes: "
        + ", ".join(f"{name} {size}" for name, size in world["indexes"]),
        "",
        f"{'page':<36} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'rows':>5}",
    ]
    for name, median, p95, queries, shown, note in rows:
        lines.append(f"{name:<36} {median:>10.1f} {p95:>8.1f} {queries:>8} {shown:>5}  {note}")
    worst = max(rows, key=lambda r: r[2])
    lines.append("")
    lines.append(f"slowest p95: {worst[0]} at {worst[2]:.1f} ms (target: well under 200 ms)")
    with_them, without = cost
    lines.append(
        f"a status change ({args.write_rows:,} rows in one UPDATE, median of {args.write_reps}): "
        f"{with_them:.1f} µs/row with the dashboard's indexes, {without:.1f} µs/row with the "
        f"one they replace ({(with_them / without - 1) * 100:+.0f}%)"
    )
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    cleanup = Cleanup()
    exit_on_signals()
    try:
        log("starting PostgreSQL")
        db_url = start_postgres(cleanup, prefix="mailpass-bench-dashboard-pg.").url
        setup_django(settings_env(db_url, allowed_hosts="testserver"))
        world = setup(args)
        rows = measure(args, world)
        log("timing status changes with and without the dashboard's indexes")
        cost = write_cost(args.write_rows, args.write_reps)
        print(report(args, world, rows, cost), flush=True)
        if args.keep:
            log(f"database left running at {db_url}; Ctrl-C stops it")
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
        return 0
    finally:
        shut_down(cleanup)


if __name__ == "__main__":
    sys.exit(main())
