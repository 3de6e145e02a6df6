"""Draining the queue: many deliveries in flight per worker, few database connections.

A worker claims chunks of due messages (api.queue.claim_due) and splits each chunk by
provider into feeds. Each provider has a lane of sending threads in the worker, one per
connection (SMTP) or request (API) in flight: up to MAILPASS_QUEUE_CONNECTIONS, and never
more than the worker's share of the provider's cap for all workers together (slots leased
through providers.courtesy). So a provider far away gets many messages in flight, and a
slow or hung one holds up only its own lane.

Sending threads never query the database themselves: what a message needs (limits, its
outcome, failover events, tracked links, pacing) runs on the worker's DatabaseLane, a few
threads with a connection each. A worker holds at most DB_THREADS + 1 database
connections (the lane's and the main thread's, which claims) whatever its concurrency.
Each outcome is committed before its thread takes the next message, so a worker that dies
leaves at most one message per sending thread sent but not recorded.
"""

import functools
import logging
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from django import db
from django.conf import settings
from django.db import connection

from api import outbox, queue
from api.emails import build_email, look_up_signing_keys
from api.models import Message
from api.queue import Lease, QueueStats
from api.services import testmode
from api.tracking import remember_links
from mailpass.logs import log_context
from providers import courtesy, delivery, limits
from providers.delivery import DeliveryResult, Outcome
from providers.models import Provider
from providers.selectors import provider_chain

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Database connections of a worker's DatabaseLane; with the main thread's, DB_THREADS + 1.
DB_THREADS = 3
# A lane thread idle this long closes its database connection.
DB_IDLE_SECONDS = 2.0
# A provider lane that has sent nothing for this long closes its connections and gives
# its slots back to the other workers.
LANE_IDLE_SECONDS = 2.0
# How often the main thread looks after its lanes (Senders.tend) while they send.
TEND_SECONDS = 0.1
# A provider whose slots are all taken by other workers is not claimed for this long.
NO_SLOT_PAUSE_SECONDS = 1
# A lane's sending threads: from LANE_MIN_THREADS, widened while the CPU has room (see
# _Widths), up to MAILPASS_QUEUE_CONNECTIONS.
LANE_MIN_THREADS = 4
BUSY_CPU = 0.8  # of one core
LOOK_SECONDS = 0.1
# How often a draining worker moves scheduled messages whose time has come into the queue.
RELEASE_EVERY_SECONDS = 1.0


def _never() -> bool:
    return False


class _SenderThread(threading.Thread):
    """A thread that owns one of the worker's connections to a provider and runs jobs on it.

    It never queries the database: a query from it raises (see DatabaseLane).
    """

    def __init__(self, name: str) -> None:
        super().__init__(name=f"mailpass-{name}", daemon=True)
        # (provider pk, provider version) → connection: an edited provider (new host,
        # password…) gets a new one.
        self.channels: dict[tuple[int, Any], delivery.Channel] = {}
        self.inbox: SimpleQueue[tuple[Callable[[], object], Future] | None] = SimpleQueue()

    def run(self) -> None:
        try:
            with connection.execute_wrapper(_refuse_query):
                while (job := self.inbox.get()) is not None:
                    work, future = job
                    try:
                        future.set_result(work())
                    except BaseException as exc:  # noqa: BLE001 - handed to the waiting worker
                        future.set_exception(exc)
        finally:
            _close_channels(self.channels)
            db.connections.close_all()  # opened only by a query that was refused

    def stop(self) -> None:
        self.inbox.put(None)


def _refuse_query(*args: object) -> None:
    raise RuntimeError("a sending thread queried the database: hand the query to DatabaseLane.run")


