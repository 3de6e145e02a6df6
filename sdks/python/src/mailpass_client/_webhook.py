"""verify_webhook: the check a receiver of MailPass's webhooks runs on every request.

MailPass signs each event the Standard Webhooks way: `webhook-id` (the event's id, the same
on every retry of it), `webhook-timestamp` (Unix seconds of this attempt) and
`webhook-signature`, one or more space-separated `v1,<sig>` entries (two while a rotated
secret's predecessor still signs), where `<sig>` is the base64 of HMAC-SHA256 over
"<id>.<timestamp>.<body>", keyed with the base64-decoded part of the secret after "whsec_".
Only the standard library's hmac and hashlib are used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, Union, cast

from .errors import ConfigurationError, WebhookVerificationError
from .types import WebhookEvent

DEFAULT_TOLERANCE = 300  # seconds a timestamp may be off from now, either way
SECRET_PREFIX = "whsec_"

_ID = "webhook-id"
_TIMESTAMP = "webhook-timestamp"
_SIGNATURE = "webhook-signature"
_NAMES = (_ID, _TIMESTAMP, _SIGNATURE)
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


class _HeaderItems(Protocol):
    """A dict, a Mapping, or a header object that is none (http.server's, Werkzeug's)."""

    def items(self) -> Iterable[tuple[Any, Any]]: ...


# A header name or value as frameworks hand them over: str, or bytes (ASGI's raw headers).
_Text = Union[str, bytes]
Headers = Union[_HeaderItems, Mapping[Any, Any], Iterable[tuple[_Text, Any]]]


def verify_webhook(
    payload: bytes | bytearray | memoryview | str,
    headers: Headers,
    secret: str,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> WebhookEvent:
    """Check that a request comes from MailPass, unchanged and recent, and return its
    event (the JSON body as a dict: `{"type": "email.bounced", "created_at": ..., "test":
    False, "data": {...}}`).

    `payload`: the body exactly as received, as bytes (a str is taken as its UTF-8
    encoding); never a re-encoded `json.dumps(json.loads(...))`, which would not match.
    `headers`: the request's headers, names in any case: a dict, `http.server`'s
    `self.headers`, Django's `request.headers` or `request.META` (HTTP_WEBHOOK_ID...),
    Flask/Starlette headers, or a list of (name, value) pairs (str or bytes).
    `secret`: the endpoint's "whsec_..." secret, from webhooks.create or rotate_secret.
    `tolerance`: seconds the `webhook-timestamp` may be older or newer than now (a replay
    of an old request is refused). `now`: Unix seconds to judge it by, for tests.

    Raises WebhookVerificationError when the request is not a genuine, recent MailPass
    webhook (answer it with a 400), and ConfigurationError (a ValueError) when `secret`
    is not a whsec_ secret or `tolerance` is negative: a mistake of the receiver itself.
    MailPass delivers at least once: skip a `webhook-id` you have already handled.
    """
    if tolerance < 0:
        raise ConfigurationError("The webhook tolerance must be 0 seconds or more.")
    key = _key(secret)
    if isinstance(payload, str):
        body = payload.encode("utf-8")
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        body = bytes(payload)
    else:
        raise TypeError(
            f"payload must be the raw request body (bytes or str), not {type(payload).__name__}"
        )

    found = _webhook_headers(headers)
    event_id = _single(found, _ID)
    timestamp = _single(found, _TIMESTAMP)
    signatures = " ".join(found[_SIGNATURE]).split()
    if not signatures:
        raise WebhookVerificationError(f"The {_SIGNATURE} header is missing.")

    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise WebhookVerificationError(
            f"The {_TIMESTAMP} header is not a Unix time in seconds: {_printable(timestamp)!r}."
        )
    age = (time.time() if now is None else now) - int(timestamp)
    if age > tolerance:
        raise WebhookVerificationError(
            f"The webhook is too old: its timestamp is {age:.0f} s before now "
            f"(tolerance: {tolerance:g} s)."
        )
    if -age > tolerance:
        raise WebhookVerificationError(
            f"The webhook timestamp is {-age:.0f} s in the future (tolerance: {tolerance:g} s)."
        )

    signed = f"{event_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    matched = False
    for entry in signatures:
        version, _, signature = entry.partition(",")
        # Bytes on both sides: compare_digest refuses a str that is not ASCII.
        if version == "v1" and hmac.compare_digest(expected, signature.encode("utf-8")):
            matched = True
    if not matched:
        raise WebhookVerificationError(
            "No webhook signature matches the body with this secret: the body was changed, "
            "or the secret is not this endpoint's."
        )

    try:
        event = json.loads(body)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        raise WebhookVerificationError("The webhook body is signed but is not a JSON object.")
    return cast(WebhookEvent, event)


def _key(secret: str) -> bytes:
    """The HMAC key: the secret's base64 part, decoded."""
    encoded = secret.strip() if isinstance(secret, str) else ""
    if encoded.startswith(SECRET_PREFIX):
        encoded = encoded[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ConfigurationError(
            'The webhook secret is not a MailPass endpoint secret ("whsec_" and base64): use '
            "the one that webhooks.create() or webhooks.rotate_secret() returned."
        )
    return key


def _webhook_headers(headers: Headers) -> dict[str, list[str]]:
    """The values of the three webhook headers, by lower-case name, from any usual shape."""
    found: dict[str, list[str]] = {name: [] for name in _NAMES}
    # items(): every (name, value) pair, repeated names too, of a dict or a header object.
    pairs: Iterable[Any] = headers.items() if hasattr(headers, "items") else headers
    for pair in pairs:
        try:
            name, value = pair
        except (TypeError, ValueError):
            continue
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if not isinstance(name, str):
            continue
        name = name.strip().lower().replace("_", "-")
        if name.startswith("http-"):
            name = name[len("http-") :]  # WSGI environ / Django's META: HTTP_WEBHOOK_ID
        if name not in found:
            continue
        for one in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(one, bytes):
                one = one.decode("latin-1")
            if isinstance(one, (str, int)) and not isinstance(one, bool):
                found[name].append(str(one).strip())
    return found


def _single(found: dict[str, list[str]], name: str) -> str:
    """The one value of a header that must have one (the same value twice is one)."""
    values = sorted({value for value in found[name] if value})
    if not values:
        raise WebhookVerificationError(f"The {name} header is missing.")
    if len(values) > 1:
        raise WebhookVerificationError(f"The request has more than one {name} header.")
    return values[0]


def _printable(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text[:40])
