"""The mail queue: claim due messages, deliver them, record each outcome. Nowhere else.

A claim is a lease: messages are stamped `sending` with a claim token and an expiry, in a
short transaction that commits before any network I/O. If the worker dies, the lease runs
out and the messages are due again (at-least-once delivery). Every outcome write is
guarded by the claim token, so a worker whose lease was taken over cannot overwrite the
new owner's result.
"""

import datetime as dt
import functools
import itertools
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Q, QuerySet, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from api import metrics, outbox
from api.attachments import prefetch_attachments
from api.models import Message, MessageEvent
from api.selectors import suppressed_recipients
from api.services.suppressions import suppression_text
from providers import delivery, limits
from providers.delivery import DeliveryResult, Outcome
from providers.models import Provider

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class QueueStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0  # put back untouched because the provider is over its limit

    def add(self, other: "QueueStats") -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.deferred += other.deferred


def _due(now: dt.datetime) -> Q:
    queued = Q(status=Message.Status.QUEUED, next_attempt_at__lte=now)
    lease_expired = Q(status=Message.Status.SENDING, lease_expires_at__lt=now)
    return queued | lease_expired


def claim_due(
    *, batch_size: int, lease_seconds: int | None = None, skip_providers: Sequence[int] = ()
) -> list[Message]:
    """Claim up to `batch_size` due messages for this worker and return them, none of them
    for the providers in `skip_providers`.

    Due: queued with next_attempt_at in the past, or sending with an expired lease (its
    worker died); taken in turn_at order, which interleaves accounts (see next_turns).
    On PostgreSQL, FOR UPDATE SKIP LOCKED lets any number of workers claim side by side
    without waiting or overlapping. The UPDATE repeats the due condition, so
    even where SKIP LOCKED is a no-op (SQLite) two workers never both claim a message.
    Commits before returning; must not be called inside another transaction.
    """
    now = timezone.now()
    lease = dt.timedelta(seconds=lease_seconds or settings.MAILPASS_QUEUE_LEASE_SECONDS)
    token = uuid.uuid4()
    locked = Message.objects.select_for_update(skip_locked=True)
    if skip_providers:
        locked = locked.exclude(provider_id__in=skip_providers)
    with transaction.atomic(durable=True):
        # Two queries, not one with OR: each walks its own partial index in order and
        # stops at the limit, where an OR would scan and sort the whole queue every time.
        ids = list(
            locked.filter(status=Message.Status.SENDING, lease_expires_at__lt=now)
            .order_by("lease_expires_at")
            .values_list("id", flat=True)[:batch_size]
        )
        if len(ids) < batch_size:
            ids += (
                locked.filter(status=Message.Status.QUEUED, next_attempt_at__lte=now)
                .order_by("turn_at", "id")
                .values_list("id", flat=True)[: batch_size - len(ids)]
            )
        if not ids:
            return []
        Message.objects.filter(_due(now), id__in=ids).update(
            status=Message.Status.SENDING, claim_token=token, lease_expires_at=now + lease
        )
    claimed = list(
        Message.objects.filter(id__in=ids, claim_token=token, status=Message.Status.SENDING)
        .only(*_SENDING_FIELDS)
        .order_by("turn_at", "id")
    )
    # Loaded here, on the claiming thread: sending threads never query (api.drain).
    prefetch_attachments(claimed)
    return claimed


