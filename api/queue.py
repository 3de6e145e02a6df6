"""The mail queue: claim due messages, deliver them, record each outcome. Nowhere else.

A claim is a lease: messages are stamped `sending` with a claim token and an expiry, in a
short transaction that commits before any network I/O. If the worker dies, the lease runs
out and the messages are due again (at-least-once delivery). Every outcome write is
guarded by the claim token, so a worker whose lease was taken over cannot overwrite the
new owner's result.
"""

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Q, QuerySet, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from api.emails import PreparedEmail, build_email
from api.models import Message, MessageEvent
from providers import delivery, limits
from providers.delivery import DeliveryResult, Outcome
from providers.models import Provider

logger = logging.getLogger(__name__)


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


def claim_due(*, batch_size: int, lease_seconds: int | None = None) -> list[Message]:
    """Claim up to `batch_size` due messages for this worker and return them.

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
    return list(
        Message.objects.filter(claim_token=token, status=Message.Status.SENDING).order_by(
            "turn_at", "id"
        )
    )


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


_MARK_SENT_SQL = (
    "UPDATE {table} SET status = %s, sent_at = %s, updated_at = %s, provider_message_id = %s,"
    " error_message = NULL, failure_reason = NULL, claim_token = NULL,"
    " lease_expires_at = NULL, attempts = attempts + 1"
    " WHERE id = %s AND claim_token = %s AND status = %s"
)


# Every outcome ends the claim and counts the attempt.
_RELEASE_CLAIM = {"claim_token": None, "lease_expires_at": None, "attempts": F("attempts") + 1}


def _mark_sent(message: Message, provider_message_id: str, now: dt.datetime) -> int:
    # The drain's hot path: one hand-written statement costs a third of the ORM's
    # compiled update (0.3 vs 0.8 ms here), and it runs once per message sent.
    token = Message._meta.get_field("claim_token").get_db_prep_value(
        message.claim_token, connection
    )
    timestamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            _MARK_SENT_SQL.format(table=connection.ops.quote_name(Message._meta.db_table)),
            [
                Message.Status.SENT,
                timestamp,
                timestamp,
                provider_message_id[:255],
                message.pk,
                token,
                Message.Status.SENDING,
            ],
        )
        return cursor.rowcount


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
        updated = _mark_sent(message, result.provider_message_id, now)
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
        updated = _guarded(message).update(
            status=status, error_message=text, failure_reason=reason, **_RELEASE_CLAIM
        )
    if not updated:
        logger.warning("message %s was reclaimed by another worker; outcome dropped", message.pk)
    message.status = status
    message.attempts = attempts
    return status


def _expired(message: Message, attempts: int, now: dt.datetime) -> bool:
    max_age = dt.timedelta(seconds=settings.MAILPASS_RETRY_MAX_AGE_SECONDS)
    return attempts >= settings.MAILPASS_RETRY_MAX_ATTEMPTS or now - message.queued_at > max_age


class _Lease:
    """A chunk's claim, renewed while the chunk is worked through.

    Every message of a chunk shares one claim token. A chunk can take longer than its lease
    (a slow provider, many messages), so the lease is pushed forward whenever half of it is
    used up; another worker then never reclaims a message this worker is still sending.
    """

    def __init__(self, messages: list[Message]) -> None:
        self.token = messages[0].claim_token
        self.expires_at = messages[0].lease_expires_at or timezone.now()
        self.length = dt.timedelta(seconds=settings.MAILPASS_QUEUE_LEASE_SECONDS)

    def keep_alive(self) -> None:
        now = timezone.now()
        if self.expires_at - now < self.length / 2:
            self.expires_at = now + self.length
            Message.objects.filter(claim_token=self.token, status=Message.Status.SENDING).update(
                lease_expires_at=self.expires_at
            )


def _hours(span: dt.timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{span.total_seconds():.0f} s"


def _put_back(messages: list[Message], *, retry_after: int) -> int:
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


def _providers_for(messages: list[Message]) -> dict[int, Provider | None]:
    """Each message's provider; one whose provider was deleted falls back to the default."""
    providers = Provider.objects.in_bulk({m.provider_id for m in messages if m.provider_id})
    defaults = {
        p.account_id: p
        for p in Provider.objects.filter(
            account_id__in={m.account_id for m in messages}, is_default=True
        )
    }
    return {m.pk: providers.get(m.provider_id) or defaults.get(m.account_id) for m in messages}


def _never() -> bool:
    return False


