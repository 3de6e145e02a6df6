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
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from queue import SimpleQueue
from typing import TypeVar

import psycopg
from django import db
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Q, QuerySet, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from api.emails import email_for_sending
from api.models import Message, MessageEvent
from api.selectors import suppressed_recipients
from api.services.suppressions import suppression_text
from providers import delivery, limits
from providers.delivery import DeliveryResult, Outcome
from providers.models import Provider
from providers.selectors import provider_chain

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
    return list(
        Message.objects.filter(id__in=ids, claim_token=token, status=Message.Status.SENDING)
        .only(*_SENDING_FIELDS)
        .order_by("turn_at", "id")
    )


# What sending a claimed message reads: loading only these makes a claim cheaper (fewer
# timestamps to parse per row). Anything else still loads on first use.
_SENDING_FIELDS = [
    *("account_id", "provider_id", "message_id", "from_email", "from_name", "to_email"),
    *("reply_to", "cc", "bcc", "subject", "html", "text", "tags", "metadata"),
    *("track_opens", "track_clicks", "attempts", "queued_at", "claim_token", "lease_expires_at"),
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


def _mark_sent(sent: list[tuple[Message, str, int | None]]) -> set[int]:
    """Record messages as sent (each with the provider that took it and that provider's
    message id) in one statement;
    return the ids whose claim was still ours and so were updated.

    The drain's hot path, hence hand-written SQL. On this machine a statement costs
    PostgreSQL about 0.2 ms of CPU however small it is, a single-row UPDATE 0.4 ms, and
    ten rows in one statement 0.07 ms each. On PostgreSQL the statement is also prepared
    once per connection and group size (psycopg's Cursor binds on the server; Django's
    ClientCursor would send and plan it anew every time).
    """
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
        updated: int = message.pk in _mark_sent(sent)
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
    Called from every sending thread.
    """

    def __init__(self, messages: list[Message]) -> None:
        self.token = messages[0].claim_token
        self.ids = [message.pk for message in messages]
        self.expires_at = messages[0].lease_expires_at or timezone.now()
        self.length = dt.timedelta(seconds=settings.MAILPASS_QUEUE_LEASE_SECONDS)
        self._lock = threading.Lock()

    def keep_alive(self) -> None:
        now = timezone.now()
        if self.expires_at - now >= self.length / 2:
            return
        with self._lock:
            if self.expires_at - now < self.length / 2:
                self.expires_at = now + self.length
                Message.objects.filter(
                    id__in=self.ids, claim_token=self.token, status=Message.Status.SENDING
                ).update(lease_expires_at=self.expires_at)


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


def _without_suppressed(messages: list[Message], tally: "_Tally") -> list[Message]:
    """Record claimed messages to a suppressed address as `suppressed` (a recipient may have
    bounced since they were queued); return the others. No attempt is counted."""
    held_back: set[int] = set()
    for message, hits in suppressed_recipients(messages=messages):
        held_back.add(message.pk)
        _guarded(message).update(
            status=Message.Status.SUPPRESSED,
            error_message=suppression_text(hits),
            next_attempt_at=None,
            claim_token=None,
            lease_expires_at=None,
        )
        tally.count(Message.Status.SUPPRESSED)
    return [message for message in messages if message.pk not in held_back]


def _never() -> bool:
    return False


class _Feed:
    """One provider's share of a chunk, handed out one message at a time to the connections
    sending it (each in its own thread).

    A provider with limits has its capacity taken per message, right before the message
    goes out: a worker that dies mid-chunk holds at most one message's worth per connection.
    Once the limit is reached, or a stop is asked for, the feed hands out nothing more.
    """

    def __init__(
        self, chain: list[Provider], messages: list[Message], should_stop: Callable[[], bool]
    ) -> None:
        self.chain = chain  # the messages' provider, then its fallbacks (providers.selectors)
        self.provider = chain[0]
        self.messages = messages
        self.should_stop = should_stop
        self.limit_wait = 0  # seconds until the provider's limit frees up, once reached
        self.taken: set[int] = set()
        self.in_flight = 0
        self._next = iter(messages)
        self._changed = threading.Condition()

    def take(self) -> tuple[Message, dt.datetime | None] | None:
        """The next message, with the usage window its capacity was taken from (if any).

        When the limit says no while other messages are in flight, it waits for them: one
        that is not accepted gives its capacity back.
        """
        with self._changed:
            message = None
            while not self.limit_wait and not self.should_stop():
                message = message or next(self._next, None)
                if message is None:
                    return None
                counted_in = None
                if self.provider.has_limits:
                    grant = limits.acquire(provider=self.provider, wanted=1)
                    if not grant.granted:
                        if self.in_flight:
                            self._changed.wait()
                            continue
                        self.limit_wait = grant.retry_after
                        return None
                    counted_in = grant.window_start
                self.taken.add(message.pk)
                self.in_flight += 1
                return message, counted_in
            return None

    def done(self) -> None:
        """A taken message's outcome is recorded (and its capacity given back if unused)."""
        with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def untaken(self) -> list[Message]:
        return [message for message in self.messages if message.pk not in self.taken]


class _Tally:
    """QueueStats that several sending threads add to."""

    def __init__(self) -> None:
        self.stats = QueueStats()
        self._lock = threading.Lock()

    def count(self, status: Message.Status) -> None:
        with self._lock:
            if status == Message.Status.SENT:
                self.stats.sent += 1
            elif status == Message.Status.QUEUED:
                self.stats.retried += 1
            else:
                self.stats.failed += 1


class _SentRecorder:
    """Commits `sent` outcomes for a worker's sending threads, several in one statement.

    A thread whose message was accepted calls record() and gets back only once that outcome
    is committed, before its connection takes the next message: the at-least-once rule
    holds per connection. Whichever thread finds no write under way writes everything
    waiting (group commit); the others wait for it and take the next turn. No thread waits
    longer than one write for its turn, and one alone writes at once.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting: list[_Pending] = []
        self._writing = False

    def record(self, message: Message, provider_message_id: str, provider_id: int) -> bool:
        """Commit `message` as sent by that provider; False if its claim was lost meanwhile."""
        mine = _Pending(message, provider_message_id, provider_id)
        with self._changed:
            self._waiting.append(mine)
            while not mine.done and self._writing:
                self._changed.wait()
            if mine.done:
                return mine.outcome()
            group, self._waiting, self._writing = self._waiting, [], True
        try:
            updated = _mark_sent([(p.message, p.provider_message_id, p.provider_id) for p in group])
            error = None
        except BaseException as exc:  # noqa: BLE001 - handed to every thread of the group
            updated, error = set(), exc
        with self._changed:
            for pending in group:
                pending.settle(pending.message.pk in updated, error)
            self._writing = False
            self._changed.notify_all()
        return mine.outcome()


@dataclass
class _Pending:
    message: Message
    provider_message_id: str
    provider_id: int
    done: bool = False
    updated: bool = False
    error: BaseException | None = None

    def settle(self, updated: bool, error: BaseException | None) -> None:
        self.done, self.updated, self.error = True, updated, error

    def outcome(self) -> bool:
        if self.error is not None:
            raise self.error
        return self.updated


def _record(
    message: Message, result: DeliveryResult, recorder: _SentRecorder, *, provider: Provider
) -> Message.Status:
    """record_outcome(), with `sent` outcomes committed in groups and the provider that sent
    the message (a fallback, perhaps) recorded on it."""
    if result.outcome is not Outcome.SENT:
        return record_outcome(message, result)
    if not recorder.record(message, result.provider_message_id, provider.pk):
        logger.warning("message %s was reclaimed by another worker; outcome dropped", message.pk)
    message.status = Message.Status.SENT
    message.provider_id = provider.pk
    message.attempts += 1
    return message.status


def _send_feed(
    feed: _Feed,
    channel_for: Callable[[Provider], delivery.Channel],
    *,
    lease: _Lease,
    tally: _Tally,
    recorder: _SentRecorder,
) -> Counter[int]:
    """Send messages from `feed` until it runs dry, each through the feed's provider or, if
    that one certainly did not take it, its fallbacks; return how many each provider took.

    Each outcome is committed before the next message is taken, so a worker that dies
    leaves at most the one message in flight on this connection to be sent again.
    """
    accepted: Counter[int] = Counter()
    while (taken := feed.take()) is not None:
        message, counted_in = taken
        # The usage window each provider's limit granted this message from.
        grants = {feed.provider.pk: counted_in} if counted_in is not None else {}
        try:
            attempts = delivery.send_with_failover(
                email_for_sending(message),
                feed.chain,
                channel_for,
                may_use=functools.partial(take_fallback_capacity, grants=grants),
            )
            final = attempts[-1]
            record_failovers(message, attempts)
            status = _record(message, final.result, recorder, provider=final.provider)
            lease.keep_alive()
            tally.count(status)
            if status == Message.Status.SENT:
                accepted[final.provider.pk] += 1
            release_unused_capacity(attempts, grants, sent=status == Message.Status.SENT)
        finally:
            feed.done()
    return accepted


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


class _SenderThread(threading.Thread):
    """A thread that owns some of the worker's connections and runs jobs on them.

    Its database connection is closed whenever it runs out of work, so a worker that sent
    to many providers a while ago does not keep a database connection per thread open.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name=f"mailpass-{name}", daemon=True)
        # (provider pk, provider version) → connection: an edited provider (new host,
        # password…) gets a new one.
        self.channels: dict[tuple[int, dt.datetime], delivery.Channel] = {}
        self.inbox: SimpleQueue[tuple[Callable[[], object], Future] | None] = SimpleQueue()

    def run(self) -> None:
        try:
            while (job := self.inbox.get()) is not None:
                work, future = job
                try:
                    future.set_result(work())
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting worker
                    future.set_exception(exc)
                if self.inbox.empty():
                    db.connections.close_all()
        finally:
            _close_channels(self.channels)
            db.connections.close_all()  # this thread's own database connection

    def stop(self) -> None:
        self.inbox.put(None)


