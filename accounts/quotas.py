"""The operator's daily quotas per account: recipients and bytes of accepted mail.

Counted when mail is accepted (/send, each queued batch item, a dashboard test email), per
UTC day, in one row per account and day. Taking quota is one statement: it adds to the
day's row only if both totals stay within the limits, so concurrent requests can never
pass a limit together, and nothing is locked across the rest of the request.
"""

import datetime as dt
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import Account, AccountUsage


@dataclass(frozen=True)
class DailyLimits:
    recipients: int  # 0: none
    bytes: int  # 0: none


def daily_limits(account: Account) -> DailyLimits:
    """The account's own limits where the admin set them, else the instance's."""
    recipients = account.daily_recipient_limit
    size = account.daily_byte_limit
    return DailyLimits(
        settings.MAILPASS_ACCOUNT_DAILY_RECIPIENTS if recipients is None else recipients,
        settings.MAILPASS_ACCOUNT_DAILY_BYTES if size is None else size,
    )


@dataclass(frozen=True)
class QuotaRefusal:
    limit: str  # "recipients" or "bytes": the limit that would be passed
    retry_after: int  # seconds until the next UTC day

    @property
    def text(self) -> str:
        return f"The account's daily {self.limit} quota is reached; it resets at 00:00 UTC."


_TAKE_SQL = (
    "INSERT INTO {table} (account_id, day, recipients, bytes) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (account_id, day) DO UPDATE"
    " SET recipients = {table}.recipients + EXCLUDED.recipients,"
    " bytes = {table}.bytes + EXCLUDED.bytes"
    " WHERE (%s = 0 OR {table}.recipients + EXCLUDED.recipients <= %s)"
    " AND (%s = 0 OR {table}.bytes + EXCLUDED.bytes <= %s)"
    " RETURNING recipients"
)


def quota_take(
    *, account: Account, recipients: int, size: int, now: dt.datetime | None = None
) -> QuotaRefusal | None:
    """Count `recipients` recipients and `size` bytes against today's quota of `account`.

    Returns None when they fit (and are now counted), else a QuotaRefusal (nothing is
    counted). Runs in the caller's transaction, if any: a rolled-back acceptance takes its
    count back with it.
    """
    now = now or timezone.now()
    day = now.astimezone(dt.UTC).date()
    limits = daily_limits(account)
    if over := _over(limits, recipients, size):
        return _refusal(over, now)
    table = connection.ops.quote_name(AccountUsage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            _TAKE_SQL.format(table=table),
            [
                *(account.pk, connection.ops.adapt_datefield_value(day), recipients, size),
                *(limits.recipients, limits.recipients, limits.bytes, limits.bytes),
            ],
        )
        if cursor.fetchone() is not None:
            return None
    used = AccountUsage.objects.get(account=account, day=day)
    return _refusal(
        _over(limits, used.recipients + recipients, used.bytes + size) or "recipients", now
    )


def _over(limits: DailyLimits, recipients: int, size: int) -> str | None:
    if limits.recipients and recipients > limits.recipients:
        return "recipients"
    if limits.bytes and size > limits.bytes:
        return "bytes"
    return None


def _refusal(limit: str, now: dt.datetime) -> QuotaRefusal:
    tomorrow = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time.min, dt.UTC)
    tomorrow += dt.timedelta(days=1)
    return QuotaRefusal(limit, max(1, math.ceil((tomorrow - now).total_seconds())))


def quota_usage(*, account: Account, now: dt.datetime | None = None) -> tuple[int, int]:
    """(recipients, bytes) the account has had accepted today (UTC)."""
    day = (now or timezone.now()).astimezone(dt.UTC).date()
    row = AccountUsage.objects.filter(account=account, day=day).values_list("recipients", "bytes")
    return row.first() or (0, 0)
