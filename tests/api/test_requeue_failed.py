"""Failed messages back into the queue: the service, the command and the dashboard button."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from api import drain
from api.models import Message
from tests import factories

pytestmark = pytest.mark.django_db


def failed(account, **fields):
    return factories.make_message(
        account,
        status=Message.Status.FAILED,
        attempts=7,
        error_message="Gave up",
        failure_reason=Message.FailureReason.EXPIRED,
        **fields,
    )


@pytest.mark.django_db(transaction=True)  # the queue claims from a thread of its own
def test_requeued_messages_are_due_now_with_fresh_attempts_and_are_sent(account, provider, sink):
    message = failed(account, provider=provider)

    call_command("requeue_failed", stdout=(out := StringIO()))

    assert out.getvalue().strip() == "Requeued 1 failed message(s)."
    message.refresh_from_db()
    assert (message.status, message.attempts, message.failure_reason) == ("queued", 0, None)
    assert message.error_message is None
    assert drain.process_due().sent == 1
    assert [r.message["Message-ID"] for r in sink.received] == [message.message_id]


def test_requeue_can_be_limited_to_one_account(account, outsider_account, owner):
    mine, theirs = failed(account), failed(outsider_account)

    call_command("requeue_failed", "--account", owner.username, stdout=StringIO())

    assert Message.objects.get(pk=mine.pk).status == "queued"
    assert Message.objects.get(pk=theirs.pk).status == "failed"
    call_command("requeue_failed", "--account", str(outsider_account.pk), stdout=StringIO())
    assert Message.objects.get(pk=theirs.pk).status == "queued"


@pytest.mark.parametrize("since", ["2h", "120m", "2030-01-15T09:00:00Z"])
def test_requeue_can_be_limited_to_recent_messages(account, time_machine, since):
    time_machine.move_to(dt.datetime(2030, 1, 15, 10, 0, tzinfo=dt.UTC), tick=False)
    old = failed(account, created_at=timezone.now() - dt.timedelta(hours=3))
    recent = failed(account, created_at=timezone.now() - dt.timedelta(minutes=30))

    call_command("requeue_failed", "--since", since, stdout=StringIO())

    assert Message.objects.get(pk=old.pk).status == "failed"
    assert Message.objects.get(pk=recent.pk).status == "queued"


@pytest.mark.parametrize(("option", "value"), [("--account", "ghost"), ("--since", "yesterday")])
def test_requeue_refuses_what_it_cannot_read(db, option, value):
    with pytest.raises(CommandError):
        call_command("requeue_failed", option, value, stdout=StringIO())