def _close_channels(channels: dict[tuple[int, dt.datetime], delivery.Channel]) -> None:
    for channel in channels.values():
        channel.close()
    channels.clear()


def _channel_in(
    channels: dict[tuple[int, dt.datetime], delivery.Channel],
    provider: Provider,
    trouble: delivery.Trouble,
) -> delivery.Channel:
    """The thread's connection to `provider`, opened when it has none for this version."""
    key = (provider.pk, provider.updated_at)
    channel = channels.get(key)
    if channel is None or channel.unusable is not None:
        # An unusable provider (e.g. its host did not resolve) is looked at again.
        for stale in [other for other in channels if other[0] == provider.pk]:
            channels.pop(stale).close()
        channel = channels[key] = delivery.channel_to(provider)
    channel.trouble = trouble
    return channel


@dataclass
class _Sending:
    """A feed under way on its provider's lane: done when every thread sending it is."""

    feed: _Feed
    parts: list[Future]

    def done(self) -> bool:
        return all(part.done() for part in self.parts)

    def accepted(self) -> Counter[int]:
        """How many messages each provider took; raises what a sending thread raised."""
        wait(self.parts)  # every thread has finished before anything is raised
        return sum((part.result() for part in self.parts), Counter())


class Senders:
    """A worker's outgoing connections, in one lane per provider: up to `per_provider`
    connections (each a thread of its own) to each, open from one chunk to the next.

    Lanes run side by side, so a provider that is slow, or hangs until its deadline, holds
    up only its own messages. A lane runs its feeds one after the other; claim_due leaves
    a provider alone while its lane has one waiting (backlogged()). At most
    MAILPASS_QUEUE_PROVIDERS_AT_ONCE lanes send at a time (has_room_for()), which bounds the
    worker's threads and database connections. Each thread commits each outcome on its own
    database connection. A worker that dies can leave one message per connection sent but
    not recorded (sent again later).
    """

    def __init__(self, per_provider: int | None = None) -> None:
        self.per_provider = per_provider or settings.MAILPASS_QUEUE_CONNECTIONS
        self.lanes_at_once = settings.MAILPASS_QUEUE_PROVIDERS_AT_ONCE
        self._lanes: dict[int, list[_SenderThread]] = {}  # provider pk → its threads
        self._under_way: list[_Sending] = []
        self._inline_channels: dict[tuple[int, dt.datetime], delivery.Channel] = {}
        self._recorder = _SentRecorder()
        # Set when a sending thread raised (the database went away, say): nothing more is
        # sent, so at most the one message in flight per connection goes out unrecorded.
        self._broken = threading.Event()

    def broken(self) -> bool:
        return self._broken.is_set()

    def __enter__(self) -> "Senders":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self, feed: _Feed, lease: _Lease, tally: _Tally) -> _Sending:
        """Start sending `feed` on its provider's lane (through its fallbacks when needed)."""
        # Shared by this feed's connections to each provider; every feed gives a provider
        # that was down a fresh chance.
        troubles = {provider.pk: delivery.Trouble() for provider in feed.chain}
        parts = []
        if connection.in_atomic_block:
            # Inside the caller's transaction (tests), threads could neither see its rows
            # nor write past its locks: send right here. claim_due never runs in one.
            part: Future = Future()
            part.set_result(
                _send_feed(
                    feed,
                    lambda p: _channel_in(self._inline_channels, p, troubles[p.pk]),
                    lease=lease,
                    tally=tally,
                    recorder=self._recorder,
                )
            )
            return _Sending(feed, [part])
        for thread in self._threads_for(feed.provider.pk, len(feed.messages)):
            part = Future()

            def work(channels: dict = thread.channels) -> Counter[int]:
                if self.broken():
                    return Counter()
                try:
                    return _send_feed(
                        feed,
                        lambda provider: _channel_in(channels, provider, troubles[provider.pk]),
                        lease=lease,
                        tally=tally,
                        recorder=self._recorder,
                    )
                except BaseException:
                    self._broken.set()
                    raise

            thread.inbox.put((work, part))
            parts.append(part)
        sending = _Sending(feed, parts)
        self._under_way.append(sending)
        return sending

    def _busy(self) -> Counter[int]:
        """Provider pk → feeds under way on its lane (sending or waiting their turn)."""
        self._under_way = [sending for sending in self._under_way if not sending.done()]
        return Counter(sending.feed.provider.pk for sending in self._under_way)

    def backlogged(self) -> list[int]:
        """Providers whose lane has a feed waiting behind the one it sends: claiming more
        for them would only hold their messages here, away from other workers."""
        return [pk for pk, feeds in self._busy().items() if feeds > 1]

    def has_room_for(self, provider: Provider) -> bool:
        busy = self._busy()
        return provider.pk in busy or len(busy) < self.lanes_at_once

    def wait_for_any(self, timeout: float) -> None:
        wait([p for s in self._under_way for p in s.parts], timeout, FIRST_COMPLETED)

    def has_free_lane(self) -> bool:
        return len(self._busy()) < self.lanes_at_once

    def _threads_for(self, provider_pk: int, messages: int) -> list[_SenderThread]:
        threads = self._lanes.pop(provider_pk, [])
        self._lanes[provider_pk] = threads  # the most recently used lane last
        busy = self._busy()
        idle = [pk for pk in self._lanes if pk not in busy and pk != provider_pk]
        for pk in idle[: max(0, len(self._lanes) - self.lanes_at_once)]:
            # Least recently used first: a worker keeps connections to the providers it
            # sends to now, not to every provider it ever sent to.
            for thread in self._lanes.pop(pk):
                thread.stop()
        count = min(self.per_provider, messages)
        while len(threads) < count:
            thread = _SenderThread(f"provider-{provider_pk}-{len(threads)}")
            thread.start()
            threads.append(thread)
        return threads[:count]

    def close(self) -> None:
        _close_channels(self._inline_channels)
        threads = [thread for lane in self._lanes.values() for thread in lane]
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join()
        self._lanes.clear()


