"""The cache the limits are counted in, shared by every process when it is Redis.

MAILPASS_CACHE_URL names a Redis server that all web processes and hosts share: the API
throttles, the log-in and sign-up limits and the test-email limit then hold for the whole
instance instead of per process. Without it each process counts in its own memory.

Redis is not allowed to take the API down with it: while it cannot be reached, the cache
answers like an empty one (limits let requests through), logs that once a minute, and
/api/v1/health reports "cache": "unavailable".
"""

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

# After a failure, Redis is left alone this long: a dead server costs one timeout a
# second per process, not one per cache call.
RETRY_AFTER_SECONDS = 1.0
WARN_EVERY_SECONDS = 60.0
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _fails_open(fallback: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: "FailOpenRedisCache", *args: Any, **kwargs: Any) -> Any:
            if not self.reachable_now():
                return fallback(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except UNREACHABLE as err:
                self.went_away(err)
                return fallback(*args, **kwargs)

        return call

    return decorate


def _default(key: str, default: Any = None, *args: Any, **kwargs: Any) -> Any:
    return kwargs.get("default", default)


def _as_if_first(key: str, delta: int = 1, *args: Any, **kwargs: Any) -> int:
    return delta


class _Outage:
    """Whether this process last found Redis unreachable. One per process: Django makes a
    cache object per thread, and 32 threads must not each wait and warn."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.warned_at = -WARN_EVERY_SECONDS
        self.lock = threading.Lock()


_outage = _Outage()


class FailOpenRedisCache(RedisCache):
    """Django's Redis cache, answering like an empty cache while Redis is unreachable."""

    def reachable_now(self) -> bool:
        return time.monotonic() >= _outage.down_until

    def went_away(self, err: Exception) -> None:
        now = time.monotonic()
        with _outage.lock:
            _outage.down_until = now + RETRY_AFTER_SECONDS
            warn = now - _outage.warned_at >= WARN_EVERY_SECONDS
            if warn:
                _outage.warned_at = now
        if warn:
            logger.warning(
                "cache unavailable (%s): limits are not enforced until Redis answers again",
                err,
            )

    def ping(self) -> bool:
        """Asks Redis even during an outage's pause: health must see it come back."""
        try:
            answered = bool(self.client().ping())
        except UNREACHABLE as err:
            self.went_away(err)
            return False
        _outage.down_until = 0.0
        return answered

    def client(self) -> redis.Redis:
        # RedisCache._cache: Django's client wrapper, which owns the connection pool.
        return self._cache.get_client(write=True)  # type: ignore[attr-defined]  # private, untyped

    get = _fails_open(_default)(RedisCache.get)
    set = _fails_open(lambda *a, **k: None)(RedisCache.set)
    add = _fails_open(lambda *a, **k: True)(RedisCache.add)
    touch = _fails_open(lambda *a, **k: False)(RedisCache.touch)
    delete = _fails_open(lambda *a, **k: False)(RedisCache.delete)
    incr = _fails_open(_as_if_first)(RedisCache.incr)
    has_key = _fails_open(lambda *a, **k: False)(RedisCache.has_key)
    get_many = _fails_open(lambda *a, **k: {})(RedisCache.get_many)
    set_many = _fails_open(lambda *a, **k: [])(RedisCache.set_many)
    delete_many = _fails_open(lambda *a, **k: None)(RedisCache.delete_many)
    clear = _fails_open(lambda *a, **k: False)(RedisCache.clear)


def cache_state() -> str:
    """For /api/v1/health: "ok" or "unavailable" for Redis, "local" for the in-process
    cache (nothing shared, nothing to be down)."""
    shared = _shared()
    if shared is None:
        return "local"
    return "ok" if shared.ping() else "unavailable"


def _shared() -> FailOpenRedisCache | None:
    backend = caches["default"]
    return backend if isinstance(backend, FailOpenRedisCache) else None


# --- sliding windows --------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One request counted against a limit of `limit` per `seconds`."""

    allowed: bool
    count: int  # requests in the window, this one included when allowed
    # Seconds until the entry that blocks the next request leaves: the oldest counted one
    # while there is room, so a client learns when its remaining count goes up again.
    wait: float


# Atomic in Redis: drop what left the window, count, add this request if there is room,
# and find the entry that must leave before another fits. Scores are times in seconds.
_WINDOW_SCRIPT = """
local now, span, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  count = count + 1
  allowed = 1
end
redis.call('PEXPIRE', KEYS[1], math.ceil(span * 1000))
local first = math.max(count - limit, 0)
local blocking = redis.call('ZRANGE', KEYS[1], first, first, 'WITHSCORES')
return {allowed, count, blocking[2] or tostring(now)}
"""

_local_lock = threading.Lock()


def count_in_window(key: str, *, limit: int, seconds: int, now: float | None = None) -> Window:
    """Count a request against `limit` per `seconds` (a sliding window) under `key`.

    In Redis the whole step is one script, so processes on several hosts counting at once
    never lose a request; in the local cache a lock does the same for this process's
    threads. Redis unreachable: allowed (the cache fails open)."""
    now = time.time() if now is None else now
    shared = _shared()
    if shared is not None and shared.reachable_now():
        try:
            allowed, count, blocking = shared.client().eval(
                _WINDOW_SCRIPT,
                1,
                shared.make_and_validate_key(key),
                repr(now),
                seconds,
                limit,
                f"{now!r}:{uuid.uuid4().hex}",
            )
        except UNREACHABLE as err:
            shared.went_away(err)
            return Window(allowed=True, count=1, wait=0.0)
        wait = max(seconds - (now - float(blocking)), 0.0)
        return Window(allowed=bool(allowed), count=int(count), wait=wait)
    if shared is not None:  # down: fail open
        return Window(allowed=True, count=1, wait=0.0)
    with _local_lock:
        history = [t for t in cache.get(key, []) if t > now - seconds]
        allowed = len(history) < limit
        if allowed:
            history.insert(0, now)
        cache.set(key, history, seconds)
    blocking = history[min(len(history), limit) - 1] if history else now
    return Window(allowed=allowed, count=len(history), wait=max(seconds - (now - blocking), 0.0))
