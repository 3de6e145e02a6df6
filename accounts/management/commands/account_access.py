from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from accounts.quotas import daily_limits
from accounts.services import account_find, account_set_access

_SWITCH = {"on": True, "off": False}


def _limit(value: str) -> int | None:
    """A daily limit as typed: a number (0: no limit) or "default" (the instance's)."""
    if value == "default":
        return None
    if not value.isdecimal():
        raise CommandError(f"Not a limit: {value!r} (a number, 0 for none, or default).")
    return int(value)


class Command(BaseCommand):
    help = (
        "Show or change what the operator lets an account do: send through this instance's "
        "relay (the mailpass provider kind), track opens and clicks, and its daily quotas. "
        "Without ACCOUNT, lists the accounts that may use the relay or tracking."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", nargs="?", help="Account id, or its owner's username.")
        parser.add_argument("--relay", choices=_SWITCH, help="May use the relay.")
        parser.add_argument("--tracking", choices=_SWITCH, help="May track opens and clicks.")
        parser.add_argument(
            "--daily-recipients", help="Recipients per UTC day: a number, 0 (none) or default."
        )
        parser.add_argument("--daily-bytes", help="Bytes per UTC day: a number, 0 or default.")

    def handle(self, *args: Any, account: str | None, **options: Any) -> None:
        if account is None:
            allowed = Account.objects.filter(relay_enabled=True) | Account.objects.filter(
                tracking_enabled=True
            )
            for row in allowed.order_by("pk"):
                self._show(row)
            return
        target = account_find(reference=account)
        if target is None:
            raise CommandError(f"No account {account!r} (give its id or owner's username).")
        current: dict[str, Any] = {
            "relay_enabled": target.relay_enabled,
            "tracking_enabled": target.tracking_enabled,
            "daily_recipient_limit": target.daily_recipient_limit,
            "daily_byte_limit": target.daily_byte_limit,
        }
        for option, field in (("relay", "relay_enabled"), ("tracking", "tracking_enabled")):
            if options[option] is not None:
                current[field] = _SWITCH[options[option]]
        for option, field in (
            ("daily_recipients", "daily_recipient_limit"),
            ("daily_bytes", "daily_byte_limit"),
        ):
            if options[option] is not None:
                current[field] = _limit(options[option])
        try:
            account_set_access(account=target, **current)
        except ValidationError as err:
            raise CommandError("; ".join(err.messages)) from err
        self._show(target)

    def _show(self, account: Account) -> None:
        limits = daily_limits(account)
        self.stdout.write(
            f"{account.pk} {account.name} (owner {account.owner.get_username()}): "
            f"relay {'on' if account.relay_enabled else 'off'}, "
            f"tracking {'on' if account.tracking_enabled else 'off'}, "
            f"daily recipients {limits.recipients or 'unlimited'}, "
            f"daily bytes {limits.bytes or 'unlimited'}"
        )