class _Chunk:
    """A claimed chunk under way: its providers' feeds on their lanes, and what is left to
    record about it once they are done."""

    def __init__(self, messages: list[Message], should_stop: Callable[[], bool]) -> None:
        self.tally = _Tally()
        self.tally.stats.claimed = len(messages)
        self.lease = _Lease(messages) if messages else None
        self.should_stop = should_stop
        self.sendings: list[_Sending] = []
        self.untried: list[Message] = []
        self.started = time.monotonic()

    def done(self) -> bool:
        return all(sending.done() for sending in self.sendings)

    def keep_alive(self) -> None:
        if self.lease is not None:
            self.lease.keep_alive()

    def finish(self) -> QueueStats:
        """Wait for the feeds, record providers' usage, return what was not sent."""
        for sending in self.sendings:
            feed, accepted = sending.feed, sending.accepted()
            for sender in feed.chain:
                if accepted[sender.pk] and not sender.has_limits:
                    limits.record_usage(provider=sender, count=accepted[sender.pk])
            if feed.limit_wait:
                self.tally.stats.deferred += _put_back(feed.untaken(), retry_after=feed.limit_wait)
            else:
                self.untried += feed.untaken()
        _put_back(self.untried, retry_after=0)
        return self.tally.stats


def start_chunk(
    messages: list[Message], *, should_stop: Callable[[], bool], senders: Senders
) -> _Chunk:
    """Start delivering claimed messages: each provider's share on its lane of `senders`."""
    chunk = _Chunk(messages, should_stop)
    lease = chunk.lease
    if lease is None:  # nothing was claimed
        return chunk
    messages = _without_suppressed(messages, chunk.tally)
    provider_of = _providers_for(messages)
    by_provider: dict[Provider | None, list[Message]] = defaultdict(list)
    for message in messages:
        by_provider[provider_of[message.pk]].append(message)

    for provider, group in by_provider.items():
        if provider is None:
            for message in group:
                no_provider = DeliveryResult(
                    Outcome.FAILED, error_text="The account has no provider."
                )
                chunk.tally.count(record_outcome(message, no_provider))
        elif should_stop():
            chunk.untried += group
        elif not senders.has_room_for(provider):
            _put_back(group, retry_after=0)  # no free lane: due again for the next claim
        else:
            feed = _Feed(
                provider_chain(provider=provider),
                group,
                lambda: should_stop() or senders.broken(),
            )
            chunk.sendings.append(senders.start(feed, lease, chunk.tally))
    return chunk


