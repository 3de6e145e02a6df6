import hmac
from urllib.parse import unquote

from django.db.models import Min, QuerySet
from django.utils import timezone

from accounts.models import Account
from api.keys import key_digest, key_prefix, looks_like_key
from api.models import ApiKey, Message, MessageEvent, Suppression


def api_key_get_active(*, key: str) -> ApiKey | None:
    """The unrevoked ApiKey matching the full secret `key`, or None.

    Looked up by its visible prefix, then compared by digest in constant time.
    """
    if not looks_like_key(key):
        return None
    try:
        api_key = ApiKey.objects.select_related("account").get(
            prefix=key_prefix(key), revoked_at__isnull=True
        )
    except ApiKey.DoesNotExist:
        return None
    if not hmac.compare_digest(api_key.digest, key_digest(key)):
        return None
    return api_key


def normalize_message_id(raw: str) -> str:
    """Accept a Message-ID with or without angle brackets, URL-encoded or not."""
    value = unquote(raw).strip()
    return f"<{value.removeprefix('<').removesuffix('>')}>"


def message_get_for_account(*, account: Account, message_id: str) -> Message:
    """The account's message with that Message-ID. Raises Message.DoesNotExist otherwise,

    also for a message of another account: callers answer both with the same 404.
    """
    normalized = normalize_message_id(message_id)
    # PostgreSQL refuses NUL in text, and no stored id has control characters or is longer.
    if len(normalized) > 255 or not normalized.isprintable():
        raise Message.DoesNotExist(normalized)
    return Message.objects.get(account=account, message_id=normalized)


def queue_health() -> dict[str, int | float | None]:
    """Queue depth for monitoring: queued (of which due now), sending, and how late the
    most overdue message is. Raises DatabaseError when the database is unreachable."""
    now = timezone.now()
    queued = Message.objects.filter(status=Message.Status.QUEUED)
    due = queued.filter(next_attempt_at__lte=now)
    oldest = due.aggregate(oldest=Min("next_attempt_at"))["oldest"]
    return {
        "queued": queued.count(),
        "due": due.count(),
        "sending": Message.objects.filter(status=Message.Status.SENDING).count(),
        "oldest_due_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
    }


def message_events(*, message: Message) -> QuerySet[MessageEvent]:
    """The message's events, oldest first."""
    return message.events.order_by("created_at", "id")


def recipients_of(message: Message) -> list[str]:
    """Every address the message goes to (To, Cc and Bcc), lower-cased."""
    return [address.lower() for address in [message.to_email, *message.cc, *message.bcc]]


def suppressed_recipients(*, messages: list[Message]) -> list[tuple[Message, list[Suppression]]]:
    """The messages with a recipient on their account's suppression list, each with those
    entries. One query however many messages (of however many accounts); the messages may
    be unsaved."""
    if not messages:
        return []
    entries = Suppression.objects.filter(
        account_id__in={m.account_id for m in messages},
        email__in={address for m in messages for address in recipients_of(m)},
    )
    by_address = {(entry.account_id, entry.email): entry for entry in entries}
    found = []
    for message in messages:
        hits = [
            by_address[(message.account_id, address)]
            for address in dict.fromkeys(recipients_of(message))
            if (message.account_id, address) in by_address
        ]
        if hits:
            found.append((message, hits))
    return found


def suppression_text(hits: list[Suppression]) -> str:
    """The error_message of a message kept back by `hits`."""
    listed = ", ".join(f"{entry.email} ({entry.reason})" for entry in hits)
    return f"Not sent: on the suppression list: {listed}."


def suppression_list(*, account: Account, email: str | None = None) -> QuerySet[Suppression]:
    entries = Suppression.objects.filter(account=account)
    return entries.filter(email=email.strip().lower()) if email else entries