def release_scheduled(*, limit: int = 1000) -> int:
    """Put scheduled messages whose time has come into the queue, due now, earliest first,
    at most `limit` of them; return how many. Their turn_at (set when they were accepted)
    keeps accounts interleaved. SKIP LOCKED: workers releasing at once split the work."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=Message.Status.SCHEDULED, scheduled_at__lte=now)
            .order_by("scheduled_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return 0
        return Message.objects.filter(id__in=ids, status=Message.Status.SCHEDULED).update(
            status=Message.Status.QUEUED, next_attempt_at=now, queued_at=now, updated_at=now
        )


# What sending a claimed message reads: loading only these makes a claim cheaper (fewer
# timestamps to parse per row). Anything else still loads on first use.
_SENDING_FIELDS = [
    *("account_id", "provider_id", "message_id", "from_email", "from_name", "to_email"),
    *("reply_to", "cc", "bcc", "subject", "html", "text", "tags", "metadata"),
    *("track_opens", "track_clicks", "attempts", "queued_at", "claim_token", "lease_expires_at"),
    *("headers", "unsubscribe", "attachment_count", "test", "status"),
]


# How far apart one account's batch messages are placed on its virtual clock. Accounts
# interleave as long as the queue drains faster than one message per FAIR_SPACING.
FAIR_SPACING = dt.timedelta(milliseconds=100)


def next_turns(*, account_id: int, count: int) -> list[dt.datetime]:
    """Claim-order turns for `count` new messages of an account: after its own backlog,
    FAIR_SPACING apart, and never before now.

    An account with 10,000 queued messages has turns far into the future, so a message of
    another account queued now is claimed within a chunk or two, not after the backlog.
    Two concurrent batches of one account may overlap turns: fairness between accounts
    is what matters, not the exact order within one.
    """
    now = timezone.now()
    last = Message.objects.filter(account_id=account_id, status=Message.Status.QUEUED).aggregate(
        last=Max("turn_at")
    )["last"]
    start = max(now, last + FAIR_SPACING) if last else now
    return [start + FAIR_SPACING * i for i in range(count)]


def retry_delay(attempts: int) -> dt.timedelta:
    """Exponential backoff: base, 2 x base, 4 x base … capped; `attempts` counts tries so far."""
    seconds = settings.MAILPASS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, settings.MAILPASS_RETRY_CAP_SECONDS))


def _guarded(message: Message) -> QuerySet[Message]:
    # Only the holder of the current claim may write the outcome; another worker may have
    # reclaimed the message after our lease ran out.
    return Message.objects.filter(
        pk=message.pk, claim_token=message.claim_token, status=Message.Status.SENDING
    )


# Every outcome ends the claim and counts the attempt.
_RELEASE_CLAIM = {"claim_token": None, "lease_expires_at": None, "attempts": F("attempts") + 1}

_MARK_SENT_SQL = (
    "WITH v(sent_id, sent_token, sent_provider_message_id, sent_provider_id)"
    " AS (VALUES {rows})"
    " UPDATE {table} SET status = 'sent', sent_at = %s, updated_at = %s,"
    " error_message = NULL, failure_reason = NULL, claim_token = NULL,"
    " lease_expires_at = NULL, attempts = attempts + 1,"
    " provider_message_id = v.sent_provider_message_id, provider_id = v.sent_provider_id"
    " FROM v WHERE id = v.sent_id AND claim_token = v.sent_token AND status = 'sending'"
    " RETURNING id"
)
_MARK_SENT_ROW = {
    "postgresql": "(%s::bigint, %s::uuid, %s, %s::bigint)",
    "sqlite": "(%s, %s, %s, %s)",
}


def mark_sent(sent: Sequence[tuple[Message, str, int | None]]) -> set[int]:
    """Record messages as sent (each with the provider that took it and that provider's
    message id) in one statement;
    return the ids whose claim was still ours and so were updated.

    The drain's hot path, hence hand-written SQL. On this machine a statement costs
    PostgreSQL about 0.2 ms of CPU however small it is, a single-row UPDATE 0.4 ms, and
    ten rows in one statement 0.07 ms each. On PostgreSQL the statement is also prepared
    once per connection and group size (psycopg's Cursor binds on the server; Django's
    ClientCursor would send and plan it anew every time).

    With the `sent` webhook event of every updated message whose account may have an
    endpoint, in the same transaction (api.outbox).
    """
    messages = [message for message, _, _ in sent]
    outbox.look_up_endpoints([message for message in messages if message.webhook_endpoints is None])
    if not any(message.webhook_endpoints for message in messages):
        return _mark_sent(sent)
    with transaction.atomic():
        updated = _mark_sent(sent)
        for message in messages:
            if message.pk in updated:
                message.status = Message.Status.SENT
        outbox.emit(
            outbox.Happening(message, "sent", _sent_details(message))
            for message in messages
            if message.pk in updated
        )
    return updated


def _sent_details(message: Message) -> dict[str, str]:
    """A `sent` event's details: the provider that took it (none in test mode)."""
    provider = message.provider  # no query: record_attempts set it, or it is None
    return {} if provider is None else {"provider": provider.name}