def deliver_claimed(
    messages: list[Message],
    *,
    should_stop: Callable[[], bool] = _never,
    senders: Senders | None = None,
) -> QueueStats:
    """Deliver claimed messages over the worker's connections, each outcome committed at once.

    A provider over its hourly/daily limit gets only what its limit allows; the rest go
    back to the queue for when the window frees up, neither failed nor counted as an attempt.
    The chunk's lease is renewed as it goes, however slow the provider. `should_stop` is
    asked before every message: once it says yes, the messages not yet sent go straight
    back to the queue (no attempt counted) instead of waiting for the lease to run out.
    """
    if senders is None:
        with Senders() as own:
            return deliver_claimed(messages, should_stop=should_stop, senders=own)
    return start_chunk(messages, should_stop=should_stop, senders=senders).finish()


def process_due(
    *,
    batch_size: int | None = None,
    limit: int | None = None,
    should_stop: Callable[[], bool] = _never,
    on_chunk: Callable[[QueueStats, float], None] | None = None,
) -> QueueStats:
    """Claim and deliver chunks until nothing is due, `limit` messages were claimed, or
    `should_stop` says so (checked before every message; see deliver_claimed).

    Chunks overlap: each provider's share goes out on its own lane (Senders), and the next
    chunk is claimed while they send, leaving out the providers whose lane is backlogged.
    So a slow provider holds up its own messages only; everyone else's keep flowing past
    it. The worker's connections stay open from chunk to chunk and are closed on return.
    `on_chunk(stats, seconds)` is called after each chunk (the health line).
    """
    batch_size = batch_size or settings.MAILPASS_QUEUE_BATCH_SIZE
    total = QueueStats()
    claimed_so_far = 0
    under_way: list[_Chunk] = []
    # While waiting on slow lanes, leases are renewed at least this often.
    pause = settings.MAILPASS_QUEUE_LEASE_SECONDS / 4

    with Senders() as senders:
        while True:
            claimed: list[Message] = []
            wanted = not should_stop() and not senders.broken()
            wanted = wanted and (limit is None or claimed_so_far < limit)
            if wanted and senders.has_free_lane():
                size = batch_size if limit is None else min(batch_size, limit - claimed_so_far)
                claimed = claim_due(batch_size=size, skip_providers=senders.backlogged())
            if claimed:
                claimed_so_far += len(claimed)
                under_way.append(start_chunk(claimed, should_stop=should_stop, senders=senders))
            elif not under_way:
                break
            else:
                senders.wait_for_any(pause)
            for chunk in under_way:
                chunk.keep_alive()
            for chunk in [chunk for chunk in under_way if chunk.done()]:
                under_way.remove(chunk)
                stats = chunk.finish()
                total.add(stats)
                if on_chunk is not None:
                    on_chunk(stats, time.monotonic() - chunk.started)
    return total
