"""Scheduled sending: when a time is acceptable, cancelling and moving a scheduled message.

A scheduled message waits as `scheduled` until api.queue.release_scheduled puts it in the
queue at its time; suppressions and the provider's limits are checked then, as for any
queued message. Cancel and reschedule change it only while it is still `scheduled`: the
status condition is in the UPDATE, so a worker releasing it at that moment and a cancel
cannot both win.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from api import outbox
from api.errors import MessageNotScheduledError
from api.models import Message, MessageEvent

HORIZON = dt.timedelta(days=30)


def check_scheduled_at(value: dt.datetime, *, now: dt.datetime | None = None) -> None:
    """Raise ValidationError (scheduled_at) unless `value` is from now to HORIZON ahead."""
    now = now or timezone.now()
    if value < now:
        raise ValidationError({"scheduled_at": ["Must not be in the past."]})
    if value > now + HORIZON:
        raise ValidationError({"scheduled_at": [f"At most {HORIZON.days} days ahead."]})


def scheduled_event(message: Message, *, moved: bool = False) -> MessageEvent:
    """The `scheduled` event of a message accepted for (or moved to) its scheduled_at."""
    assert message.scheduled_at is not None
    when = message.scheduled_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return MessageEvent(
        account_id=message.account_id,
        message=message,
        event_type=MessageEvent.Type.SCHEDULED,
        description=f"{'Moved to' if moved else 'Scheduled for'} {when}.",
    )


def message_cancel(*, message: Message) -> Message:
    """Cancel a scheduled message: it will never be sent. Cancelling a cancelled message
    changes nothing; any other status raises MessageNotScheduledError."""
    with transaction.atomic():
        cancelled = Message.objects.filter(pk=message.pk, status=Message.Status.SCHEDULED).update(
            status=Message.Status.CANCELLED, updated_at=timezone.now()
        )
        if cancelled:
            event = MessageEvent.objects.create(
                account_id=message.account_id,
                message=message,
                event_type=MessageEvent.Type.CANCELLED,
            )
            message.status = Message.Status.CANCELLED
            outbox.emit_events([(event, message)])
    message.refresh_from_db(fields=["status", "updated_at"])
    if message.status != Message.Status.CANCELLED:
        raise MessageNotScheduledError(message_id=message.message_id, status=message.status)
    return message


def message_reschedule(*, message: Message, scheduled_at: dt.datetime) -> Message:
    """Move a scheduled message to `scheduled_at` (checked like a new one's). The same
    time again changes nothing; a message not scheduled raises MessageNotScheduledError."""
    check_scheduled_at(scheduled_at)
    with transaction.atomic():
        moved = (
            Message.objects.filter(pk=message.pk, status=Message.Status.SCHEDULED)
            .exclude(scheduled_at=scheduled_at)
            .update(scheduled_at=scheduled_at, turn_at=scheduled_at, updated_at=timezone.now())
        )
        message.refresh_from_db(fields=["status", "scheduled_at", "updated_at"])
        if moved:
            event = scheduled_event(message, moved=True)
            event.save()
            outbox.emit_events([(event, message)])
    if message.status != Message.Status.SCHEDULED:
        raise MessageNotScheduledError(message_id=message.message_id, status=message.status)
    return message