class DatabaseLane:
    """The database connections a worker's sending threads share.

    run(work) runs `work` on one of DB_THREADS threads, each with a connection of its own,
    and returns what it returned (or raises what it raised). Called from any thread but a
    sending thread (the worker's main thread; tests inside a transaction), it runs `work`
    right there, on that thread's own connection.
    """

    def __init__(self, threads: int = DB_THREADS) -> None:
        self._jobs: SimpleQueue[tuple[Callable[[], Any], Future] | None] = SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"mailpass-db-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, work: Callable[[], T]) -> T:
        if not isinstance(threading.current_thread(), _SenderThread):
            return work()
        future: Future[T] = Future()
        self._jobs.put((work, future))
        return future.result()

    def _serve(self) -> None:
        try:
            while True:
                try:
                    job = self._jobs.get(timeout=DB_IDLE_SECONDS)
                except Empty:
                    db.connections.close_all()  # idle: no connection held for nothing
                    job = self._jobs.get()
                if job is None:
                    return
                work, future = job
                try:
                    future.set_result(work())
                except BaseException as exc:  # noqa: BLE001 - handed to the sending thread
                    future.set_exception(exc)
                    db.close_old_connections()  # a broken connection is not reused
        finally:
            db.connections.close_all()

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


class _Feed:
    """One provider's share of a chunk, handed out one message at a time to the threads
    sending it.

    A provider with limits has its capacity taken per message, right before the message
    goes out: a worker that dies mid-chunk holds at most one message's worth per thread.
    Once the limit is reached, or a stop is asked for, the feed hands out nothing more.
    """

    def __init__(
        self,
        chain: list[Provider],
        messages: list[Message],
        should_stop: Callable[[], bool],
        database: DatabaseLane,
    ) -> None:
        self.chain = chain  # the messages' provider, then its fallbacks (providers.selectors)
        self.provider = chain[0]
        self.messages = messages
        self.should_stop = should_stop
        self.database = database
        self.limit_wait = 0  # seconds until the provider's limit frees up, once reached
        self.taken: set[int] = set()
        self.in_flight = 0
        self._next = iter(messages)
        self._changed = threading.Condition()

    def take(self) -> tuple[Message, dict[int, Any]] | None:
        """The next message, with the usage window its capacity was taken from by provider
        pk (empty for a provider without limits).

        When the limit says no while other messages are in flight, it waits for them: one
        that is not accepted gives its capacity back.
        """
        with self._changed:
            message = None
            while not self.limit_wait and not self.should_stop():
                message = message or next(self._next, None)
                if message is None:
                    return None
                grants = {}
                if self.provider.has_limits:
                    acquire = functools.partial(limits.acquire, provider=self.provider, wanted=1)
                    grant = self.database.run(acquire)
                    if not grant.granted:
                        if self.in_flight:
                            self._changed.wait()
                            continue
                        self.limit_wait = grant.retry_after
                        return None
                    grants[self.provider.pk] = grant.window_start
                self.taken.add(message.pk)
                self.in_flight += 1
                return message, grants
            return None

    def done(self) -> None:
        """A taken message's outcome is recorded (and its capacity given back if unused)."""
        with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def untaken(self) -> list[Message]:
        return [message for message in self.messages if message.pk not in self.taken]

    def left(self) -> int:
        """How many messages it has not handed out yet."""
        return len(self.messages) - len(self.taken)


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


