import datetime as dt

from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.services import account_for_user
from api import selectors
from api.models import ApiKey, Message
from dashboard import charts
from dashboard.http import AuthenticatedRequest
from providers import domains, limits
from providers.models import SenderDomain
from providers.selectors import provider_list_for_account

DAYS = 14
HOURS = 48

# The chart's stacks, bottom up, and the statuses each one counts.
SERIES = {
    "sent": (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.COMPLAINED),
    "failed": (Message.Status.FAILED, Message.Status.BOUNCED),
    "other": (
        Message.Status.SCHEDULED,
        Message.Status.QUEUED,
        Message.Status.SENDING,
        Message.Status.SUPPRESSED,
        Message.Status.CANCELLED,
    ),
}


def _series_counts(by_status: dict[str, int]) -> dict[str, int]:
    return {name: sum(by_status.get(s, 0) for s in statuses) for name, statuses in SERIES.items()}


def _bucket_title(label: str, values: dict[str, int]) -> str:
    return _("%(when)s: %(sent)s sent, %(failed)s failed, %(other)s other") % {
        "when": label,
        "sent": intcomma(values["sent"]),
        "failed": intcomma(values["failed"]),
        "other": intcomma(values["other"]),
    }


def _day_buckets(activity: dict, first_day: dt.date) -> list[tuple[str, charts.Bucket]]:
    buckets = []
    for i in range(DAYS):
        day = first_day + dt.timedelta(days=i)
        start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        values = _series_counts(activity.get(start, {}))
        label = date_format(day, "MONTH_DAY_FORMAT")
        # Every other day on a wide screen, every sixth on a phone; today always.
        tick = label if (DAYS - 1 - i) % 2 == 0 else ""
        minor = (DAYS - 1 - i) % 6 != 0
        buckets.append((label, charts.Bucket(values, _bucket_title(label, values), tick, minor)))
    return buckets


def _hour_buckets(activity: dict, first_hour: dt.datetime) -> list[tuple[str, charts.Bucket]]:
    buckets = []
    for i in range(HOURS):
        start = timezone.localtime(first_hour + dt.timedelta(hours=i))
        values = _series_counts(activity.get(start, {}))
        time = date_format(start, "TIME_FORMAT")
        day = date_format(start, "MONTH_DAY_FORMAT")
        label = f"{day} {time}"
        tick = ""
        if start.hour % 6 == 0:
            tick = day if start.hour == 0 else time
        minor = start.hour % 12 != 0
        buckets.append((label, charts.Bucket(values, _bucket_title(label, values), tick, minor)))
    return buckets


@login_required
def overview(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    by = "hour" if request.GET.get("by") == "hour" else "day"
    now = timezone.now()
    today = timezone.localdate(now)
    first_day = today - dt.timedelta(days=DAYS - 1)
    daily = selectors.message_daily_activity(account=account, first_day=first_day, today=today)
    by_status: dict[str, int] = {}
    for counts in daily.values():
        for status, n in counts.items():
            by_status[status] = by_status.get(status, 0) + n
    totals = _series_counts(by_status)

    if by == "hour":
        this_hour = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
        # Stepped in UTC: wall-clock arithmetic would skip or repeat an hour at DST changes.
        first_hour = this_hour.astimezone(dt.UTC) - dt.timedelta(hours=HOURS - 1)
        hourly = selectors.message_activity(account=account, since=first_hour, by="hour")
        buckets = _hour_buckets(hourly, first_hour)
    else:
        buckets = _day_buckets(daily, first_day)
    chart = charts.stacked_bars(
        [bucket for _label, bucket in buckets], series=list(SERIES), number=intcomma
    )

    providers = [
        (provider, *limits.usage_against_limits(provider=provider))
        for provider in provider_list_for_account(account=account)
    ]
    has_key = ApiKey.objects.filter(account=account, revoked_at__isnull=True).exists()
    has_message = Message.objects.filter(account=account, test=False).exists()
    has_verified_domain = (
        domains.domain_list(account).filter(status=SenderDomain.Status.VERIFIED).exists()
    )
    context = {
        "by": by,
        "days": DAYS,
        "hours": HOURS,
        "totals": totals,
        "complained": by_status.get(Message.Status.COMPLAINED, 0),
        "suppressed": by_status.get(Message.Status.SUPPRESSED, 0),
        "queue": selectors.message_queue_depth(account=account),
        # Waiting for their time, whenever they were accepted (the figures above count the
        # last days only).
        "scheduled": Message.objects.filter(
            account=account, test=False, status=Message.Status.SCHEDULED
        ).count(),
        "failing_webhooks": selectors.webhook_list_failing(account=account),
        "failing_domains": list(domains.failing_domains(account)),
        "chart": chart,
        "chart_rows": [(label, bucket.values) for label, bucket in buckets],
        "chart_total": sum(sum(bucket.values.values()) for _label, bucket in buckets),
        "providers": providers,
        "checklist": {
            "provider": bool(providers),
            "key": has_key,
            "domain": has_verified_domain,
            "message": has_message,
        },
        "new_account": not (providers and has_key and has_message),
    }
    return render(request, "dashboard/overview.html", context)
