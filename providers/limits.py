"""Hourly and daily sending limits of a provider, over fixed UTC clock windows.

Capacity is taken before sending (acquire) and given back for messages the provider did
not accept (release), so concurrent senders can never overshoot a limit. Usage is counted
per clock hour; the daily figure is the sum of the day's hours.
"""

import datetime as dt
import math
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from providers.models import Provider, ProviderUsage


@dataclass(frozen=True)
class Grant:
    granted: int  # how many messages may go out now (0..wanted)
    window_start: dt.datetime  # the hour they were counted in; release() needs it
    retry_after: int  # seconds until more capacity frees up, when not all were granted


@dataclass(frozen=True)
class WindowUse:
    """Messages a provider took in one limit window, against its limit (None: no limit)."""

    used: int
    limit: int | None

    @property
    def percent(self) -> int:
        if self.limit is None:
            return 0
        return min(100, round(100 * self.used / self.limit)) if self.limit else 100

    @property
    def is_full(self) -> bool:
        return self.limit is not None and self.used >= self.limit


def usage_against_limits(*, provider: Provider) -> tuple[WindowUse, WindowUse]:
    """(this hour, today) of `provider`, each against its limit: what the dashboard shows."""
    hour, day = usage(provider=provider)
    return WindowUse(hour, provider.hourly_limit), WindowUse(day, provider.daily_limit)


def _hour_start(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def usage(*, provider: Provider, now: dt.datetime | None = None) -> tuple[int, int]:
    """(sent this clock hour, sent this UTC day) for `provider`."""
    hour = _hour_start(now or timezone.now())
    day = hour.replace(hour=0)
    rows = ProviderUsage.objects.filter(provider=provider, window_start__gte=day)
    day_used = rows.aggregate(total=Sum("count"))["total"] or 0
    hour_used = rows.filter(window_start=hour).values_list("count", flat=True).first() or 0
    return hour_used, day_used


_UPSERT_SQL = (
    "INSERT INTO {table} (provider_id, window_start, count) VALUES (%s, %s, %s)"
    " ON CONFLICT (provider_id, window_start) DO UPDATE SET count = {table}.count + EXCLUDED.count"
)


def _add(provider: Provider, window_start: dt.datetime, count: int) -> None:
    # One atomic statement (PostgreSQL and SQLite both speak ON CONFLICT): no lock needed,
    # and two first senders of an hour cannot both insert its row.
    table = connection.ops.quote_name(ProviderUsage._meta.db_table)
    with connection.cursor() as cursor:
        window = connection.ops.adapt_datetimefield_value(window_start)
        cursor.execute(_UPSERT_SQL.format(table=table), [provider.pk, window, count])


def record_usage(*, provider: Provider, count: int, now: dt.datetime | None = None) -> None:
    """Count `count` accepted messages of a provider without limits, for its usage figures.

    Providers with limits are counted by acquire() instead, before each send.
    """
    _add(provider, _hour_start(now or timezone.now()), count)


def acquire(*, provider: Provider, wanted: int, now: dt.datetime | None = None) -> Grant:
    """Take capacity for up to `wanted` messages and count them as used now.

    Serialised per provider by locking its row, so concurrent callers see each other's
    counts. Providers without limits always get everything (usage is still counted).
    Runs in its own short transaction; never hold it across network I/O.
    """
    now = now or timezone.now()
    hour = _hour_start(now)
    if not provider.has_limits:
        _add(provider, hour, wanted)
        return Grant(wanted, hour, 0)
    with transaction.atomic():
        Provider.objects.select_for_update().filter(pk=provider.pk).exists()
        hour_used, day_used = usage(provider=provider, now=hour)
        room = wanted
        retry_after = 0
        if provider.hourly_limit is not None:
            room = min(room, provider.hourly_limit - hour_used)
            if room < wanted:
                retry_after = math.ceil((hour + dt.timedelta(hours=1) - now).total_seconds())
        if provider.daily_limit is not None and provider.daily_limit - day_used <= room:
            room = provider.daily_limit - day_used
            next_day = hour.replace(hour=0) + dt.timedelta(days=1)
            retry_after = math.ceil((next_day - now).total_seconds())
        granted = max(0, room)
        if granted:
            _add(provider, hour, granted)
    return Grant(granted, hour, max(1, retry_after) if granted < wanted else 0)


def release(*, provider: Provider, grant_window: dt.datetime, count: int) -> None:
    """Give back capacity for `count` messages that were granted but not accepted."""
    if count > 0:
        ProviderUsage.objects.filter(provider=provider, window_start=grant_window).update(
            count=F("count") - count
        )
