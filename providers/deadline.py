"""Wall-clock deadlines for provider I/O: how long an attempt may take, start to final reply.

A socket timeout bounds one operation, not a conversation: a server that sends one byte
(or one "220-" line) just before each timeout runs out holds a connection forever. So every
provider attempt runs inside `within(seconds)`, and the code that talks to providers
(providers.backends) sets each socket operation's timeout to what `remaining()` leaves, so
the last operation ends when the deadline does, whatever the server drips.

The deadline lives in a ContextVar: it belongs to the current thread (or asyncio task).
Threads do not inherit it, so each sender thread sets its own. Scopes nest, and the inner
one never outlives the outer one: `within()` keeps the earlier expiry, so a request's
overall budget caps each attempt made for it.
"""

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

from django.conf import settings

from providers.models import Provider


class DeadlineExceeded(TimeoutError):
    """The deadline of the current scope has passed.

    A TimeoutError, so providers.delivery.classify_error retries it like any timeout.
    """


# Monotonic time at which the innermost scope's time runs out; None outside any scope.
_expiry: ContextVar[float | None] = ContextVar("provider_deadline", default=None)


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Run the block with a deadline `seconds` from now, or the enclosing one if earlier.

    Only code that asks (remaining(), and the provider I/O built on it) keeps to the
    deadline; the block itself is not interrupted. Leaving the block restores the
    enclosing deadline, if any.
    """
    expiry = time.monotonic() + seconds
    enclosing = _expiry.get()
    if enclosing is not None:
        expiry = min(expiry, enclosing)
    token = _expiry.set(expiry)
    try:
        yield
    finally:
        _expiry.reset(token)


def remaining() -> float | None:
    """Seconds left until the current deadline; None when no deadline is set.

    Raises DeadlineExceeded when it has passed (never returns 0 or less, which a socket
    timeout would read as "non-blocking").
    """
    expiry = _expiry.get()
    if expiry is None:
        return None
    left = expiry - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("the provider's time ran out")
    return left


def timeout_for(provider: Provider) -> float:
    """The time one attempt on `provider` may take, connect to final reply, in seconds.

    The provider's own timeout (EMAIL_TIMEOUT for the instance's relay), never more than
    MAILPASS_REQUEST_TIMEOUT_SECONDS: a web request (/send, "Test connection") must be able
    to answer within its budget even when it waits on a provider.
    """
    seconds = (
        settings.EMAIL_TIMEOUT if provider.kind == Provider.Kind.MAILPASS else provider.timeout
    )
    return float(min(seconds, settings.MAILPASS_REQUEST_TIMEOUT_SECONDS))