def _mark_sent(sent: Sequence[tuple[Message, str, int | None]]) -> set[int]:
    now = timezone.now()
    sql = _MARK_SENT_SQL.format(
        table=connection.ops.quote_name(Message._meta.db_table),
        rows=", ".join([_MARK_SENT_ROW[connection.vendor]] * len(sent)),
    )
    rows = [
        (message.pk, message.claim_token, pmid[:255], provider_id)
        for message, pmid, provider_id in sent
    ]
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        # wrap_database_errors: psycopg's errors become Django's, as through the ORM.
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, [*itertools.chain(*rows), now, now], prepare=True)
            return {row[0] for row in cursor.fetchall()}
    timestamp = connection.ops.adapt_datetimefield_value(now)
    params: list[str | int | None] = []
    for pk, token, pmid, provider_id in rows:
        assert token is not None  # a claimed message carries its claim's token
        params += [pk, token.hex, pmid, provider_id]  # SQLite keeps UUIDs as 32 hex digits
    params += [timestamp, timestamp]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def record_outcome(
    message: Message, result: DeliveryResult, *, allow_retry: bool = True
) -> Message.Status:
    """Commit what happened to one claimed message and return its new status.

    sent → sent; failed → failed (reason `rejected`) with the provider's text; retry →
    queued again after the backoff (a `deferred` event records the attempt), until
    MAILPASS_RETRY_MAX_AGE_SECONDS after it was queued or MAILPASS_RETRY_MAX_ATTEMPTS,
    then failed with reason `expired`. With allow_retry=False (the synchronous /send) a
    retry is a failure with reason `temporary`. If our claim was lost meanwhile, nothing is
    written and a warning is logged.
    """
    now = timezone.now()
    attempts = message.attempts + 1
    if result.outcome is Outcome.SENT:
        status = Message.Status.SENT
        sent = [(message, result.provider_message_id, message.provider_id)]
        updated: int = message.pk in mark_sent(sent)
    elif result.outcome is Outcome.RETRY and allow_retry and not _expired(message, attempts, now):
        status = Message.Status.QUEUED
        next_attempt = now + retry_delay(attempts)
        with transaction.atomic():
            updated = _guarded(message).update(
                status=status,
                next_attempt_at=next_attempt,
                turn_at=Greatest(F("turn_at"), Value(next_attempt)),
                error_message=result.error_text,
                **_RELEASE_CLAIM,
            )
            if updated:
                MessageEvent.objects.create(
                    account_id=message.account_id,
                    message=message,
                    event_type=MessageEvent.Type.DEFERRED,
                    description=f"Attempt {attempts}: {result.error_text}",
                )
    else:
        status = Message.Status.FAILED
        reason, text = Message.FailureReason.REJECTED, result.error_text
        if result.outcome is Outcome.RETRY and not allow_retry:
            reason = Message.FailureReason.TEMPORARY
        elif result.outcome is Outcome.RETRY:
            reason = Message.FailureReason.EXPIRED
            text = (
                f"Gave up after {attempts} attempts over {_hours(now - message.queued_at)}. "
                f"Last error: {text}"
            )
        with transaction.atomic():
            updated = _guarded(message).update(
                status=status, error_message=text, failure_reason=reason, **_RELEASE_CLAIM
            )
            if updated:
                message.status = status
                failed = {"reason": str(reason), "error": text}
                outbox.emit([outbox.Happening(message, "failed", failed)])
    if not updated:
        logger.warning("message %s was reclaimed by another worker; outcome dropped", message.pk)
    message.status = status
    message.attempts = attempts
    return status


def _expired(message: Message, attempts: int, now: dt.datetime) -> bool:
    max_age = dt.timedelta(seconds=settings.MAILPASS_RETRY_MAX_AGE_SECONDS)
    return attempts >= settings.MAILPASS_RETRY_MAX_ATTEMPTS or now - message.queued_at > max_age


class Lease:
    """A chunk's claim, renewed while the chunk is worked through.

    Every message of a chunk shares one claim token. A chunk can take longer than its lease
    (a slow provider, many messages), so the worker pushes the lease forward whenever half
    of it is used up; another worker then never reclaims a message this worker is still
    sending.
    """

    def __init__(self, messages: list[Message]) -> None:
        self.token = messages[0].claim_token
        self.ids = [message.pk for message in messages]
        self.expires_at = messages[0].lease_expires_at or timezone.now()
        self.length = dt.timedelta(seconds=settings.MAILPASS_QUEUE_LEASE_SECONDS)

    def keep_alive(self) -> None:
        now = timezone.now()
        if self.expires_at - now < self.length / 2:
            self.expires_at = now + self.length
            Message.objects.filter(
                id__in=self.ids, claim_token=self.token, status=Message.Status.SENDING
            ).update(lease_expires_at=self.expires_at)