def _machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU time of the whole machine so far, in clock ticks (Linux's
    /proc/stat); None where there is no such file."""
    try:
        with open("/proc/stat", "rb") as stat:
            ticks = [int(n) for n in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


class _Widths:
    """How many sending threads each lane may have.

    A lane starts at LANE_MIN_THREADS and grows fourfold whenever it uses every thread it
    has, holds more messages than that, and the CPU had room since the last look: the
    worker used under BUSY_CPU of a core (a Python process works on one core at a time)
    and the machine as a whole was under BUSY_CPU busy (other workers, the database). A
    lane to a far provider so widens within a fraction of a second, until its threads hide
    the distance or the CPU is the limit; one to a near provider stays narrow, the CPU
    being the limit from the start.
    """

    def __init__(self, most: int) -> None:
        self.most = most
        self._of: dict[int, int] = {}  # provider pk → width
        self._last_look = (time.monotonic(), time.process_time(), _machine_cpu())

    def of(self, provider_pk: int) -> int:
        return self._of.get(provider_pk, min(LANE_MIN_THREADS, self.most))

    def widen(self, provider_pk: int) -> int:
        width = self.of(provider_pk)
        self._of[provider_pk] = min(self.most, width * 4)
        return self._of[provider_pk]

    def cpu_has_room(self) -> bool:
        """Whether the worker and the machine were under BUSY_CPU since the last look (False
        when the last look is under LOOK_SECONDS ago)."""
        now, cpu, machine = time.monotonic(), time.process_time(), _machine_cpu()
        last_now, last_cpu, last_machine = self._last_look
        if now - last_now < LOOK_SECONDS:
            return False
        self._last_look = (now, cpu, machine)
        if (cpu - last_cpu) / (now - last_now) >= BUSY_CPU:
            return False
        if machine is None or last_machine is None or machine[1] == last_machine[1]:
            return True
        return (machine[0] - last_machine[0]) / (machine[1] - last_machine[1]) < BUSY_CPU


@dataclass
class _Pending:
    message: Message
    provider_message_id: str
    provider_id: int
    updated: bool = False
    error: BaseException | None = None
    lead: bool = False  # set when its thread is to write the next group itself
    woken: threading.Event = field(default_factory=threading.Event)

    def settle(self, updated: bool, error: BaseException | None) -> None:
        self.updated, self.error = updated, error
        self.woken.set()

    def outcome(self) -> bool:
        if self.error is not None:
            raise self.error
        return self.updated


# Group writes of `sent` outcomes under way at once: while one commits, the next group
# gathers and may start, so no thread waits for much more than one write.
GROUP_WRITES = 2


class _SentRecorder:
    """Commits `sent` outcomes for a worker's sending threads, several in one statement.

    A thread whose message was accepted calls record() and gets back only once that outcome
    is committed, before it takes the next message: the at-least-once rule holds per
    thread. A thread that finds fewer than GROUP_WRITES writes under way writes everything
    waiting (group commit) through the DatabaseLane; the others wait. A writer that is done
    hands the next group to the first thread waiting, so each thread is woken once.
    """

    def __init__(self, database: DatabaseLane) -> None:
        self.database = database
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._writes = 0

    def record(self, message: Message, provider_message_id: str, provider_id: int) -> bool:
        """Commit `message` as sent by that provider; False if its claim was lost meanwhile."""
        mine = _Pending(message, provider_message_id, provider_id)
        with self._lock:
            self._waiting.append(mine)
            leads = self._writes < GROUP_WRITES
            if leads:
                self._writes += 1
                group, self._waiting = self._waiting, []
        if not leads:
            mine.woken.wait()
            if not mine.lead:
                return mine.outcome()
            with self._lock:  # a writer handed this thread the next group, itself first
                group, self._waiting = self._waiting, []
        if group:  # empty when another writer took this thread's group meanwhile
            self._write(group)
        with self._lock:
            if self._waiting:
                self._waiting[0].lead = True
                self._waiting[0].woken.set()
            else:
                self._writes -= 1
        return mine.outcome()

    def _write(self, group: list[_Pending]) -> None:
        sent = [(p.message, p.provider_message_id, p.provider_id) for p in group]
        try:
            updated = self.database.run(functools.partial(queue.mark_sent, sent))
            error = None
        except BaseException as exc:  # noqa: BLE001 - handed to every thread of the group
            updated, error = set(), exc
        for pending in group:
            pending.settle(pending.message.pk in updated, error)


def _send_feed(
    feed: _Feed,
    channel_for: Callable[[Provider], delivery.Channel],
    *,
    tally: _Tally,
    recorder: _SentRecorder,
) -> Counter[int]:
    """Send messages from `feed` until it runs dry, each through the feed's provider or, if
    that one certainly did not take it, its fallbacks; return how many each provider took.

    Each outcome is committed before the next message is taken, so a worker that dies
    leaves at most the one message in flight on this thread to be sent again.
    """
    database = feed.database
    accepted: Counter[int] = Counter()
    while (taken := feed.take()) is not None:
        message, grants = taken
        try:
            email = build_email(message)
            if email.tracked_links:
                # Stored first: the recipient may click one as soon as the provider takes it.
                database.run(functools.partial(remember_links, message, email.tracked_links))
            take_fallback = functools.partial(queue.take_fallback_capacity, grants=grants)

            def may_use(fallback: Provider, take: Callable[..., bool] = take_fallback) -> bool:
                return database.run(functools.partial(take, fallback))

            with log_context(account_id=message.account_id, message_id=message.message_id):
                attempts = delivery.send_with_failover(
                    email, feed.chain, channel_for, may_use=may_use, needs=email.needs
                )
            status = queue.record_attempts(
                message,
                attempts,
                grants,
                mark_sent_grouped=recorder.record,
                run=database.run,
            )
            tally.count(status)
            if status == Message.Status.SENT:
                accepted[attempts[-1].provider.pk] += 1
        finally:
            feed.done()
    return accepted


def _close_channels(channels: dict[tuple[int, Any], delivery.Channel]) -> None:
    for channel in channels.values():
        channel.close()
    channels.clear()


def _channel_in(
    channels: dict[tuple[int, Any], delivery.Channel],
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


def _paced(
    channel_for: Callable[[Provider], delivery.Channel], database: DatabaseLane
) -> Callable[[Provider], delivery.Channel]:
    """channel_for, first waiting for the provider's turn when it has a per-second cap."""

    def take_on_lane(provider: Provider) -> float:
        return database.run(functools.partial(courtesy.take_turn, provider=provider))

    def paced(provider: Provider) -> delivery.Channel:
        courtesy.wait_for_turn(provider, take=take_on_lane)
        return channel_for(provider)

    return paced


