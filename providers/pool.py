"""Warm provider connections for the web processes, so /send does not open one per request.

Opening a connection to an SMTP relay costs round trips before any message: the TCP
handshake and banner, EHLO, and more with STARTTLS and AUTH; closing it costs QUIT. A
relay 20 ms away makes that most of a /send. So each process keeps a few connections per
provider open between requests (KEPT_PER_PROVIDER at most): a request borrows one for its
message and gives it back. A connection unused for IDLE_SECONDS is closed, by the next
borrower or by the reaper thread, and so is one whose provider has changed since (a new
host or password is a new key). A kept connection the server closed meanwhile is noticed
by Channel.send, which reconnects once for the same message (delivery.Channel).

ESP kinds gain the same: anymail's requests session (or the shared boto3 client) keeps its
HTTPS connection alive from one request to the next.
"""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from providers import delivery
from providers.models import Provider

KEPT_PER_PROVIDER = 4
IDLE_SECONDS = 30.0

_Key = tuple[int, object, str, int]


def _key(provider: Provider) -> _Key:
    # The host and port too: a provider row may be edited without its updated_at changing
    # (a queryset update), and tests reuse ids inside rolled-back transactions.
    return (provider.pk, provider.updated_at, provider.host, provider.port)


class ChannelPool:
    """Idle channels by provider, shared by the threads of a process."""

    def __init__(self) -> None:
        self._idle: dict[_Key, list[tuple[float, delivery.Channel]]] = {}
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None

    def _take(self, provider: Provider) -> delivery.Channel:
        now = time.monotonic()
        with self._lock:
            kept = self._idle.get(_key(provider), [])
            while kept:
                returned_at, channel = kept.pop()
                if now - returned_at < IDLE_SECONDS:
                    channel.trouble = delivery.Trouble()  # this request's own count
                    return channel
                channel.close()
        return delivery.channel_to(provider)

    def _give_back(self, provider: Provider, channel: delivery.Channel) -> None:
        if not channel.is_open:
            return  # closed after a failure, or never used: nothing warm to keep
        with self._lock:
            kept = self._idle.setdefault(_key(provider), [])
            if len(kept) < KEPT_PER_PROVIDER:
                kept.append((time.monotonic(), channel))
                self._start_reaper()
                return
        channel.close()

    @contextlib.contextmanager
    def lend(self) -> Iterator[Callable[[Provider], delivery.Channel]]:
        """A channel_for (see delivery.send_with_failover) whose channels come from the pool
        and go back to it when the block ends: one per provider within the block."""
        borrowed: dict[int, tuple[Provider, delivery.Channel]] = {}

        def channel_for(provider: Provider) -> delivery.Channel:
            if provider.pk not in borrowed:
                borrowed[provider.pk] = (provider, self._take(provider))
            return borrowed[provider.pk][1]

        try:
            yield channel_for
        finally:
            for provider, channel in borrowed.values():
                self._give_back(provider, channel)

    def close_idle(self, *, older_than: float = IDLE_SECONDS) -> None:
        """Close the kept channels unused for `older_than` seconds (0: all of them)."""
        now = time.monotonic()
        stale = []
        with self._lock:
            for key, kept in list(self._idle.items()):
                fresh = [(at, channel) for at, channel in kept if now - at < older_than]
                stale += [channel for at, channel in kept if now - at >= older_than]
                if fresh:
                    self._idle[key] = fresh
                else:
                    del self._idle[key]
        for channel in stale:
            channel.close()

    def _start_reaper(self) -> None:
        # Called with the lock held.
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap, name="mailpass-pool", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        while True:
            time.sleep(IDLE_SECONDS / 2)
            self.close_idle()


# The process's pool: /send and "send a test email" borrow from it.
channels = ChannelPool()
