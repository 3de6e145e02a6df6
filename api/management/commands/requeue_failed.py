import datetime as dt
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.models import Account
from api.services import messages_requeue_failed

_RELATIVE = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str) -> dt.datetime:
    """'24h', '30m', '7d', an ISO date (2026-11-20) or datetime (2026-11-20T08:00:00Z)."""
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = relative.groups()
        return timezone.now() - dt.timedelta(**{_UNITS[unit]: int(amount)})
    moment = parse_datetime(value)
    if moment is None and (day := parse_date(value)) is not None:
        moment = dt.datetime.combine(day, dt.time.min)
    if moment is None:
        raise CommandError(f"--since: cannot read {value!r} (use 24h, 7d, or an ISO date).")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, dt.UTC)


class Command(BaseCommand):
    help = "Put failed messages back in the queue (all accounts unless --account)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="Account id, or the username of its owner.")
        parser.add_argument("--since", help="Only messages created since: 24h, 7d or ISO date.")

    def handle(self, *args: Any, account: str | None, since: str | None, **options: Any) -> None:
        target = None
        if account is not None:
            by_id = Q(pk=int(account)) if account.isdigit() else Q(pk__in=[])
            target = Account.objects.filter(by_id | Q(owner__username=account)).first()
            if target is None:
                raise CommandError(f"No account {account!r} (give its id or owner's username).")
        count = messages_requeue_failed(account=target, since=parse_since(since) if since else None)
        self.stdout.write(f"Requeued {count} failed message(s).")