class _Sending:
    """A feed under way on its provider's lane: done when every thread sending it is."""

    def __init__(self, feed: _Feed, tally: _Tally) -> None:
        self.feed = feed
        self.tally = tally
        # Shared by this feed's connections to each provider; every feed gives a provider
        # that was down a fresh chance.
        self.troubles = {provider.pk: delivery.Trouble() for provider in feed.chain}
        self.parts: list[Future] = []  # one per thread sending it; added to by _widen

    def done(self) -> bool:
        return all(part.done() for part in self.parts)

    def accepted(self) -> Counter[int]:
        """How many messages each provider took; raises what a sending thread raised."""
        wait(self.parts)  # every thread has finished before anything is raised
        return sum((part.result() for part in self.parts), Counter())


class Senders:
    """A worker's outgoing connections, in one lane per provider: up to `per_provider`
    sending threads (each with its connection) to each, kept open from one chunk to the
    next while the lane has work.

    Lanes run side by side, so a provider that is slow, or hangs until its deadline, holds
    up only its own messages. A lane runs its feeds one after the other; claim_due leaves
    a provider alone while its lane has two rounds of work (skipped_providers()). At most
    MAILPASS_QUEUE_PROVIDERS_AT_ONCE lanes send at a time (has_room_for()). A lane's
    threads are the provider slots the worker could lease (providers.courtesy), so all
    workers together keep to the provider's in-flight cap.
    """

    def __init__(self, per_provider: int | None = None) -> None:
        self.per_provider = per_provider or settings.MAILPASS_QUEUE_CONNECTIONS
        self.lanes_at_once = settings.MAILPASS_QUEUE_PROVIDERS_AT_ONCE
        self.holder = uuid.uuid4()  # this worker, as the holder of provider slots
        self.database = DatabaseLane()
        self.widths = _Widths(self.per_provider)
        self._lanes: dict[int, list[_SenderThread]] = {}  # provider pk → its threads
        self._idle_since: dict[int, float] = {}
        self._no_slot_until: dict[int, float] = {}
        self._slots_renewed = time.monotonic()
        self._under_way: list[_Sending] = []
        self._inline_channels: dict[tuple[int, Any], delivery.Channel] = {}
        self._recorder = _SentRecorder(self.database)
        # Set when a sending thread raised (the database went away, say): nothing more is
        # sent, so at most the one message in flight per thread goes out unrecorded.
        self._broken = threading.Event()

    def broken(self) -> bool:
        return self._broken.is_set()

    def __enter__(self) -> "Senders":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self, feed: _Feed, tally: _Tally) -> _Sending | None:
        """Start sending `feed` on its provider's lane (through its fallbacks when needed);
        None when other workers hold all of the provider's slots."""
        sending = _Sending(feed, tally)
        if connection.in_atomic_block:
            # Inside the caller's transaction (tests), threads could neither see its rows
            # nor write past its locks: send right here. claim_due never runs in one.
            part: Future = Future()
            part.set_result(self._send(sending, self._inline_channels))
            sending.parts.append(part)
            return sending
        threads = self._lane_for(feed.provider, len(feed.messages))
        if not threads:
            return None
        for thread in threads:
            self._hand(thread, sending)
        self._under_way.append(sending)
        return sending

    def _send(
        self, sending: "_Sending", channels: dict[tuple[int, Any], delivery.Channel]
    ) -> Counter[int]:
        troubles = sending.troubles
        channel_for = _paced(lambda p: _channel_in(channels, p, troubles[p.pk]), self.database)
        return _send_feed(sending.feed, channel_for, tally=sending.tally, recorder=self._recorder)

    def _hand(self, thread: _SenderThread, sending: "_Sending") -> None:
        """Have `thread` send from `sending`'s feed, after what it has to do already."""

        def work() -> Counter[int]:
            if self.broken():
                return Counter()
            try:
                return self._send(sending, thread.channels)
            except BaseException:
                self._broken.set()
                raise

        part: Future = Future()
        thread.inbox.put((work, part))
        sending.parts.append(part)

    def _widen(self) -> None:
        """Widen the busy lanes that use every thread they have and hold more messages,
        while the worker's CPU has room (_Widths)."""
        under_way: dict[int, list[_Sending]] = defaultdict(list)
        for sending in self._under_way:
            under_way[sending.feed.provider.pk].append(sending)
        if not under_way or not self.widths.cpu_has_room():
            return
        for pk, sendings in under_way.items():
            threads = self._lanes.get(pk, [])
            left = sum(sending.feed.left() for sending in sendings)
            if len(threads) < self.widths.of(pk) or not left:
                continue  # not using the width it has (no slot, a small feed)
            wanted = min(self.widths.widen(pk), len(threads) + left)
            for thread in self._add_threads(sendings[0].feed.provider, threads, wanted):
                for sending in sendings:
                    self._hand(thread, sending)

    def _busy(self) -> Counter[int]:
        """Provider pk → feeds under way on its lane (sending or waiting their turn)."""
        self._under_way = [sending for sending in self._under_way if not sending.done()]
        return Counter(sending.feed.provider.pk for sending in self._under_way)

    def skipped_providers(self) -> list[int]:
        """Providers claim_due should leave alone: those whose lane holds two rounds of
        work already, a message for each of its threads and one more each (claiming more
        would only hold their messages here, away from other workers), and those whose
        slots other workers hold."""
        now = time.monotonic()
        self._busy()  # drops the feeds that are done
        left: Counter[int] = Counter()
        for sending in self._under_way:
            left[sending.feed.provider.pk] += sending.feed.left()
        full = [pk for pk, count in left.items() if count >= 2 * len(self._lanes.get(pk, ()))]
        return full + [pk for pk, until in self._no_slot_until.items() if until > now]

    def has_room_for(self, provider: Provider) -> bool:
        busy = self._busy()
        return provider.pk in busy or len(busy) < self.lanes_at_once

    def wait_for_any(self, timeout: float) -> None:
        running = [p for s in self._under_way for p in s.parts if not p.done()]
        wait(running, timeout, FIRST_COMPLETED)

    def has_free_lane(self) -> bool:
        return len(self._busy()) < self.lanes_at_once

    def _lane_for(self, provider: Provider, messages: int) -> list[_SenderThread]:
        """The lane's threads for a feed of `messages`: as many as its width (_Widths), started
        (and slots leased) when it needs more; [] when it can lease none."""
        threads = self._lanes.pop(provider.pk, [])
        self._lanes[provider.pk] = threads  # the most recently used lane last
        busy = self._busy()
        idle = [pk for pk in self._lanes if pk not in busy and pk != provider.pk]
        for pk in idle[: max(0, len(self._lanes) - self.lanes_at_once)]:
            # Least recently used first: a worker keeps connections to the providers it
            # sends to now, not to every provider it ever sent to.
            self._retire(pk)
        wanted = min(self.widths.of(provider.pk), messages)
        if len(threads) < wanted:
            self._add_threads(provider, threads, wanted)
        if not threads:
            self._no_slot_until[provider.pk] = time.monotonic() + NO_SLOT_PAUSE_SECONDS
        return threads[:wanted]

    def _add_threads(
        self, provider: Provider, threads: list[_SenderThread], wanted: int
    ) -> list[_SenderThread]:
        """Grow the lane `threads` towards `wanted` threads, as far as the provider's slots
        allow; return the new ones."""
        held = courtesy.lease_slots(provider=provider, holder=self.holder, wanted=wanted)
        for extra in threads[held:]:  # a lease that ran out and went to another worker
            extra.stop()
        del threads[held:]
        new = []
        while len(threads) < held:
            thread = _SenderThread(f"provider-{provider.pk}-{len(threads)}")
            thread.start()
            threads.append(thread)
            new.append(thread)
        return new

    def _retire(self, provider_pk: int) -> None:
        """Close an idle lane: its threads stop and close their connections, then its slots
        go back (not before: another worker could open connections on them meanwhile)."""
        threads = self._lanes.pop(provider_pk, [])
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join()
        self._idle_since.pop(provider_pk, None)
        courtesy.free_slots(holder=self.holder, provider_id=provider_pk)

    def tend(self) -> None:
        """Called from the worker's main thread every TEND_SECONDS or sooner: widens lanes
        that can use more threads, renews the slots it holds and closes the lanes that have
        had nothing to send for LANE_IDLE_SECONDS."""
        self._widen()
        now = time.monotonic()
        if now - self._slots_renewed > courtesy.slot_lease().total_seconds() / 4:
            self._slots_renewed = now
            courtesy.renew_slots(holder=self.holder)
        busy = self._busy()
        for pk in list(self._lanes):
            if pk in busy:
                self._idle_since.pop(pk, None)
            elif now - self._idle_since.setdefault(pk, now) > LANE_IDLE_SECONDS:
                self._retire(pk)

    def close(self) -> None:
        _close_channels(self._inline_channels)
        threads = [thread for lane in self._lanes.values() for thread in lane]
        for thread in threads:
            thread.stop()
        for thread in threads:
            thread.join()
        self._lanes.clear()
        self.database.close()
        if threads:
            try:
                courtesy.free_slots(holder=self.holder)
            except db.DatabaseError:  # the database is gone: the slots' lease runs out
                logger.warning("could not give back provider slots; their lease runs out")