def _hours(span: dt.timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{span.total_seconds():.0f} s"


def put_back(messages: list[Message], *, retry_after: int) -> int:
    """Return claimed messages to the queue untouched (no attempt counted)."""
    next_attempt = timezone.now() + dt.timedelta(seconds=retry_after)
    returned = 0
    for message in messages:
        returned += _guarded(message).update(
            status=Message.Status.QUEUED,
            next_attempt_at=next_attempt,
            # Not due before next_attempt: keep it out of the way of the claim scan.
            turn_at=Greatest(F("turn_at"), Value(next_attempt)),
            claim_token=None,
            lease_expires_at=None,
        )
    return returned


def providers_for(messages: list[Message]) -> dict[int, Provider | None]:
    """Each message's provider; one whose provider was deleted falls back to the default.
    Loaded with their accounts, which connecting to the instance's relay reads."""
    with_account = Provider.objects.select_related("account")
    providers = with_account.in_bulk({m.provider_id for m in messages if m.provider_id})
    defaults = {
        p.account_id: p
        for p in with_account.filter(
            account_id__in={m.account_id for m in messages}, is_default=True
        )
    }
    return {m.pk: providers.get(m.provider_id) or defaults.get(m.account_id) for m in messages}


def without_suppressed(messages: list[Message]) -> tuple[list[Message], int]:
    """Record claimed messages to a suppressed address as `suppressed` (a recipient may have
    bounced since they were queued); return the others and how many were held back. No
    attempt is counted."""
    held_back: set[int] = set()
    for message, hits in suppressed_recipients(messages=messages):
        held_back.add(message.pk)
        with transaction.atomic():
            if _guarded(message).update(
                status=Message.Status.SUPPRESSED,
                error_message=suppression_text(hits),
                next_attempt_at=None,
                claim_token=None,
                lease_expires_at=None,
            ):
                message.status = Message.Status.SUPPRESSED
                outbox.emit([outbox.suppressed(message, [entry.email for entry in hits])])
    return [message for message in messages if message.pk not in held_back], len(held_back)


def _run_here(work: Callable[[], object]) -> object:
    return work()


def record_attempts(
    message: Message,
    attempts: list[delivery.Attempt],
    grants: dict[int, dt.datetime],
    *,
    allow_retry: bool = True,
    mark_sent_grouped: Callable[[Message, str, int], bool] | None = None,
    run: Callable[[Callable[[], object]], object] = _run_here,
) -> Message.Status:
    """Commit what delivery.send_with_failover did with a claimed message, and return its
    new status: the one sequence after sending, for /send and the queue alike.

    A `failover` event for each provider it was handed on from, its outcome (record_outcome,
    with `allow_retry`; a `sent` one through `mark_sent_grouped` when given, which commits
    several threads' outcomes in one statement), and the limit capacity it did not use
    given back (`grants`: provider pk → usage window). `run` runs each database write: the
    queue's sending threads hand theirs to their worker's DatabaseLane (api.drain).
    """
    final = attempts[-1]
    sent = final.result.outcome is Outcome.SENT
    if sent:
        message.provider = final.provider  # a fallback, perhaps
    if len(attempts) > 1:
        run(functools.partial(record_failovers, message, attempts))
    if sent and mark_sent_grouped is not None:
        if not mark_sent_grouped(message, final.result.provider_message_id, final.provider.pk):
            logger.warning("message %s was reclaimed by another worker; dropped", message.pk)
        message.status = Message.Status.SENT
        message.attempts += 1
    else:
        record = functools.partial(record_outcome, message, final.result, allow_retry=allow_retry)
        run(record)
    if grants:
        run(functools.partial(release_unused_capacity, attempts, grants, sent=sent))
    metrics.count_delivery(message, attempts, message.status)
    return Message.Status(message.status)


def release_unused_capacity(
    attempts: list[delivery.Attempt], grants: dict[int, dt.datetime], *, sent: bool
) -> None:
    """Give back what providers' limits granted for a message, except to the one that sent
    it (the last attempt, if it was sent). `grants`: provider pk → usage window."""
    sent_by = attempts[-1].provider.pk if sent else None
    for attempt in attempts:
        window = grants.get(attempt.provider.pk)
        if window is not None and attempt.provider.pk != sent_by:
            limits.release(provider=attempt.provider, grant_window=window, count=1)


def take_fallback_capacity(fallback: Provider, grants: dict[int, dt.datetime]) -> bool:
    """A fallback with limits is used only with room left in them (taken per message)."""
    if not fallback.has_limits:
        return True
    grant = limits.acquire(provider=fallback, wanted=1)
    if grant.granted:
        grants[fallback.pk] = grant.window_start
    return grant.granted > 0


def record_failovers(message: Message, attempts: list[delivery.Attempt]) -> None:
    """A `failover` event for each provider that did not take the message before the last."""
    for attempt, following in itertools.pairwise(attempts):
        MessageEvent.objects.create(
            account_id=message.account_id,
            message=message,
            event_type=MessageEvent.Type.FAILOVER,
            description=(
                f"{attempt.provider.name} did not take it ({attempt.result.error_text}); "
                f"trying {following.provider.name}"
            ),
        )
