"""Retention: `purge_messages` deletes what is past MAILPASS_RETENTION_DAYS in small batches
that never wait for a row the queue holds, and the per-day counts after
MAILPASS_USAGE_RETENTION_DAYS."""

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from accounts.models import AccountUsage
from api import retention
from api.models import Message, MessageEvent
from providers.models import ProviderUsage
from tests import factories
from tests.processes import PRODUCTION_ENV, run_configured

pytestmark = pytest.mark.django_db


def old_message(account, days: float, status: str = Message.Status.SENT) -> Message:
    message = factories.make_message(account, status=status)
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days)
    )
    MessageEvent.objects.create(account=account, message=message, event_type="sent")
    return message


def test_messages_are_kept_30_days_by_default_and_the_old_setting_name_still_counts():
    script = "import django; django.setup(); from django.conf import settings as s; " + (
        "print(s.MAILPASS_RETENTION_DAYS, s.MAILPASS_USAGE_RETENTION_DAYS)"
    )
    assert run_configured(PRODUCTION_ENV, "-c", script).stdout.split() == ["30", "400"]
    old_name = {**PRODUCTION_ENV, "MAILPASS_MESSAGE_RETENTION_DAYS": "7"}
    assert run_configured(old_name, "-c", script).stdout.split()[0] == "7"
    both = {**old_name, "MAILPASS_RETENTION_DAYS": "90"}
    assert run_configured(both, "-c", script).stdout.split()[0] == "90"


def test_the_purge_deletes_old_final_messages_with_their_events_in_batches(account):
    gone = [old_message(account, 31, status) for status in ("sent", "failed", "delivered")]
    gone += [old_message(account, 40) for _ in range(4)]
    kept = [old_message(account, 29)]
    kept += [old_message(account, 90, status) for status in ("queued", "scheduled", "sending")]

    purged = retention.purge(retention_days=30, batch_size=3)

    assert purged.messages == len(gone) and purged.finished
    assert set(Message.objects.values_list("pk", flat=True)) == {m.pk for m in kept}
    assert MessageEvent.objects.count() == len(kept)


def test_a_run_bounded_in_time_stops_and_says_so(account):
    for _ in range(3):
        old_message(account, 31)

    purged = retention.purge(retention_days=30, max_seconds=0)

    assert (purged.messages, purged.finished) == (0, False)
    assert retention.purge(retention_days=30).messages == 3


def test_per_day_counts_are_kept_for_the_usage_retention(account, provider):
    today = timezone.now().date()
    for age in (399, 401):
        AccountUsage.objects.create(account=account, day=today - dt.timedelta(days=age))
        ProviderUsage.objects.create(
            provider=provider, window_start=timezone.now() - dt.timedelta(days=age)
        )

    purged = retention.purge(retention_days=0, usage_days=400)

    assert purged.usage_rows == 2
    assert [u.day for u in AccountUsage.objects.all()] == [today - dt.timedelta(days=399)]
    assert ProviderUsage.objects.count() == 1


def test_the_command_reports_what_it_deleted(account, settings, capsys):
    settings.MAILPASS_RETENTION_DAYS = 10
    old_message(account, 11)

    call_command("purge_messages", "--batch-size", "1")

    assert capsys.readouterr().out == (
        "Deleted 1 message(s), 0 webhook event(s), 0 stored file(s) and 0 usage row(s).\n"
    )


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_row_another_transaction_holds_is_skipped_not_waited_for(account):
    held, free = old_message(account, 31), old_message(account, 31)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction.atomic():
            Message.objects.select_for_update().get(pk=held.pk)  # e.g. a status update
            locked.set()
            release.wait(30)
        connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:  # fail rather than hang if it ever waits
            cursor.execute("SET lock_timeout = '5s'")
        purged = retention.purge(retention_days=30)
    finally:
        release.set()
        holder.join()

    assert purged.messages == 1
    assert list(Message.objects.values_list("pk", flat=True)) == [held.pk]
    assert not Message.objects.filter(pk=free.pk).exists()
    assert retention.purge(retention_days=30).messages == 1  # the next run takes it
