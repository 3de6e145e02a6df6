"""scheduled_at on /send and batch items; cancel and reschedule; the queue sends on time."""

import datetime as dt
import subprocess
import sys
import time
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from rest_framework.test import APIClient

from api.drain import process_due
from api.models import Message, MessageEvent, Suppression
from api.queue import release_scheduled
from api.services import template_create
from tests import factories
from tests.processes import worker_env

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2027, 3, 27, 12, 0, tzinfo=dt.UTC)  # the day before Europe's clocks move


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


def send(api, **fields):
    payload = {"to": "ann@example.com", "subject": "Hi", "text": "Hello", **fields}
    return api.post("/api/v1/mail/send", payload, format="json")


def status_of(api, message_id):
    return api.get(f"/api/v1/mail/status/{quote(message_id)}").json()["data"]


def test_send_with_scheduled_at_answers_scheduled_and_contacts_no_provider(
    api, provider, sink, clock
):
    response = send(api, scheduled_at="2027-03-28T09:00:00+02:00")

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert data["status"] == "scheduled"
    assert data["scheduled_at"] == "2027-03-28T07:00:00Z"
    assert sink.received == []
    status = status_of(api, data["message_id"])
    assert status["message"]["status"] == "scheduled"
    assert status["message"]["scheduled_at"] == "2027-03-28T07:00:00Z"
    assert [e["event_type"] for e in status["events"]] == ["scheduled"]
    assert status["events"][0]["description"] == "Scheduled for 2027-03-28T07:00:00Z."


def test_nine_in_the_morning_on_either_side_of_a_dst_change_is_an_hour_apart_in_utc(
    api, provider, clock
):
    """Europe/Berlin moves from +01:00 to +02:00 on 2027-03-28: 9:00 local is 08:00 UTC the
    day before and 07:00 UTC on the day. The offset the caller computed is honoured."""
    berlin = ZoneInfo("Europe/Berlin")
    before = dt.datetime(2027, 3, 27, 19, 0, tzinfo=berlin)  # later today
    after = dt.datetime(2027, 3, 28, 9, 0, tzinfo=berlin)

    first = send(api, scheduled_at=iso(before)).json()["data"]
    second = send(api, scheduled_at=iso(after)).json()["data"]

    assert iso(before).endswith("+01:00") and iso(after).endswith("+02:00")
    assert first["scheduled_at"] == "2027-03-27T18:00:00Z"
    assert second["scheduled_at"] == "2027-03-28T07:00:00Z"
    stored = Message.objects.get(message_id=second["message_id"]).scheduled_at
    assert stored.astimezone(berlin).hour == 9


@pytest.mark.parametrize(
    ("scheduled_at", "problem"),
    [
        ("2027-03-28T09:00:00", "Must include a time zone offset, e.g. +01:00 or Z."),
        ("2027-03-28", "Must include a time zone offset, e.g. +01:00 or Z."),
        ("tomorrow at nine", "Must be an ISO 8601 date and time, e.g. 2026-12-05T09:00:00+01:00."),
        (1800000000, "Must be an ISO 8601 date and time, e.g. 2026-12-05T09:00:00+01:00."),
        ("2027-03-27T11:59:59Z", "Must not be in the past."),
        ("2027-03-27T13:59:59+02:00", "Must not be in the past."),
        ("2027-04-26T12:00:01Z", "At most 30 days ahead."),
    ],
)
def test_a_scheduled_at_without_offset_in_the_past_or_too_far_ahead_is_a_400(
    api, provider, clock, scheduled_at, problem
):
    response = send(api, scheduled_at=scheduled_at)

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"scheduled_at": [problem]}
    assert not Message.objects.exists()


@pytest.mark.parametrize("scheduled_at", ["2027-03-27T12:00:00Z", "2027-04-26T12:00:00Z"])
def test_now_and_exactly_30_days_ahead_are_accepted(api, provider, clock, scheduled_at):
    assert send(api, scheduled_at=scheduled_at).json()["data"]["status"] == "scheduled"