class _Feed:
    """One provider's share of a chunk, handed to delivery.deliver() one email at a time.

    deliver() sends each email before it pulls the next, so `current` is always the message
    the latest result belongs to. A provider with limits has its capacity taken per message,
    right before the message goes out: a worker that dies mid-chunk holds at most one
    message's worth. When the limit is reached, or a stop is asked for, the feed ends.
    """

    def __init__(
        self, provider: Provider, messages: list[Message], should_stop: Callable[[], bool]
    ) -> None:
        self.provider = provider
        self.messages = messages
        self.should_stop = should_stop
        self.current: Message | None = None
        self.counted_in: dt.datetime | None = None  # usage window the current one was counted in
        self.limit_wait = 0  # seconds until the provider's limit frees up, once reached

    def __iter__(self) -> Iterator[PreparedEmail]:
        for message in self.messages:
            if self.should_stop():
                return
            if self.provider.has_limits:
                grant = limits.acquire(provider=self.provider, wanted=1)
                if not grant.granted:
                    self.limit_wait = grant.retry_after
                    return
                self.counted_in = grant.window_start
            self.current = message
            yield build_email(message)

    def give_back(self) -> None:
        """The current message was not accepted: return the capacity it took."""
        if self.counted_in is not None:
            limits.release(provider=self.provider, grant_window=self.counted_in, count=1)


def _deliver_group(
    provider: Provider,
    group: list[Message],
    *,
    lease: _Lease,
    should_stop: Callable[[], bool],
    stats: QueueStats,
) -> list[Message]:
    """Send one provider's share of a chunk over one connection; return what was not tried."""
    feed = _Feed(provider, group, should_stop)
    done: set[int] = set()
    accepted = 0
    for result in delivery.deliver_via(provider, feed):
        message = feed.current
        status = record_outcome(message, result)
        done.add(message.pk)
        lease.keep_alive()
        if status == Message.Status.SENT:
            accepted += 1
            continue
        feed.give_back()
        if status == Message.Status.QUEUED:
            stats.retried += 1
        else:
            stats.failed += 1
    stats.sent += accepted
    if accepted and not provider.has_limits:
        limits.record_usage(provider=provider, count=accepted)
    untried = [message for message in group if message.pk not in done]
    if feed.limit_wait:
        stats.deferred += _put_back(untried, retry_after=feed.limit_wait)
        return []
    return untried


def deliver_claimed(
    messages: list[Message], *, should_stop: Callable[[], bool] = _never
) -> QueueStats:
    """Deliver claimed messages: ONE connection per provider, each outcome committed at once.

    A provider over its hourly/daily limit gets only what its limit allows; the rest go
    back to the queue for when the window frees up, neither failed nor counted as an attempt.
    The chunk's lease is renewed as it goes, however slow the provider. `should_stop` is
    asked before every message: once it says yes, the messages not yet sent go straight
    back to the queue (no attempt counted) instead of waiting for the lease to run out.
    """
    stats = QueueStats(claimed=len(messages))
    if not messages:
        return stats
    lease = _Lease(messages)
    provider_of = _providers_for(messages)
    by_provider: dict[Provider | None, list[Message]] = defaultdict(list)
    for message in messages:
        by_provider[provider_of[message.pk]].append(message)

    untried: list[Message] = []
    for provider, group in by_provider.items():
        if should_stop():
            untried += group
        elif provider is None:
            for message in group:
                no_provider = DeliveryResult(
                    Outcome.FAILED, error_text="The account has no provider."
                )
                record_outcome(message, no_provider)
                stats.failed += 1
        else:
            untried += _deliver_group(
                provider, group, lease=lease, should_stop=should_stop, stats=stats
            )
    _put_back(untried, retry_after=0)
    return stats


def process_due(
    *,
    batch_size: int | None = None,
    limit: int | None = None,
    should_stop: Callable[[], bool] = _never,
) -> QueueStats:
    """Claim and deliver chunks until nothing is due, `limit` messages were claimed, or
    `should_stop` says so (checked after every message; see deliver_claimed)."""
    batch_size = batch_size or settings.MAILPASS_QUEUE_BATCH_SIZE
    total = QueueStats()
    while (limit is None or total.claimed < limit) and not should_stop():
        size = batch_size if limit is None else min(batch_size, limit - total.claimed)
        claimed = claim_due(batch_size=size)
        if not claimed:
            break
        total.add(deliver_claimed(claimed, should_stop=should_stop))
    return total
