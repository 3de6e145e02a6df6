"""What happened to a message, on its way to the account's webhook endpoints.

Every place that changes what a message is (sent, failed, suppressed, scheduled,
cancelled) or records what happened to it (delivered, bounced, opened…) calls emit() in
the same transaction as its own write. emit() stores the event once (its body is what is
signed and sent, byte for byte, on every attempt) and one pending WebhookDelivery per
endpoint that wants it; api.webhook_sender posts them later. Nothing here talks to the
network, so a slow endpoint never slows sending.

An account without endpoints costs one query per emit() call, and none at all in the
drain, which looks endpoints up once per claimed chunk (look_up_endpoints).
"""

import datetime as dt
import json
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from api.models import Message, MessageEvent, WebhookDelivery, WebhookEndpoint, WebhookEvent

# The event names an endpoint can ask for; the payload's type is "email.<name>".
EVENT_NAMES = (
    "sent",
    "delivered",
    "bounced",
    "failed",
    "complained",
    "unsubscribed",
    "opened",
    "clicked",
    "suppressed",
    "scheduled",
    "cancelled",
)
TEST_EVENT_TYPE = "webhook.test"

# The message events that are news to an endpoint, and their names there. Deferrals and
# failovers are the queue's business: the message is still on its way.
_NAME_OF_EVENT = {
    MessageEvent.Type.DELIVERED: "delivered",
    MessageEvent.Type.BOUNCED: "bounced",
    MessageEvent.Type.COMPLAINED: "complained",
    MessageEvent.Type.UNSUBSCRIBED: "unsubscribed",
    MessageEvent.Type.OPEN: "opened",
    MessageEvent.Type.CLICK: "clicked",
    MessageEvent.Type.FAILED: "failed",
    MessageEvent.Type.REJECTED: "failed",
    MessageEvent.Type.SCHEDULED: "scheduled",
    MessageEvent.Type.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class Happening:
    """One thing that happened to a message, as endpoints hear of it."""

    message: Message
    name: str  # one of EVENT_NAMES
    details: dict[str, Any] = field(default_factory=dict)
    at: dt.datetime | None = None  # default: now


def new_event_id() -> str:
    """A Standard Webhooks message id: msg_ and 27 random URL-safe characters."""
    return "msg_" + secrets.token_urlsafe(20)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def body_of(event_type: str, *, test: bool, data: dict[str, Any], at: dt.datetime) -> str:
    """The JSON body an event is posted with: compact, and the same bytes on every try."""
    payload = {"type": event_type, "created_at": _utc(at), "test": test, "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _message_data(happening: Happening) -> dict[str, Any]:
    message = happening.message
    return {
        "message_id": message.message_id,
        "to": message.to_email,
        "from": message.from_email,
        "subject": message.subject,
        "tags": message.tags,
        "metadata": message.metadata,
        "status": message.status,
        "details": happening.details,
    }


def look_up_endpoints(messages: Sequence[Message]) -> None:
    """Note on each message its account's enabled endpoints now, in one query: emit() then
    needs none for them. The drain does this once per claimed chunk, /send once."""
    if not messages:
        return
    endpoints = _endpoints_of({message.account_id for message in messages})
    for message in messages:
        message.webhook_endpoints = endpoints.get(message.account_id, [])


def emit(happenings: Iterable[Happening]) -> int:
    """Queue a delivery of each happening to every enabled endpoint of its message's
    account that wants it; return how many deliveries. Call inside the transaction that
    records the happening, so that one is never kept without the other."""
    happenings = list(happenings)
    look_up_endpoints([h.message for h in happenings if h.message.webhook_endpoints is None])
    wanted = [h for h in happenings if h.message.webhook_endpoints]
    if not wanted:
        return 0
    now = timezone.now()
    events: list[WebhookEvent] = []
    targets: list[list[WebhookEndpoint]] = []
    for happening in wanted:
        listeners = [
            endpoint
            for endpoint in happening.message.webhook_endpoints or []
            if happening.name in endpoint.events
        ]
        if not listeners:
            continue
        at = happening.at or now
        event_type = f"email.{happening.name}"
        test = happening.message.test
        events.append(
            WebhookEvent(
                account_id=happening.message.account_id,
                event_id=new_event_id(),
                type=event_type,
                test=test,
                body=body_of(event_type, test=test, data=_message_data(happening), at=at),
                created_at=at,
            )
        )
        targets.append(listeners)
    return _queue_deliveries(events, targets, now)


def emit_test_event(endpoint: WebhookEndpoint, *, test: bool) -> WebhookDelivery:
    """Queue a signed `webhook.test` event for `endpoint` alone; return its delivery."""
    now = timezone.now()
    data = {"webhook_id": endpoint.pk, "message": "This is a test event from MailPass."}
    event = WebhookEvent(
        account_id=endpoint.account_id,
        event_id=new_event_id(),
        type=TEST_EVENT_TYPE,
        test=test,
        body=body_of(TEST_EVENT_TYPE, test=test, data=data, at=now),
        created_at=now,
    )
    _queue_deliveries([event], [[endpoint]], now)
    return WebhookDelivery.objects.select_related("event").get(event=event, endpoint=endpoint)


def _queue_deliveries(
    events: list[WebhookEvent], targets: list[list[WebhookEndpoint]], now: dt.datetime
) -> int:
    WebhookEvent.objects.bulk_create(events)
    deliveries = [
        WebhookDelivery(event=event, endpoint=endpoint, test=event.test, next_attempt_at=now)
        for event, listeners in zip(events, targets, strict=True)
        for endpoint in listeners
    ]
    WebhookDelivery.objects.bulk_create(deliveries)
    return len(deliveries)


def _endpoints_of(accounts: set[int]) -> dict[int, list[WebhookEndpoint]]:
    by_account: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in WebhookEndpoint.objects.filter(account_id__in=accounts, enabled=True).only(
        "pk", "account_id", "events"
    ):
        by_account[endpoint.account_id].append(endpoint)
    return by_account


def suppressed(message: Message, addresses: Iterable[str]) -> Happening:
    """A message kept back because `addresses` are on the suppression list."""
    return Happening(message, "suppressed", {"addresses": list(addresses)})


def happening_of(event: MessageEvent, message: Message) -> Happening | None:
    """What a recorded message event tells endpoints, or None if nothing."""
    name = _NAME_OF_EVENT.get(MessageEvent.Type(event.event_type))
    if name is None:
        return None
    details: dict[str, Any]
    if name == "opened":
        details = {"user_agent": event.user_agent, "ip_address": event.ip_address}
    elif name == "clicked":
        details = {"url": event.url, "user_agent": event.user_agent, "ip_address": event.ip_address}
    elif name == "failed":
        details = {"reason": "rejected", "error": event.description}
    elif name == "scheduled":
        scheduled_at = message.scheduled_at
        details = {"scheduled_at": _utc(scheduled_at) if scheduled_at else None}
    elif name == "cancelled":
        details = {}
    else:
        details = {"description": event.description}
    return Happening(message, name, details, at=event.created_at)


def emit_events(pairs: Iterable[tuple[MessageEvent, Message]]) -> int:
    """emit() for recorded message events, each with its message."""
    happenings = [happening_of(event, message) for event, message in pairs]
    return emit([h for h in happenings if h is not None])


PURGE_CHUNK = 1000


def purge_events(cutoff: dt.datetime) -> int:
    """Delete events made before `cutoff`, with their deliveries and attempts, unless a
    delivery of theirs is still pending (a manual retry of an old one). In chunks."""
    old = WebhookEvent.objects.filter(created_at__lt=cutoff).exclude(
        pk__in=WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).values(
            "event_id"
        )
    )
    deleted = 0
    while ids := list(old.values_list("pk", flat=True)[:PURGE_CHUNK]):
        _, counts = WebhookEvent.objects.filter(pk__in=ids).delete()
        deleted += counts.get(WebhookEvent._meta.label, 0)
    return deleted
