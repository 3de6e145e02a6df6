"""Test mode: what happens to a test key's message instead of a provider.

A message sent with a test key (mp_test_…) is accepted, checked and recorded like any
other, then handed to play_out() where a live one would go to a provider: by /send, or
by the queue when its turn comes. Its recipient address says what happens next, so an
integration can see every outcome, event and webhook without sending anything:

    delivered@test.mailpass.invalid   sent, then delivered
    bounced@…                         sent, then a hard bounce (the address is suppressed)
    complained@…                      sent, delivered, then a spam complaint (suppressed)
    deferred@…                        a temporary failure, retried, then sent and delivered
    opened@…                          sent, delivered, opened
    clicked@…                         sent, delivered, opened, clicked (its first link)
    anything else                     sent, and nothing more

A "+label" after the name is allowed (bounced+signup@…). Suppressions caused here are test
suppressions: they hold back test messages only.
"""

import re
import uuid

from django.utils import timezone

from api import queue
from api.models import Message, MessageEvent
from api.services.events import event_record_reported
from providers.delivery import DeliveryResult, Outcome

TEST_DOMAIN = "test.mailpass.invalid"

# What each address's recipient server "does" after the message is sent.
_AFTER_SENT = {
    "delivered": [MessageEvent.Type.DELIVERED],
    "bounced": [MessageEvent.Type.BOUNCED],
    "complained": [MessageEvent.Type.DELIVERED, MessageEvent.Type.COMPLAINED],
    "deferred": [MessageEvent.Type.DELIVERED],
    "opened": [MessageEvent.Type.DELIVERED, MessageEvent.Type.OPEN],
    "clicked": [MessageEvent.Type.DELIVERED, MessageEvent.Type.OPEN, MessageEvent.Type.CLICK],
}
_DESCRIPTIONS = {
    MessageEvent.Type.DELIVERED: "250 2.0.0 Test mode: accepted by the recipient's server",
    MessageEvent.Type.BOUNCED: "550 5.1.1 Test mode: the mailbox does not exist",
    MessageEvent.Type.COMPLAINED: "Test mode: the recipient marked the message as spam",
}
_DEFERRAL = "451 4.7.1 Test mode: try again later"
_TEST_USER_AGENT = "MailPass test mode"
_FIRST_LINK = re.compile(r"""<a\s[^>]*?href\s*=\s*["']?(https?://[^"'\s>]+)""", re.IGNORECASE)


def scenario_of(address: str) -> str | None:
    """The outcome a test address asks for ("delivered", "bounced"…), or None."""
    local, _, domain = address.rpartition("@")
    name = local.partition("+")[0].lower()
    return name if domain.lower() == TEST_DOMAIN and name in _AFTER_SENT else None


def play_out(message: Message, *, allow_retry: bool) -> Message.Status:
    """Do with a claimed test message (saved, status `sending`, with its claim token) what
    a provider and the recipient's server would have done, by its `to` address, recording
    every status, event, suppression and webhook event as the real thing does. Returns its
    status right after "sending": what /send answers, before the later events.

    deferred@: with allow_retry (the queue) the first attempt is a temporary failure and
    the message goes back to the queue like any deferral; /send, which never retries,
    records the deferral and goes straight on.
    """
    scenario = scenario_of(message.to_email)
    if scenario == "deferred" and message.attempts == 0:
        deferral = DeliveryResult(Outcome.RETRY, error_text=_DEFERRAL)
        if allow_retry:
            return queue.record_outcome(message, deferral)
        MessageEvent.objects.create(
            account_id=message.account_id,
            message=message,
            event_type=MessageEvent.Type.DEFERRED,
            description=f"Attempt 1: {_DEFERRAL}",
        )
        message.attempts += 1
    sent = queue.mark_sent([(message, f"test-{uuid.uuid4()}", None)])
    if message.pk not in sent:
        return Message.Status(message.status)  # reclaimed by another worker meanwhile
    message.status = Message.Status.SENT
    message.attempts += 1
    for event_type in _AFTER_SENT.get(scenario or "", []):
        event_record_reported(
            message=message,
            event_type=event_type,
            description=_DESCRIPTIONS.get(event_type, ""),
            url=_first_link(message) if event_type == MessageEvent.Type.CLICK else "",
            user_agent=_TEST_USER_AGENT if event_type in _TRACKED else "",
            created_at=timezone.now(),
        )
    return Message.Status.SENT


_TRACKED = (MessageEvent.Type.OPEN, MessageEvent.Type.CLICK)


def _first_link(message: Message) -> str:
    found = _FIRST_LINK.search(message.html)
    return found.group(1) if found else ""
