"""Message events: opens and clicks from tracking links, and what ESPs report by webhook."""

import datetime as dt
import hashlib
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from api import outbox, tracking
from api.models import Message, MessageEvent, MessageLink, Suppression
from api.services.suppressions import suppression_add
from providers.models import Provider


def _trackable(message_pk: int) -> Message | None:
    """The message a tracking URL names, if its links still work: accepted less than
    MAILPASS_TRACKING_LINK_DAYS ago, by an account the operator lets track."""
    message = (
        Message.objects.filter(pk=message_pk, account__tracking_enabled=True)
        .only(*_EMITTED_FIELDS, "created_at")
        .first()
    )
    if message is None or tracking.link_expired(message.created_at):
        return None
    return message


def _room_for_tracking_event(message: Message) -> bool:
    recorded = MessageEvent.objects.filter(
        message=message, event_type__in=[MessageEvent.Type.OPEN, MessageEvent.Type.CLICK]
    )
    return recorded[: tracking.MAX_TRACKING_EVENTS].count() < tracking.MAX_TRACKING_EVENTS


def event_record_open(*, message_pk: int, ip_address: str | None, user_agent: str) -> bool:
    """Record that the message's tracking pixel was loaded; False when the pixel does not
    work (unknown or expired message, tracking not allowed). The same client's opens within
    tracking.OPEN_REPEAT are one, and a message keeps at most MAX_TRACKING_EVENTS."""
    message = _trackable(message_pk)
    if message is None:
        return False
    user_agent = user_agent[:1000]
    repeat = MessageEvent.objects.filter(
        message=message,
        event_type=MessageEvent.Type.OPEN,
        created_at__gte=timezone.now() - tracking.OPEN_REPEAT,
        ip_address=ip_address,
        user_agent=user_agent,
    ).exists()
    if not repeat and _room_for_tracking_event(message):
        with transaction.atomic():
            event = MessageEvent.objects.create(
                account_id=message.account_id,
                message=message,
                event_type=MessageEvent.Type.OPEN,
                ip_address=ip_address,
                user_agent=user_agent,
            )
            outbox.emit_events([(event, message)])
    return True


def event_record_click(
    *, message_pk: int, link_index: int, ip_address: str | None, user_agent: str
) -> str | None:
    """Record a click on the message's `link_index`-th tracked link and return its target;
    None (nothing recorded) when the link does not work: unknown message or link, expired,
    tracking not allowed. A message keeps at most MAX_TRACKING_EVENTS opens and clicks."""
    message = _trackable(message_pk)
    if message is None:
        return None
    url = (
        MessageLink.objects.filter(message=message, position=link_index)
        .values_list("url", flat=True)
        .first()
    )
    if url is None:
        return None
    if _room_for_tracking_event(message):
        with transaction.atomic():
            event = MessageEvent.objects.create(
                account_id=message.account_id,
                message=message,
                event_type=MessageEvent.Type.CLICK,
                url=url[:2048],
                ip_address=ip_address,
                user_agent=user_agent[:1000],
            )
            outbox.emit_events([(event, message)])
    return url


# anymail's normalized event types → ours. Others (queued, sent, autoresponded…) say
# nothing the message's record does not already say, and are not kept.
_PROVIDER_EVENTS = {
    "delivered": MessageEvent.Type.DELIVERED,
    "bounced": MessageEvent.Type.BOUNCED,
    "deferred": MessageEvent.Type.DEFERRED,
    "rejected": MessageEvent.Type.REJECTED,
    "failed": MessageEvent.Type.FAILED,
    "complained": MessageEvent.Type.COMPLAINED,
    "unsubscribed": MessageEvent.Type.UNSUBSCRIBED,
    "opened": MessageEvent.Type.OPEN,
    "clicked": MessageEvent.Type.CLICK,
}
# What an event makes of the message's status, from the statuses it may follow.
_STATUS_AFTER = {
    MessageEvent.Type.DELIVERED: (Message.Status.DELIVERED, {Message.Status.SENT}),
    MessageEvent.Type.BOUNCED: (
        Message.Status.BOUNCED,
        {Message.Status.SENT, Message.Status.DELIVERED},
    ),
    MessageEvent.Type.COMPLAINED: (
        Message.Status.COMPLAINED,
        {Message.Status.SENT, Message.Status.DELIVERED, Message.Status.BOUNCED},
    ),
}
_SUPPRESS_AFTER = {
    MessageEvent.Type.BOUNCED: Suppression.Reason.BOUNCED,
    MessageEvent.Type.COMPLAINED: Suppression.Reason.COMPLAINED,
    MessageEvent.Type.UNSUBSCRIBED: Suppression.Reason.UNSUBSCRIBED,
}


