"""GET /api/v1/health: for monitoring, without a key."""

import datetime as dt

import pytest
from django.db import connection
from rest_framework.test import APIClient

from api.models import Message
from tests import factories

pytestmark = pytest.mark.django_db


def test_health_needs_no_key_and_reports_the_queue(account, time_machine):
    now = dt.datetime(2030, 1, 15, 10, 0, tzinfo=dt.UTC)
    time_machine.move_to(now, tick=False)
    factories.make_message(account, next_attempt_at=now - dt.timedelta(seconds=90))
    factories.make_message(account, next_attempt_at=now - dt.timedelta(seconds=5))
    factories.make_message(account, next_attempt_at=now + dt.timedelta(hours=1))
    factories.make_message(account, status=Message.Status.SENDING)
    factories.make_message(account, status=Message.Status.SENT)

    response = APIClient().get("/api/v1/health")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {
            "database": "ok",
            "queue": {"queued": 3, "due": 2, "sending": 1, "oldest_due_age_seconds": 90.0},
        },
    }


def test_health_of_an_empty_queue(db):
    queue = APIClient().get("/api/v1/health").json()["data"]["queue"]

    assert queue == {"queued": 0, "due": 0, "sending": 0, "oldest_due_age_seconds": None}


def test_health_is_not_throttled(db, settings):
    settings.MAILPASS_API_RATE_LIMIT = "1/min"

    assert {APIClient().get("/api/v1/health").status_code for _ in range(5)} == {200}


def test_health_answers_503_in_the_envelope_when_the_database_is_unreachable(db, monkeypatch):
    # The test database cannot be stopped under the test itself (tests/faults stops a real
    # PostgreSQL server); here every query fails the way an unreachable server's does.
    def unreachable(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("could not connect to server")

    monkeypatch.setattr(connection, "cursor", unreachable)

    response = APIClient().get("/api/v1/health")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "UNAVAILABLE"
