"""Log lines that say which request, account and message they are about.

Code names what it is working on with `log_context(...)`; every line logged inside it
carries those ids: as fields in MAILPASS_LOG_FORMAT=json, one object per line, and not at
all in the default text format (a reader there has the message text). Only these ids and
the line's own text are written: never a request's headers or body, so no API key or
secret reaches the log through them.
"""

import contextlib
import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

FIELDS = ("request_id", "account_id", "message_id")

_context: ContextVar[dict[str, str]] = ContextVar("mailpass_log_context", default={})  # noqa: B039  # never mutated: each change sets a new dict


@contextlib.contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Lines logged inside carry these ids (request_id, account_id, message_id)."""
    token = _context.set({**_context.get(), **{k: str(v) for k, v in ids.items()}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**ids: object) -> None:
    """Add ids to the current context until it ends (the request's, in a view)."""
    _context.set({**_context.get(), **{k: str(v) for k, v in ids.items()}})


class ContextFilter(logging.Filter):
    """Copies the context's ids onto each record (an `extra=` of the same name wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ms), level, logger, message, the context's ids,
    and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if (value := getattr(record, name, None)) is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class WithoutTraceback(logging.Filter):
    """One line instead of a traceback: for errors that are the client's, e.g. a request
    naming a Host outside ALLOWED_HOSTS (scanners and probes send many)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


# What a client may send as its own X-Request-ID (a proxy's $request_id, a UUID); anything
# else is replaced, so the id is safe in a log line and a header.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Give each request an id, the client's X-Request-ID when it is a plain token, for its
    log lines and its answer's X-Request-ID header."""

    def middleware(request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        rid = given if _CLIENT_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        # A new context for every request: a thread that served an earlier one keeps none
        # of its ids.
        token = _context.set({"request_id": rid})
        try:
            response = get_response(request)
        finally:
            _context.reset(token)
        response["X-Request-ID"] = rid
        return response

    return middleware
