"""How long MailPass keeps what it stored, and the daily purge that enforces it.

Messages in a final status older than MAILPASS_RETENTION_DAYS go, with their events,
attachment rows and links; so do webhook events as old (unless a delivery still waits),
the stored files nothing carries any more, and the per-day counts older than
MAILPASS_USAGE_RETENTION_DAYS. Messages still scheduled, queued or being sent are never
deleted, however old.

The purge runs beside the queue: it deletes in small batches, each its own short
transaction, walking the primary key, and skips any row another transaction holds (SKIP
LOCKED on PostgreSQL) instead of waiting for it.
"""

import datetime as dt
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import AccountUsage
from api import attachments, outbox
from api.models import Message
from providers.models import ProviderUsage

# Messages per batch: small enough that a batch's transaction (the rows, their events and
# attachment rows) takes milliseconds, large enough that round trips do not dominate.
BATCH_SIZE = 500
# After each batch the purge rests this many times as long as the batch took, so a drain
# beside it keeps its pace: measured on 1,000,000 messages (bench/retention.py), a drain
# kept 0.79x its rate beside a purge that never rested (6,280 msg/s); the target is 0.8x.
# Resting: 2,742 msg/s, and the drain kept 1.02x.
REST_PER_BATCH_TIME = 1.0
LIVE = (Message.Status.SCHEDULED, Message.Status.QUEUED, Message.Status.SENDING)


@dataclass(frozen=True)
class Purged:
    messages: int
    files: int
    webhook_events: int = 0
    usage_rows: int = 0
    finished: bool = True  # False: stopped at max_seconds, the rest is left for the next run


def purge(
    *,
    retention_days: int,
    usage_days: int = 0,
    batch_size: int = BATCH_SIZE,
    max_seconds: float | None = None,
    now: dt.datetime | None = None,
) -> Purged:
    """Delete what is past its retention (0 days: keep for ever)."""
    now = now or timezone.now()
    stop_at = None if max_seconds is None else time.monotonic() + max_seconds
    messages = events = 0
    finished = True
    if retention_days:
        cutoff = now - dt.timedelta(days=retention_days)
        messages, finished = purge_messages(cutoff, batch_size=batch_size, stop_at=stop_at)
        events = outbox.purge_events(cutoff)
    usage = purge_usage(now - dt.timedelta(days=usage_days)) if usage_days else 0
    return Purged(
        messages=messages,
        files=attachments.purge_files(now),
        webhook_events=events,
        usage_rows=usage,
        finished=finished,
    )


def purge_messages(
    cutoff: dt.datetime, *, batch_size: int = BATCH_SIZE, stop_at: float | None = None
) -> tuple[int, bool]:
    """Delete final messages created before `cutoff`; (how many, whether all of them)."""
    old = Message.objects.filter(created_at__lt=cutoff).exclude(status__in=LIVE)
    deleted = 0
    after = 0
    while stop_at is None or time.monotonic() < stop_at:
        batch = old.filter(id__gt=after).order_by("id").values_list("id", flat=True)
        ids = list(batch[:batch_size])
        if not ids:
            return deleted, True
        after = ids[-1]
        started = time.monotonic()
        with transaction.atomic():
            # Locked and checked again: one may have been requeued since the list was read;
            # one a worker or a status update holds now is left for the next run.
            mine = list(
                old.filter(id__in=ids)
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("id", flat=True)
            )
            _, counts = Message.objects.filter(id__in=mine).delete()
        deleted += counts.get(Message._meta.label, 0)
        if len(ids) < batch_size:
            return deleted, True
        time.sleep((time.monotonic() - started) * REST_PER_BATCH_TIME)
    return deleted, False


def purge_usage(cutoff: dt.datetime) -> int:
    """Delete the per-day account counts and per-hour provider counts before `cutoff`."""
    accounts, _ = AccountUsage.objects.filter(day__lt=cutoff.date()).delete()
    providers, _ = ProviderUsage.objects.filter(window_start__lt=cutoff).delete()
    return accounts + providers