class _Chunk:
    """A claimed chunk under way: its providers' feeds on their lanes, and what is left to
    record about it once they are done."""

    def __init__(self, messages: list[Message]) -> None:
        self.tally = _Tally()
        self.tally.stats.claimed = len(messages)
        self.lease = Lease(messages) if messages else None
        self.sendings: list[_Sending] = []
        self.untried: list[Message] = []
        self.started = time.monotonic()

    def done(self) -> bool:
        return all(sending.done() for sending in self.sendings)

    def parts(self) -> list[Future]:
        return [part for sending in self.sendings for part in sending.parts]

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
                self.tally.stats.deferred += queue.put_back(
                    feed.untaken(), retry_after=feed.limit_wait
                )
            else:
                self.untried += feed.untaken()
        queue.put_back(self.untried, retry_after=0)
        return self.tally.stats


def start_chunk(
    messages: list[Message], *, should_stop: Callable[[], bool], senders: Senders
) -> _Chunk:
    """Start delivering claimed messages: each provider's share on its lane of `senders`."""
    chunk = _Chunk(messages)
    if not messages:
        return chunk
    outbox.look_up_endpoints(messages)
    look_up_signing_keys(messages)
    messages, suppressed = queue.without_suppressed(messages)
    chunk.tally.stats.failed += suppressed
    for message in messages:
        if message.test:  # a test key's: played out here, never sent (api.services.testmode)
            chunk.tally.count(testmode.play_out(message, allow_retry=True))
    messages = [message for message in messages if not message.test]
    provider_of = queue.providers_for(messages)
    by_provider: dict[Provider | None, list[Message]] = defaultdict(list)
    for message in messages:
        by_provider[provider_of[message.pk]].append(message)

    for provider, group in by_provider.items():
        if provider is None:
            for message in group:
                no_provider = DeliveryResult(
                    Outcome.FAILED, error_text="The account has no provider."
                )
                chunk.tally.count(queue.record_outcome(message, no_provider))
            continue
        if should_stop():
            chunk.untried += group
            continue
        sending = None
        if senders.has_room_for(provider):
            feed = _Feed(
                provider_chain(provider=provider),
                group,
                lambda: should_stop() or senders.broken(),
                senders.database,
            )
            sending = senders.start(feed, chunk.tally)
        if sending is not None:
            chunk.sendings.append(sending)
        else:
            # No free lane, or no slot: due again for a later claim.
            queue.put_back(group, retry_after=0)
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
    chunk = start_chunk(messages, should_stop=should_stop, senders=senders)
    while not chunk.done():
        wait([part for part in chunk.parts() if not part.done()], TEND_SECONDS)
        chunk.keep_alive()
        senders.tend()
    return chunk.finish()


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
    chunk is claimed while they send, leaving out the providers whose lane has enough.
    So a slow provider holds up its own messages only; everyone else's keep flowing past
    it. The worker's connections stay open from chunk to chunk and are closed on return.
    `on_chunk(stats, seconds)` is called after each chunk (the health line).
    """
    batch_size = batch_size or settings.MAILPASS_QUEUE_BATCH_SIZE
    total = QueueStats()
    claimed_so_far = 0
    under_way: list[_Chunk] = []

    next_release = 0.0
    with Senders() as senders:
        while True:
            if time.monotonic() >= next_release:
                queue.release_scheduled()
                next_release = time.monotonic() + RELEASE_EVERY_SECONDS
            claimed: list[Message] = []
            wanted = not should_stop() and not senders.broken()
            wanted = wanted and (limit is None or claimed_so_far < limit)
            if wanted and senders.has_free_lane():
                size = batch_size if limit is None else min(batch_size, limit - claimed_so_far)
                claimed = queue.claim_due(
                    batch_size=size, skip_providers=senders.skipped_providers()
                )
            if claimed:
                claimed_so_far += len(claimed)
                under_way.append(start_chunk(claimed, should_stop=should_stop, senders=senders))
            elif not under_way:
                break
            else:
                senders.wait_for_any(TEND_SECONDS)
            for chunk in under_way:
                chunk.keep_alive()
            senders.tend()
            for chunk in [chunk for chunk in under_way if chunk.done()]:
                under_way.remove(chunk)
                stats = chunk.finish()
                total.add(stats)
                if on_chunk is not None:
                    on_chunk(stats, time.monotonic() - chunk.started)
    return total
