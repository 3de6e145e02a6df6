import datetime as dt
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from django.core.cache import cache
from django.db import connection
from django.db.models import BooleanField, Count, F, Min, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower, TruncDay, TruncHour
from django.utils import timezone

from accounts.models import Account
from api.attachments import prefetch_attachments
from api.keys import hmac_keys, key_digest, key_prefix, looks_like_key
from api.models import (
    ApiKey,
    Message,
    MessageAttachment,
    MessageEvent,
    Suppression,
    Template,
    TemplateVersion,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


def api_key_get_active(*, key: str) -> ApiKey | None:
    """The unrevoked ApiKey matching the full secret `key`, or None.

    Looked up by its visible prefix, then compared by digest in constant time, with the
    current HMAC key and then each fallback (a digest made before a rotation).
    """
    if not looks_like_key(key):
        return None
    try:
        api_key = ApiKey.objects.select_related("account").get(
            prefix=key_prefix(key), revoked_at__isnull=True
        )
    except ApiKey.DoesNotExist:
        return None
    for hmac_key in hmac_keys():
        if hmac.compare_digest(api_key.digest, key_digest(key, hmac_key)):
            return api_key
    return None


def normalize_message_id(raw: str) -> str:
    """Accept a Message-ID with or without angle brackets, URL-encoded or not."""
    value = unquote(raw).strip()
    return f"<{value.removeprefix('<').removesuffix('>')}>"


def message_get_for_account(*, account: Account, message_id: str, test: bool = False) -> Message:
    """The account's message with that Message-ID, a live one or (test=True) a test one.
    Raises Message.DoesNotExist otherwise, also for a message of another account or mode:
    callers answer all of these with the same 404.
    """
    normalized = normalize_message_id(message_id)
    # PostgreSQL refuses NUL in text, and no stored id has control characters or is longer.
    if len(normalized) > 255 or not normalized.isprintable():
        raise Message.DoesNotExist(normalized)
    message = Message.objects.select_related("template_version__template").get(
        account=account, message_id=normalized, test=test
    )
    prefetch_attachments([message])
    return message


def template_get_for_account(*, account: Account, reference: str) -> Template:
    """The account's template with that id (digits) or alias. Raises Template.DoesNotExist
    otherwise, also for another account's template: callers answer both with one 404."""
    templates = Template.objects.filter(account=account)
    if reference.isdecimal() and len(reference) <= 18:
        return templates.get(pk=int(reference))
    return templates.get(alias=reference)


def template_list(*, account: Account) -> QuerySet[Template]:
    """The account's templates, newest first."""
    return Template.objects.filter(account=account).order_by("-created_at", "-id")


def template_latest_versions(templates: Iterable[Template]) -> list[TemplateVersion]:
    """Each template's latest version, in the templates' order, each with its .template
    set: one query."""
    templates = list(templates)
    latest = {
        version.template_id: version
        for version in TemplateVersion.objects.filter(
            template__in=templates, number=F("template__latest_version")
        )
    }
    for template in templates:
        latest[template.pk].template = template
    return [latest[template.pk] for template in templates]


def template_versions(*, template: Template, most: int = 100) -> list[TemplateVersion]:
    """The template's newest `most` versions, newest first: number, time and who saved it
    (not their content)."""
    return list(
        template.versions.select_related("created_by").defer("subject", "html", "text", "defaults")[
            :most
        ]
    )


def message_attachment_get_for_account(
    *, account: Account, message_pk: int, position: int
) -> MessageAttachment:
    """The attachment at `position` of the account's message `message_pk`, with its
    StoredFile. Raises MessageAttachment.DoesNotExist otherwise, also for another account's
    message: callers answer both with the same 404."""
    return MessageAttachment.objects.select_related("file").get(
        message_id=message_pk, message__account=account, position=position
    )


def message_exists(*, pk: int) -> bool:
    return Message.objects.filter(pk=pk).exists()


def database_ping() -> None:
    """One round trip to the database; raises DatabaseError when it does not answer."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def queue_health() -> dict[str, int | float | None]:
    """Queue depth for monitoring: queued (of which due now), sending (of which stuck: past
    their lease, so their worker died or hangs), and how late the most overdue message is.
    Raises DatabaseError when the database is unreachable."""
    now = timezone.now()
    queued = Message.objects.filter(status=Message.Status.QUEUED)
    due = queued.filter(next_attempt_at__lte=now)
    sending = Message.objects.filter(status=Message.Status.SENDING)
    stuck = sending.filter(lease_expires_at__lt=now)
    late = [
        due.aggregate(oldest=Min("next_attempt_at"))["oldest"],
        stuck.aggregate(oldest=Min("lease_expires_at"))["oldest"],
    ]
    oldest = min((moment for moment in late if moment is not None), default=None)
    return {
        "queued": queued.count(),
        "due": due.count(),
        "sending": sending.count(),
        "stuck": stuck.count(),
        "oldest_due_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
    }


# Events per page of the status answer and the dashboard's message page.
EVENTS_PAGE_SIZE = 100


def message_events(
    *, message: Message, after: int | None = None, limit: int = EVENTS_PAGE_SIZE
) -> tuple[list[MessageEvent], int | None]:
    """One page of the message's events, oldest first, starting after the event `after`
    (an id from an earlier page); and the id to continue from, None on the last page."""
    events = message.events.order_by("created_at", "id")
    if after is not None:
        anchor = message.events.filter(pk=after).values_list("created_at", flat=True).first()
        if anchor is None:
            return [], None
        events = events.filter(Q(created_at__gt=anchor) | Q(created_at=anchor, id__gt=after))
    page = list(events[: limit + 1])
    if len(page) > limit:
        return page[:limit], page[limit - 1].pk
    return page, None


def recipients_of(message: Message) -> list[str]:
    """Every address the message goes to (To, Cc and Bcc), lower-cased."""
    return [address.lower() for address in [message.to_email, *message.cc, *message.bcc]]


def suppressed_recipients(*, messages: list[Message]) -> list[tuple[Message, list[Suppression]]]:
    """The messages with a recipient on their account's suppression list, each with those
    entries. One query however many messages (of however many accounts); the messages may
    be unsaved."""
    if not messages:
        return []
    entries = Suppression.objects.filter(
        account_id__in={m.account_id for m in messages},
        test__in={m.test for m in messages},
        email__in={address for m in messages for address in recipients_of(m)},
    )
    by_address = {(entry.account_id, entry.test, entry.email): entry for entry in entries}
    found = []
    for message in messages:
        hits = [
            by_address[(message.account_id, message.test, address)]
            for address in dict.fromkeys(recipients_of(message))
            if (message.account_id, message.test, address) in by_address
        ]
        if hits:
            found.append((message, hits))
    return found


def suppression_list(
    *, account: Account, email: str | None = None, test: bool = False
) -> QuerySet[Suppression]:
    """The account's live suppression list, or its test one."""
    entries = Suppression.objects.filter(account=account, test=test)
    return entries.filter(email=email.strip().lower()) if email else entries


# --- The dashboard's message log and overview -----------------------------------------------

# A place in the log: (created_at, id) of a message. The log is ordered newest first by
# both, so every page is one index range scan from its cursor (keyset pagination), however
# far back it is, and no page counts the whole log.
Cursor = tuple[dt.datetime, int]

# The columns a row of the log shows; the bodies (often kilobytes each) stay in the table.
MESSAGE_LIST_FIELDS = (
    "id",
    "account_id",
    "created_at",
    "to_email",
    "subject",
    "status",
    "tags",
    "test",
)

# Most messages a text or tag filter looks at for one page. No index serves those filters
# (an index on every subject would cost each status change of every message more than the
# log is worth), so they are applied while walking the log from the cursor and stop here.
MESSAGE_SCAN_WINDOW = 20_000


@dataclass(frozen=True)
class MessagePage:
    messages: list[Message]  # newest first
    older: Cursor | None  # `before` of the next page back; None at the oldest
    newer: Cursor | None  # `after` of the next page forward; None at the newest
    # A subject or tag filter looked at MESSAGE_SCAN_WINDOW messages without filling the
    # page: the oldest one it looked at. There may be more matches beyond it (see `older`).
    scanned_to: dt.datetime | None = None


def _past(cursor: Cursor, *, ascending: bool, inclusive: bool = False) -> Q:
    """The messages after `cursor` in the walking direction (and the cursor's, if inclusive)."""
    created_at, pk = cursor
    if ascending:
        last = Q(id__gte=pk) if inclusive else Q(id__gt=pk)
        return Q(created_at__gte=created_at) & (Q(created_at__gt=created_at) | last)
    last = Q(id__lte=pk) if inclusive else Q(id__lt=pk)
    # created_at <= X alone is what the index range uses; the OR only settles ties.
    return Q(created_at__lte=created_at) & (Q(created_at__lt=created_at) | last)


def _has_tag(tag: str) -> Q | RawSQL:
    if connection.vendor == "postgresql":
        return Q(tags__contains=[tag])  # jsonb @> '["tag"]'
    # Django has no JSON containment lookup on SQLite; json_each reads the array there.
    table = connection.ops.quote_name(Message._meta.db_table)
    return RawSQL(
        f"EXISTS (SELECT 1 FROM json_each({table}.tags) WHERE json_each.value = %s)",
        [tag],
        output_field=BooleanField(),
    )


def _cursor_of(message: Message) -> Cursor:
    return message.created_at, message.pk


def message_list_for_account(
    *,
    account: Account,
    status: str | None = None,
    recipient: str | None = None,
    tag: str | None = None,
    subject: str | None = None,
    created_from: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    before: Cursor | None = None,
    after: Cursor | None = None,
    limit: int = 50,
    test: bool = False,
) -> MessagePage:
    """One page of the account's message log, newest first, with the cursors around it.

    Filters: exact status; recipient (the To address, case-insensitive; Cc and Bcc are not
    searched); tag (exact); subject (contains, case-insensitive); created_from <= created_at
    < created_before. `before` pages back from a cursor, `after` forward (when both are
    given, `before` wins); a page forward that reaches the newest messages is the first
    page. Each page is a bounded index walk: status, recipient and dates are served by
    indexes, while subject and tag look at no more than MESSAGE_SCAN_WINDOW messages and
    then say where they stopped (MessagePage.scanned_to). Live messages only, or (test=True)
    test messages only. Read-only; no transaction needed.
    """
    rows = Message.objects.filter(account=account, test=test)
    if status:
        rows = rows.filter(status=status)
    if recipient:
        rows = rows.alias(to_lower=Lower("to_email")).filter(to_lower=Lower(Value(recipient)))
    if created_from is not None:
        rows = rows.filter(created_at__gte=created_from)
    if created_before is not None:
        rows = rows.filter(created_at__lt=created_before)
    ascending = before is None and after is not None
    cursor = after if ascending else before
    if cursor is not None:
        rows = rows.filter(_past(cursor, ascending=ascending))
    rows = rows.order_by(*(("created_at", "id") if ascending else ("-created_at", "-id")))

    edge: Cursor | None = None
    if subject or tag:
        # The last message of the window, and whether one lies beyond it. Its own query,
        # so the filtered walk below has a fixed end and stops there even if nothing matches.
        window_end = MESSAGE_SCAN_WINDOW
        beyond = list(rows.values_list("created_at", "id")[window_end - 1 : window_end + 1])
        if len(beyond) == 2:
            edge = beyond[0]
            # The window's end as an index range bound (edge included), not as NOT(...).
            rows = rows.filter(_past(edge, ascending=not ascending, inclusive=True))
        if subject:
            rows = rows.filter(subject__icontains=subject)
        if tag:
            rows = rows.filter(_has_tag(tag))

    found = list(rows.only(*MESSAGE_LIST_FIELDS)[: limit + 1])
    full = len(found) > limit
    found = found[:limit]
    onward = _cursor_of(found[-1]) if full else edge
    scanned_to = edge[0] if edge is not None and not full else None
    if not ascending:
        newer = None if before is None else (_cursor_of(found[0]) if found else before)
        return MessagePage(found, older=onward, newer=newer, scanned_to=scanned_to)
    if onward is None:
        # Nothing newer than this page: the newest page is the first page.
        return message_list_for_account(
            account=account,
            status=status,
            recipient=recipient,
            tag=tag,
            subject=subject,
            created_from=created_from,
            created_before=created_before,
            limit=limit,
            test=test,
        )
    found.reverse()
    older = _cursor_of(found[-1]) if found else after
    return MessagePage(found, older=older, newer=onward, scanned_to=scanned_to)


def message_failed_count(*, account: Account, cap: int, test: bool = False) -> int:
    """How many of the account's live (or test) messages are failed, counting no further
    than `cap`."""
    failed = Message.objects.filter(account=account, test=test, status=Message.Status.FAILED)
    return failed[:cap].count()


def message_activity(
    *,
    account: Account,
    since: dt.datetime,
    until: dt.datetime | None = None,
    by: str = "day",
    test: bool = False,
) -> dict[dt.datetime, dict[str, int]]:
    """The account's messages created from `since` (to before `until`), counted per status
    per day or hour (`by`: "day" | "hour", in the current time zone):
    {bucket start: {status: count}}; buckets without messages are absent.

    One GROUP BY over the account's range of message_account_recent, which carries the
    status and `test`: its cost grows with the messages in the range, not with the table.
    Live messages only, or (test=True) test messages only.
    """
    trunc = {"day": TruncDay, "hour": TruncHour}[by]
    rows = Message.objects.filter(account=account, test=test, created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    counts = (
        rows.annotate(bucket=trunc("created_at"))
        .values_list("bucket", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    activity: dict[dt.datetime, dict[str, int]] = {}
    for bucket, status, n in counts:
        activity.setdefault(bucket, {})[status] = n
    return activity


# How long the overview's counts of past days are reused. They still move a little after
# the day ends (ESPs report deliveries and bounces later, retries go out): a few minutes.
ACTIVITY_CACHE_SECONDS = 300


def message_daily_activity(
    *, account: Account, first_day: dt.date, today: dt.date
) -> dict[dt.datetime, dict[str, int]]:
    """message_activity per day from `first_day` through `today` (current time zone).

    The days before today are counted once and then reused from the cache for
    ACTIVITY_CACHE_SECONDS; today is counted on every call.
    """

    def start(day: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))

    zone = timezone.get_current_timezone_name()
    key = f"mailpass:activity:{account.pk}:{zone}:{first_day.isoformat()}:{today.isoformat()}"
    past = cache.get(key)
    if past is None:
        past = message_activity(account=account, since=start(first_day), until=start(today))
        cache.set(key, past, ACTIVITY_CACHE_SECONDS)
    return {**past, **message_activity(account=account, since=start(today))}


def message_queue_depth(*, account: Account) -> dict[str, int]:
    """The account's live messages waiting now: {"queued": n, "sending": n}. Each count
    walks a small partial index of the queue."""
    mine = Message.objects.filter(account=account, test=False)
    return {
        "queued": mine.filter(status=Message.Status.QUEUED).count(),
        "sending": mine.filter(status=Message.Status.SENDING).count(),
    }


# --- Webhook endpoints ------------------------------------------------------------------------


def webhook_list(*, account: Account) -> QuerySet[WebhookEndpoint]:
    """The account's webhook endpoints, newest first."""
    return WebhookEndpoint.objects.filter(account=account)


def webhook_list_failing(*, account: Account, most: int = 20) -> list[WebhookEndpoint]:
    """The account's endpoints MailPass disabled after days of failed deliveries (the
    overview warns of them), newest first, at most `most`."""
    endpoints = WebhookEndpoint.objects.filter(
        account=account, enabled=False, disabled_reason=WebhookEndpoint.DisabledReason.FAILING
    )
    return list(endpoints[:most])


def webhook_attempts(*, delivery: WebhookDelivery) -> QuerySet[WebhookAttempt]:
    """Every attempt of a delivery, oldest first."""
    return WebhookAttempt.objects.filter(delivery=delivery)


def webhook_get_for_account(*, account: Account, reference: str | int) -> WebhookEndpoint:
    """The account's endpoint with that id. Raises WebhookEndpoint.DoesNotExist otherwise,
    also for another account's endpoint: callers answer both with one 404."""
    number = str(reference)
    if not (number.isdecimal() and len(number) <= 18):
        raise WebhookEndpoint.DoesNotExist(number)
    return WebhookEndpoint.objects.get(account=account, pk=int(number))


def webhook_deliveries(
    *, endpoint: WebhookEndpoint, test: bool, status: str | None = None
) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries of live (or test) events, newest first."""
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint, test=test)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.select_related("event")


def webhook_delivery_get(
    *, endpoint: WebhookEndpoint, test: bool, reference: str | int
) -> WebhookDelivery:
    """One delivery of the endpoint in the key's mode; WebhookDelivery.DoesNotExist else."""
    number = str(reference)
    if not (number.isdecimal() and len(number) <= 18):
        raise WebhookDelivery.DoesNotExist(number)
    return WebhookDelivery.objects.select_related("event", "endpoint").get(
        endpoint=endpoint, test=test, pk=int(number)
    )
