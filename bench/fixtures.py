"""The bench's data: one account with an API key, a provider pointing at the sink (the
default) and two ESP providers, Postmark and Amazon SES, whose API calls go to the bench's
fake ESP (bench/esp_fake.py, through MAILPASS_ESP_API_URLS), and the message every
measurement sends (a ~2 KB html+text receipt), stored once by batch_enqueue
as the API stores it. Queues of any size are bulk SQL copies of that stored message, and
every row a measurement adds is deleted after it, so each one starts on the same table.
Webhook endpoints exist only while a measurement needs one (webhook_endpoint()), and every
webhook event, delivery and attempt goes with the messages (clear_new_rows()); so does the
verified sender domain that makes the drain sign (signing_domain()).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

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


# The receipt as a template (api/templating.py): the same text once rendered with
# TEMPLATE_VARIABLES, its order lines a section, its greeting and order number variables.
TEMPLATE_ALIAS = "bench-receipt"
_LINES = [
    ("1", "Mechanical keyboard, brown", "89.00"),
    ("2", "USB-C cable, braided, 2&nbsp;m", "19.80"),
    ("1", "Desk mat, grey felt", "24.50"),
]
TEMPLATE_VARIABLES = {
    "name": "Ada",
    "order": "48213",
    "lines": [{"qty": qty, "item": item, "price": price} for qty, item, price in _LINES],
}
_HTML_LINES = "".join(
    f"<tr><td>{qty} &times; {item}</td><td align=right>{price} EUR</td></tr>\n"
    for qty, item, price in _LINES
)
TEMPLATE_SUBJECT = SUBJECT.replace("48213", "{{order}}")
TEMPLATE_TEXT = TEXT.replace("Ada", "{{name}}").replace("48213", "{{order}}")
TEMPLATE_HTML = (
    HTML.replace("Ada", "{{name}}")
    .replace("48213", "{{order}}")
    .replace(
        _HTML_LINES,
        "{{#lines}}<tr><td>{{qty}} &times; {{{item}}}</td>"
        "<td align=right>{{price}} EUR</td></tr>\n{{/lines}}",
    )
)


class BenchData:
    """Creates the account, key, provider and template message (Django must be set up)."""

    def __init__(self, *, sink_port: int) -> None:
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from accounts.services import account_create, account_set_verified_domains_only
        from api.emails import build_email
        from api.models import Message
        from api.serializers import MessageInputSerializer
        from api.services import api_key_create, batch_enqueue, template_create
        from providers.services import provider_create

        user = get_user_model().objects.create_user(username="bench", password=None)
        self.account = account_create(owner=user, name="bench")
        # Any From domain, as before sender domains: only the signed drain (signing_domain())
        # measures a verified one, so every other row stays comparable with earlier runs.
        account_set_verified_domains_only(account=self.account, on=False)
        self.api_key, self.secret = api_key_create(
            account=self.account, name="bench", created_by=user
        )
        self.provider = provider_create(
            account=self.account,
            name="bench sink",
            host="127.0.0.1",
            port=sink_port,
            security="none",
            from_email=FROM_EMAIL,
            from_name="MailPass Bench",
            timeout=25,  # the most MAILPASS_REQUEST_TIMEOUT_SECONDS allows by default
            is_default=True,
        )
        assert _HTML_LINES in HTML, "the template's order lines must match the receipt's"
        template_create(
            account=self.account,
            data={
                "alias": TEMPLATE_ALIAS,
                "name": "Bench receipt",
                "subject": TEMPLATE_SUBJECT,
                "html": TEMPLATE_HTML,
                "text": TEMPLATE_TEXT,
            },
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
        self.base_id = self.template.pk  # rows above it are removed after each measurement
        # The sent messages the status lookups pick from: none until add_sent_history().
        self.status_range = (self.template.pk + 1, self.template.pk)
        # Not the default: only the messages a measurement queues for them use them. Their
        # keys are made up; every call goes to the fake (environment.py checks where).
        self.esp_providers = {
            "postmark": provider_create(
                account=self.account,
                name="bench postmark",
                kind="postmark",
                credentials={"server_token": "bench-postmark-token"},
                from_email=FROM_EMAIL,
                from_name="MailPass Bench",
                timeout=25,
            ),
            "amazon_ses": provider_create(
                account=self.account,
                name="bench ses",
                kind="amazon_ses",
                credentials={
                    "access_key_id": "AKIABENCHFAKE0000000",
                    "secret_access_key": "bench-secret-access-key",
                },
                options={"region": "eu-west-1"},
                from_email=FROM_EMAIL,
                from_name="MailPass Bench",
                timeout=25,
            ),
        }

    def insert_copies(
        self,
        count: int,
        *,
        sent: bool = False,
        chunk: int = 100_000,
        provider_id: int | None = None,
    ) -> None:
        """Insert `count` copies of the template: queued and due now, or already sent; sent
        through `provider_id` instead of the template's provider when given.

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
        if provider_id is not None:
            overrides["provider_id"] = str(int(provider_id))
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

    def add_sent_history(self, count: int) -> tuple[int, str]:
        """Insert `count` sent messages that stay for the whole run (the status lookups pick
        among them). Returns the rows now in the table and its size with indexes."""
        from django.db import connection

        self.insert_copies(count, sent=True)
        self.vacuum()
        with connection.cursor() as cur:
            cur.execute(f'SELECT min(id), max(id), count(*) FROM "{self.table}"')
            _, hi, total = cur.fetchone()
            cur.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{self.table}'))")
            size = cur.fetchone()[0]
        self.status_range = (self.template.pk + 1, hi)
        self.base_id = hi
        return total, size

    def status_counts(self) -> dict[str, int]:
        """How many of the messages added since base_id are in each status."""
        from django.db.models import Count

        from api.models import Message

        rows = (
            Message.objects.filter(pk__gt=self.base_id)
            .values_list("status")
            .annotate(n=Count("id"))
        )
        return dict(rows)

    def clear_new_rows(self) -> None:
        """Remove every message (and event) created since base_id, and every webhook event,
        delivery and attempt (the bench keeps none between measurements): stable tables."""
        from django.db import connection, transaction

        from api.models import Message

        with transaction.atomic(), connection.cursor() as cur:
            self._clear_webhook_rows(cur)
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

    def _clear_webhook_rows(self, cur) -> None:
        """TRUNCATE rather than DELETE: thousands of dead delivery rows would slow the
        claims and inserts of the measurements after (and VACUUM never gets to them)."""
        from api.models import WebhookAttempt, WebhookDelivery, WebhookEvent

        tables = [m._meta.db_table for m in (WebhookAttempt, WebhookDelivery, WebhookEvent)]
        cur.execute(" UNION ALL ".join(f'(SELECT 1 FROM "{table}" LIMIT 1)' for table in tables))
        if cur.fetchall():
            cur.execute("TRUNCATE " + ", ".join(f'"{table}"' for table in tables))

    @contextlib.contextmanager
    def webhook_endpoint(self, url: str, events: list[str] | None = None) -> Iterator[tuple]:
        """An enabled webhook endpoint of the bench account at `url`, wanting `events` (all
        by default), for the block: yields it and its secret; afterwards every webhook row
        is cleared and the endpoint deleted, so no later measurement stores events."""
        from django.db import connection, transaction

        from api.models import WebhookEndpoint
        from api.services.webhooks import webhook_create

        if WebhookEndpoint.objects.exists():
            raise RuntimeError("a webhook endpoint from an earlier measurement is still there")
        endpoint, secret = webhook_create(account=self.account, url=url, events=events)
        try:
            yield endpoint, secret
        finally:
            with transaction.atomic(), connection.cursor() as cur:
                self._clear_webhook_rows(cur)
                WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()

    @contextlib.contextmanager
    def signing_domain(self, *, ed25519: bool = False) -> Iterator[None]:
        """The bench sender's domain (example.com) as a verified sender domain of the bench
        account for the block, with a 2048-bit RSA key (and an Ed25519 one): every message
        the sink gets is DKIM-signed. Marked verified directly: the bench has no DNS."""
        from providers import domains
        from providers.models import SenderDomain

        domain = domains.domain_create(
            account=self.account, name=FROM_EMAIL.rpartition("@")[2], ed25519=ed25519
        )
        SenderDomain.objects.filter(pk=domain.pk).update(status=SenderDomain.Status.VERIFIED)
        try:
            yield
        finally:
            domain.delete()

    def delivered_event_body(self) -> tuple[str, str]:
        """The body of an `email.delivered` event of the template message as api.outbox
        builds it, and the placeholder in it that stands for the message's Message-ID."""
        from django.utils import timezone

        from api import outbox

        placeholder = "<MESSAGE-ID-PLACEHOLDER>"
        message = self.template
        data = {
            "message_id": placeholder,
            "to": message.to_email,
            "from": message.from_email,
            "subject": message.subject,
            "tags": ["receipt", "shop", "order-confirmation"],
            "metadata": {
                "order_id": "48213",
                "customer_id": "cus_8hQ2kLm4",
                "shop": "example-shop-eu",
                "campaign": "transactional-receipts",
                "locale": "en-GB",
            },
            "status": "delivered",
            "details": {
                "description": "smtp;250 2.0.0 OK 1700000000 "
                "d9443c01a7336-1f6b7a1c2e4si1234567pl.42 - gsmtp (mx.example.com [203.0.113.25])"
            },
        }
        body = outbox.body_of("email.delivered", test=False, data=data, at=timezone.now())
        return body, placeholder

    def add_webhook_deliveries(self, count: int, endpoint_id: int) -> int:
        """Insert `count` `email.delivered` events of as many messages, each with one pending
        delivery to `endpoint_id`, due now: in one statement. Returns the body's size."""
        from django.db import connection, transaction

        from api.models import WebhookDelivery, WebhookEvent

        body, placeholder = self.delivered_event_body()
        message_id = (
            "'<' || md5(random()::text || clock_timestamp()::text || g::text) || '.' || "
            f"floor(extract(epoch from now()))::bigint || '@{self.msgid_domain}>'"
        )
        event_id = "'msg_' || left(md5(random()::text || clock_timestamp()::text || g::text), 27)"
        events, deliveries = WebhookEvent._meta.db_table, WebhookDelivery._meta.db_table
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                f'WITH ev AS (INSERT INTO "{events}" '
                "(account_id, event_id, type, test, body, created_at) "
                f"SELECT %s, {event_id}, 'email.delivered', false, "
                f"replace(%s, %s, {message_id}), now() "
                "FROM generate_series(1, %s) g RETURNING id) "
                f'INSERT INTO "{deliveries}" '
                "(event_id, endpoint_id, test, status, attempts, next_attempt_at, created_at) "
                "SELECT id, %s, false, 'pending', 0, now(), now() FROM ev",
                [self.account.pk, body, placeholder, count, endpoint_id],
            )
            cur.execute(f'ANALYZE "{events}", "{deliveries}"')
            cur.execute(f'SELECT max(octet_length(body)) FROM "{events}"')
            return cur.fetchone()[0] or 0

    def webhook_counts(self) -> dict[tuple[str, str, int], int]:
        """How many webhook deliveries there are of each (event type, status, attempts)."""
        from django.db.models import Count

        from api.models import WebhookDelivery

        rows = (
            WebhookDelivery.objects.order_by()
            .values_list("event__type", "status", "attempts")
            .annotate(n=Count("id"))
        )
        return {(kind, status, attempts): n for kind, status, attempts, n in rows}

    def webhook_event_count(self) -> int:
        from api.models import WebhookEvent

        return WebhookEvent.objects.count()

    def vacuum(self) -> None:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute(f'VACUUM (ANALYZE) "{self.table}"')

    def point_provider_at(self, port: int) -> None:
        from providers.models import Provider

        Provider.objects.filter(pk=self.provider.pk).update(port=port)