def test_a_scheduled_message_to_a_suppressed_address_is_refused_at_once(api, account, provider):
    Suppression.objects.create(account=account, email="ann@example.com")

    response = send(api, scheduled_at=iso(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "RECIPIENT_SUPPRESSED"


@pytest.mark.django_db(transaction=True)  # the queue's sending threads must see the rows
def test_the_queue_sends_a_scheduled_message_when_it_is_due_and_not_before(api, provider, sink):
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    message_id = send(api, scheduled_at=iso(soon)).json()["data"]["message_id"]

    early = process_due()
    sent_early = list(sink.received)
    with time_machine.travel(soon + dt.timedelta(seconds=1)):
        due = process_due()

    assert early.claimed == 0 and sent_early == []
    assert due.sent == 1
    assert sink.received[0].message["Message-ID"] == message_id
    message = Message.objects.get(message_id=message_id)
    assert message.status == Message.Status.SENT
    assert message.scheduled_at is not None and message.sent_at >= message.scheduled_at


@pytest.mark.django_db(transaction=True)
def test_suppressions_are_checked_again_when_a_scheduled_message_is_due(
    api, account, provider, sink
):
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    message_id = send(api, scheduled_at=iso(soon)).json()["data"]["message_id"]
    Suppression.objects.create(account=account, email="ann@example.com")

    with time_machine.travel(soon + dt.timedelta(seconds=1)):
        process_due()

    assert sink.received == []
    assert Message.objects.get(message_id=message_id).status == Message.Status.SUPPRESSED


@pytest.mark.django_db(transaction=True)
def test_the_providers_limit_is_checked_again_when_a_scheduled_message_is_due(api, account, sink):
    factories.make_provider(account, port=sink.port, hourly_limit=1)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    scheduled = [
        send(api, to=f"r{i}@example.com", scheduled_at=iso(soon)).json()["data"]["message_id"]
        for i in range(2)
    ]

    with time_machine.travel(soon + dt.timedelta(seconds=1)):
        stats = process_due()

    assert stats.sent == 1 and stats.deferred == 1
    statuses = sorted(Message.objects.filter(message_id__in=scheduled).values_list("status"))
    assert statuses == [("queued",), ("sent",)]


def test_release_puts_only_due_scheduled_messages_in_the_queue(account, provider):
    now = dt.datetime.now(dt.UTC)
    due = factories.make_message(
        account, status=Message.Status.SCHEDULED, scheduled_at=now - dt.timedelta(seconds=1)
    )
    later = factories.make_message(
        account, status=Message.Status.SCHEDULED, scheduled_at=now + dt.timedelta(hours=1)
    )
    cancelled = factories.make_message(
        account, status=Message.Status.CANCELLED, scheduled_at=now - dt.timedelta(hours=1)
    )

    assert release_scheduled() == 1

    due.refresh_from_db()
    assert due.status == Message.Status.QUEUED and due.next_attempt_at is not None
    assert Message.objects.get(pk=later.pk).status == Message.Status.SCHEDULED
    assert Message.objects.get(pk=cancelled.pk).status == Message.Status.CANCELLED


# --- cancel and reschedule -----------------------------------------------------------


@pytest.fixture
def scheduled(api, provider, clock):
    return send(api, scheduled_at="2027-03-28T09:00:00+02:00").json()["data"]["message_id"]


@pytest.mark.parametrize("brackets", [True, False])
def test_cancel_cancels_a_scheduled_message_and_is_idempotent(api, scheduled, brackets):
    message_id = scheduled if brackets else scheduled.strip("<>")
    path = f"/api/v1/mail/{quote(message_id)}/cancel"

    first = api.post(path)
    again = api.post(path)

    assert first.status_code == again.status_code == 200
    assert first.json()["data"] == {"message_id": scheduled, "status": "cancelled"}
    assert again.json() == first.json()
    status = status_of(api, scheduled)
    assert status["message"]["status"] == "cancelled"
    assert [e["event_type"] for e in status["events"]] == ["scheduled", "cancelled"]


def test_a_cancelled_message_is_never_sent(api, scheduled, sink):
    api.post(f"/api/v1/mail/{quote(scheduled)}/cancel")

    with time_machine.travel(dt.datetime(2027, 3, 28, 8, tzinfo=dt.UTC)):
        assert release_scheduled() == 0

    assert Message.objects.get(message_id=scheduled).status == Message.Status.CANCELLED


def test_reschedule_moves_a_scheduled_message_and_records_it(api, scheduled):
    path = f"/api/v1/mail/{quote(scheduled)}"

    moved = api.patch(path, {"scheduled_at": "2027-03-29T09:00:00+02:00"}, format="json")
    again = api.patch(path, {"scheduled_at": "2027-03-29T07:00:00Z"}, format="json")

    assert moved.status_code == again.status_code == 200
    assert moved.json()["data"] == {
        "message_id": scheduled,
        "status": "scheduled",
        "scheduled_at": "2027-03-29T07:00:00Z",
    }
    assert again.json() == moved.json()
    events = status_of(api, scheduled)["events"]
    assert [e["description"] for e in events] == [
        "Scheduled for 2027-03-28T07:00:00Z.",
        "Moved to 2027-03-29T07:00:00Z.",  # once: the same time again changes nothing
    ]
    message = Message.objects.get(message_id=scheduled)
    assert message.turn_at == message.scheduled_at


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, {"scheduled_at": ["This field is required."]}),
        (
            {"scheduled_at": "2027-03-29T09:00:00"},
            {"scheduled_at": ["Must include a time zone offset, e.g. +01:00 or Z."]},
        ),
        ({"scheduled_at": "2027-03-27T11:00:00Z"}, {"scheduled_at": ["Must not be in the past."]}),
        ({"scheduled_at": "2027-05-01T00:00:00Z"}, {"scheduled_at": ["At most 30 days ahead."]}),
        (
            {"scheduled_at": "2027-03-29T07:00:00Z", "to": "x@example.com"},
            {"to": ["Unknown field."]},
        ),
    ],
)
def test_a_bad_reschedule_is_a_400_and_changes_nothing(api, scheduled, body, details):
    response = api.patch(f"/api/v1/mail/{quote(scheduled)}", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == details
    assert Message.objects.get(message_id=scheduled).scheduled_at == dt.datetime(
        2027, 3, 28, 7, tzinfo=dt.UTC
    )


@pytest.mark.parametrize("state", ["queued", "sending", "sent", "failed", "delivered", "cancelled"])
def test_reschedule_of_a_message_that_is_not_scheduled_is_a_409_with_its_status(
    api, account, clock, state
):
    message = factories.make_message(account, status=state)

    response = api.patch(
        f"/api/v1/mail/{quote(message.message_id)}",
        {"scheduled_at": "2027-03-29T07:00:00Z"},
        format="json",
    )

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "MESSAGE_NOT_SCHEDULED"
    assert error["details"] == {"message_id": message.message_id, "status": state}
    assert state in error["message"]


@pytest.mark.parametrize("state", ["queued", "sending", "sent", "failed", "suppressed"])
def test_cancel_of_a_message_that_is_not_scheduled_is_a_409_and_changes_nothing(
    api, account, state
):
    message = factories.make_message(account, status=state)

    response = api.post(f"/api/v1/mail/{quote(message.message_id)}/cancel")

    assert response.status_code == 409
    assert response.json()["error"]["details"] == {
        "message_id": message.message_id,
        "status": state,
    }
    assert Message.objects.get(pk=message.pk).status == state
    assert not MessageEvent.objects.exists()


def test_a_message_released_into_the_queue_can_no_longer_be_cancelled(api, scheduled):
    with time_machine.travel(dt.datetime(2027, 3, 28, 7, 0, 1, tzinfo=dt.UTC), tick=False):
        release_scheduled()
        response = api.post(f"/api/v1/mail/{quote(scheduled)}/cancel")

    assert response.status_code == 409
    assert response.json()["error"]["details"]["status"] == "queued"


def test_cancel_and_reschedule_of_another_accounts_message_are_404s(api, outsider_api, scheduled):
    cancel = outsider_api.post(f"/api/v1/mail/{quote(scheduled)}/cancel")
    move = outsider_api.patch(
        f"/api/v1/mail/{quote(scheduled)}", {"scheduled_at": "2027-03-29T07:00:00Z"}, format="json"
    )
    unknown = api.post("/api/v1/mail/%3Cnope%40example.com%3E/cancel")

    assert cancel.status_code == move.status_code == unknown.status_code == 404
    assert Message.objects.get(message_id=scheduled).status == Message.Status.SCHEDULED


def test_a_template_used_by_a_scheduled_message_cannot_be_deleted_until_it_is_cancelled(
    account, api, provider, clock
):
    template_create(
        account=account,
        data={"alias": "hello", "name": "Hello", "subject": "Hi {{name}}", "text": "Hello"},
    )
    message_id = send(
        api,
        subject=None,
        text=None,
        template={"alias": "hello", "variables": {"name": "Ann"}},
        scheduled_at="2027-03-28T09:00:00+02:00",
    ).json()["data"]["message_id"]
    _, secret = factories.make_api_key(account, permissions=["templates"])
    editor = APIClient()
    editor.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    refused = editor.delete("/api/v1/templates/hello")
    api.post(f"/api/v1/mail/{quote(message_id)}/cancel")
    deleted = editor.delete("/api/v1/templates/hello")

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "TEMPLATE_IN_USE"
    assert refused.json()["error"]["details"] == {"scheduled": 1}
    assert deleted.status_code == 200


# --- batches ---------------------------------------------------------------------------


def test_batch_items_may_be_scheduled_each_on_its_own(api, provider, clock):
    payload = {
        "messages": [
            {"to": "a@example.com", "subject": "Now", "text": "x"},
            {
                "to": "b@example.com",
                "subject": "Later",
                "text": "x",
                "scheduled_at": "2027-03-28T09:00:00+02:00",
            },
            {"to": "c@example.com", "subject": "Bad", "text": "x", "scheduled_at": "yesterday"},
        ]
    }

    data = api.post("/api/v1/mail/send-batch", payload, format="json").json()["data"]

    assert (data["total"], data["queued"], data["failed"]) == (3, 2, 1)
    now, later, bad = data["messages"]
    assert now["status"] == "queued" and "scheduled_at" not in now
    assert later["status"] == "scheduled"
    assert later["scheduled_at"] == "2027-03-28T07:00:00Z"
    assert "scheduled_at" in bad["error"]["details"]
    assert Message.objects.get(pk=later["queue_id"]).status == Message.Status.SCHEDULED
    assert MessageEvent.objects.filter(event_type="scheduled").count() == 1


# --- the worker, for real ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_looping_worker_sends_a_scheduled_message_seconds_after_it_is_due(
    api, provider, sink, test_database_url
):
    """process_mail_queue --loop, as systemd runs it: the message goes out after its time
    and within a few polls of it (the bound is generous: shared machines stall)."""
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    message_id = send(api, scheduled_at=iso(due)).json()["data"]["message_id"]
    env = worker_env(test_database_url, MAILPASS_QUEUE_POLL_SECONDS="1")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "process_mail_queue", "--loop"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not sink.received and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    assert sink.received, "the worker did not send the scheduled message"
    message = Message.objects.get(message_id=message_id)
    assert message.status == Message.Status.SENT
    assert due <= message.sent_at < due + dt.timedelta(seconds=30)