def provider_event_record(*, provider: Provider, event: Any) -> MessageEvent | None:
    """Record an event an ESP reported for one of `provider`'s messages (an anymail
    AnymailTrackingEvent), move the message's status and suppress the address after a hard
    bounce, a complaint or an unsubscribe. A repeat of an event already recorded (ESPs
    resend webhooks) changes nothing; so does an event for a message we do not know.
    Returns the new MessageEvent, or None.
    """
    event_type = _PROVIDER_EVENTS.get(str(event.event_type))
    if event_type is None or not event.message_id:
        return None
    message = (
        Message.objects.filter(
            account_id=provider.account_id, provider_message_id=str(event.message_id)[:255]
        )
        .only(*_EMITTED_FIELDS)
        .first()
    )
    if message is None:
        return None
    description = event.description or event.mta_response or event.reject_reason or ""
    return event_record_reported(
        message=message,
        event_type=event_type,
        description=str(description),
        provider_event_id=_provider_event_id(provider, event),
        url=event.click_url or "",
        user_agent=event.user_agent or "",
        created_at=event.timestamp,
        recipient=event.recipient,
    )


# What an event's webhook payload reads of its message (api.outbox).
_EMITTED_FIELDS = (
    *("pk", "account_id", "status", "message_id", "to_email", "from_email", "subject"),
    *("tags", "metadata", "test", "scheduled_at"),
)


def event_record_reported(
    *,
    message: Message,
    event_type: MessageEvent.Type,
    description: str = "",
    provider_event_id: str = "",
    url: str = "",
    user_agent: str = "",
    created_at: dt.datetime | None = None,
    recipient: str | None = None,
) -> MessageEvent | None:
    """Record what happened to a sent message after a provider took it (as an ESP reports
    it, or as test mode plays it out): the event, the message's new status, the address
    suppressed after a hard bounce, a complaint or an unsubscribe, and the webhook event,
    all in one transaction. A report already recorded (same provider_event_id) changes
    nothing and returns None."""
    try:
        with transaction.atomic():
            recorded = MessageEvent.objects.create(
                account_id=message.account_id,
                message=message,
                event_type=event_type,
                provider_event_id=provider_event_id,
                url=url[:2048],
                user_agent=user_agent[:1000],
                description=description[:2000],
                created_at=created_at or timezone.now(),
            )
            if event_type in _STATUS_AFTER:
                status, after = _STATUS_AFTER[event_type]
                if Message.objects.filter(pk=message.pk, status__in=after).update(
                    status=status, updated_at=timezone.now()
                ):
                    message.status = status
            if event_type in _SUPPRESS_AFTER:
                suppression_add(
                    account=message.account,
                    email=recipient or message.to_email,
                    reason=_SUPPRESS_AFTER[event_type],
                    description=description[:500],
                    message=message,
                    test=message.test,
                )
            outbox.emit_events([(recorded, message)])
    except IntegrityError:  # this very report was recorded before
        return None
    return recorded


def _provider_event_id(provider: Provider, event: Any) -> str:
    """The id an event is recorded once by, in the whole account: a Mailgun signature
    (anymail's event_id is its token) attached to another message's event is a replay."""
    if event.event_id:
        event_id = str(event.event_id)
        if provider.kind == Provider.Kind.AMAZON_SES:
            # One SNS notification (one id) reports every recipient of a bounce.
            event_id = f"{event_id}|{event.recipient}"
        if len(event_id) <= 255:
            return event_id
        return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
    # No id from the ESP: the same report resent has the same content.
    seen = f"{event.event_type}|{event.message_id}|{event.recipient}|{event.timestamp}"
    return "sha256:" + hashlib.sha256(seen.encode()).hexdigest()
