"""Idempotency-Key: a repeated request gets the first answer instead of a second send.

The first request with a key inserts a record (the unique constraint makes exactly one
request the owner, however many arrive at once), does its work, and stores its answer.
Repeats with the same body wait for that answer and get it back; a repeat with another
body is a conflict. A first request that fails before anything was recorded gives the key
up, so the client can simply try again.
"""

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Account
from api.authentication import api_key_of
from api.errors import ApiError, RecipientSuppressedError, SendFailedError, error_body
from api.models import IdempotencyRecord

KEY_LIFETIME = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 256
# How long a repeat waits for the first request's answer before giving up with a 409.
WAIT_FOR_FIRST_SECONDS = 30.0
_POLL_SECONDS = 0.05


class IdempotencyConflictError(ApiError):
    code = "IDEMPOTENCY_CONFLICT"
    status_code = 409
    default_detail = "This Idempotency-Key was already used with a different request."


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: Any  # the JSON answer as stored


def fingerprint(endpoint: str, body: Any) -> str:
    canonical = json.dumps([endpoint, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_begin(
    *, account: Account, key: str, request_fingerprint: str, test: bool = False
) -> IdempotencyRecord | Replay:
    """Become the owner of `key`, or get the answer its owner gave.

    Test keys have keys of their own (`test`): the same key in live and test mode names
    two requests. Returns the new record when this request must do the work (then call
    idempotency_finish or idempotency_abandon), or a Replay of the stored answer. Waits
    while the owner is still working. Raises IdempotencyConflictError when the key was used
    for a different request, or the owner does not finish within WAIT_FOR_FIRST_SECONDS.
    """
    now = timezone.now()
    records = IdempotencyRecord.objects.filter(account=account, test=test, key=key)
    records.filter(created_at__lt=now - KEY_LIFETIME).delete()
    deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
    while True:
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    account=account, test=test, key=key, fingerprint=request_fingerprint
                )
        except IntegrityError:
            pass  # someone owns the key: read what they did
        record = records.first()
        if record is not None:
            if record.fingerprint != request_fingerprint:
                raise IdempotencyConflictError()
            if record.status_code is not None:
                return Replay(record.status_code, record.response)
        if time.monotonic() > deadline:
            raise IdempotencyConflictError(
                "A request with this Idempotency-Key is still in progress; retry later."
            )
        time.sleep(_POLL_SECONDS)


def idempotency_finish(*, record: IdempotencyRecord, status_code: int, body: Any) -> None:
    """Store the answer the owner gave, for every repeat within KEY_LIFETIME."""
    IdempotencyRecord.objects.filter(pk=record.pk).update(status_code=status_code, response=body)


def idempotency_abandon(*, record: IdempotencyRecord) -> None:
    """Give the key up: the owner failed before anything was recorded."""
    IdempotencyRecord.objects.filter(pk=record.pk).delete()


def respond_once(request: Request, endpoint: str, handle: Callable[[], Response]) -> Response:
    """Answer `request` with `handle()` once per Idempotency-Key; a repeat gets the first
    answer back, marked Idempotent-Replayed. Without the header, just `handle()`.

    Raises ValidationError for an unusable key and IdempotencyConflictError (see
    idempotency_begin); whatever `handle` raises passes through.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return handle()
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(
            {"Idempotency-Key": [f"Must be 1 to {MAX_KEY_LENGTH} printable characters."]}
        )
    api_key = api_key_of(request)
    outcome = idempotency_begin(
        account=api_key.account,
        test=api_key.test,
        key=key,
        request_fingerprint=fingerprint(endpoint, request.data),
    )
    if isinstance(outcome, Replay):
        return Response(
            outcome.body, status=outcome.status_code, headers={"Idempotent-Replayed": "true"}
        )
    try:
        response = handle()
    except (SendFailedError, RecipientSuppressedError) as err:
        # The message was recorded (failed, suppressed): a repeat must answer the same.
        idempotency_finish(record=outcome, status_code=err.status_code, body=error_body(err))
        raise
    except BaseException:
        idempotency_abandon(record=outcome)
        raise
    idempotency_finish(record=outcome, status_code=response.status_code, body=response.data)
    return response
