"""GET /api/v1/health: for monitoring, without a key; the queue's figures for the operator."""

import datetime as dt

import pytest
from django.db import connection
from rest_framework.test import APIClient

import mailpass
from api.models import Message
from tests import factories

pytestmark = pytest.mark.django_db

TOKEN = "health-token-for-tests"


@pytest.fixture
def operator(settings) -> APIClient:
    settings.MAILPASS_HEALTH_TOKEN = TOKEN
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    return client


def test_health_reports_the_queue_to_the_operator(account, time_machine, operator):
    now = dt.datetime(2030, 1, 15, 10, 0, tzinfo=dt.UTC)
    time_machine.move_to(now, tick=False)
    factories.make_message(account, next_attempt_at=now - dt.timedelta(seconds=90))
    factories.make_message(account, next_attempt_at=now - dt.timedelta(seconds=5))
    factories.make_message(account, next_attempt_at=now + dt.timedelta(hours=1))
    factories.make_message(
        account, status=Message.Status.SENDING, lease_expires_at=now + dt.timedelta(minutes=5)
    )
    factories.make_message(account, status=Message.Status.SENT)

    response = operator.get("/api/v1/health")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {
            "database": "ok",
            "cache": "local",
            "version": mailpass.__version__,
            "queue": {
                "queued": 3,
                "due": 2,
                "sending": 1,
                "stuck": 0,
                "oldest_due_age_seconds": 90.0,
            },
        },
    }


def test_a_message_past_its_lease_counts_as_stuck_and_overdue(account, time_machine, operator):
    now = dt.datetime(2030, 1, 15, 10, 0, tzinfo=dt.UTC)
    time_machine.move_to(now, tick=False)
    # A worker hung on this message: it is still `sending`, ten minutes past its lease.
    factories.make_message(
        account, status=Message.Status.SENDING, lease_expires_at=now - dt.timedelta(minutes=10)
    )

    queue = operator.get("/api/v1/health").json()["data"]["queue"]

    assert queue == {
        "queued": 0,
        "due": 0,
        "sending": 1,
        "stuck": 1,
        "oldest_due_age_seconds": 600.0,
    }


def test_health_of_an_empty_queue(operator):
    queue = operator.get("/api/v1/health").json()["data"]["queue"]

    assert queue == {
        "queued": 0,
        "due": 0,
        "sending": 0,
        "stuck": 0,
        "oldest_due_age_seconds": None,
    }


@pytest.mark.parametrize(
    ("token", "authorization"),
    [
        ("", None),
        ("", "Bearer "),
        (TOKEN, None),
        (TOKEN, "Bearer wrong-token"),
        (TOKEN, f"Bearer {TOKEN}x"),
        (TOKEN, f"Token {TOKEN}"),
        (TOKEN, "Bearer héalth"),
    ],
)
def test_anyone_else_learns_only_that_the_database_answers(account, settings, token, authorization):
    settings.MAILPASS_HEALTH_TOKEN = token
    factories.make_message(account)
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

    response = APIClient().get("/api/v1/health", **headers)

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {"database": "ok", "cache": "local", "version": mailpass.__version__},
    }


def test_health_is_not_throttled(db, settings):
    settings.MAILPASS_API_RATE_LIMIT = "1/min"

    assert {APIClient().get("/api/v1/health").status_code for _ in range(5)} == {200}


@pytest.mark.parametrize("with_token", [False, True])
def test_health_answers_503_in_the_envelope_when_the_database_is_unreachable(
    db, monkeypatch, settings, with_token
):
    # The test database cannot be stopped under the test itself (tests/faults stops a real
    # PostgreSQL server); here every query fails the way an unreachable server's does.
    def unreachable(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("could not connect to server")

    settings.MAILPASS_HEALTH_TOKEN = TOKEN
    monkeypatch.setattr(connection, "cursor", unreachable)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"} if with_token else {}

    response = APIClient().get("/api/v1/health", **headers)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "UNAVAILABLE"


def test_a_plain_http_probe_gets_the_answer_not_a_redirect_to_https(db, settings):
    """Behind a TLS-terminating proxy the app redirects http to https; load balancers
    probe over plain HTTP and count a redirect as down."""
    settings.SECURE_SSL_REDIRECT = True

    assert APIClient().get("/api/v1/health").status_code == 200
    assert APIClient().get("/api/v1/mail/status/x").status_code == 301
