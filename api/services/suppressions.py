"""The account's suppression list: addresses mail is never handed to a provider for."""

from django.db import IntegrityError, transaction

from accounts.models import Account
from api import outbox
from api.models import Message, MessageEvent, Suppression


def suppression_text(hits: list[Suppression]) -> str:
    """The error_message of a message kept back by `hits`."""
    listed = ", ".join(f"{entry.email} ({entry.reason})" for entry in hits)
    return f"Not sent: on the suppression list: {listed}."


def suppression_add(
    *,
    account: Account,
    email: str,
    reason: Suppression.Reason = Suppression.Reason.MANUAL,
    description: str = "",
    message: Message | None = None,
    test: bool = False,
) -> tuple[Suppression, bool]:
    """Put `email` on the account's suppression list (test=True: its test list, which
    holds back test messages only); (entry, created). An address already listed keeps its
    first entry (and reason): repeats, e.g. resent webhooks, change nothing."""
    listed = {"account": account, "test": test, "email": email.strip().lower()}
    try:
        with transaction.atomic():
            return Suppression.objects.get_or_create(
                **listed,
                defaults={"reason": reason, "description": description, "message": message},
            )
    except IntegrityError:  # added concurrently
        return Suppression.objects.get(**listed), False


def suppression_remove(*, account: Account, email: str, test: bool = False) -> bool:
    """Take `email` off the account's list (or its test list); False if it was not on it."""
    if "\x00" in email:  # no listed address holds a NUL, and PostgreSQL refuses one in a query
        return False
    entries = Suppression.objects.filter(account=account, test=test, email=email.strip().lower())
    deleted, _ = entries.delete()
    return deleted > 0


def message_unsubscribe(
    *, message_pk: int, ip_address: str | None = None, user_agent: str = ""
) -> Message | None:
    """The recipient of a message pressed its one-click unsubscribe (api.unsubscribe): its
    `to` address goes on the account's suppression list (reason unsubscribed), and the
    message gets an `unsubscribed` event, once however often it is pressed. None when no
    such message exists (any more)."""
    message = Message.objects.select_related("account").filter(pk=message_pk).first()
    if message is None:
        return None
    with transaction.atomic():
        suppression_add(
            account=message.account,
            email=message.to_email,
            reason=Suppression.Reason.UNSUBSCRIBED,
            description="One-click unsubscribe",
            message=message,
            test=message.test,
        )
        unsubscribed = MessageEvent.objects.filter(
            message=message, event_type=MessageEvent.Type.UNSUBSCRIBED
        )
        if not unsubscribed.exists():
            event = MessageEvent.objects.create(
                account=message.account,
                message=message,
                event_type=MessageEvent.Type.UNSUBSCRIBED,
                ip_address=ip_address,
                user_agent=user_agent[:1000],
                description="One-click unsubscribe",
            )
            outbox.emit_events([(event, message)])
    return message
