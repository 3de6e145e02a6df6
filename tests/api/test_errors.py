"""Every row of the error table, and JSON under /api/ whatever is sent."""

import datetime as dt
import json
import socket

import pytest
import time_machine
from rest_framework.test import APIClient

from api.models import Message
from tests import factories

pytestmark = pytest.mark.django_db

VALID = {"to": "user@example.com", "subject": "Hello", "html": "<p>Hello World</p>"}


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def test_validation_error_names_the_missing_fields(api, provider):
    error = assert_error(api.post("/api/v1/mail/send", {}, format="json"), 400, "VALIDATION_ERROR")

    assert set(error["details"]) == {"to", "subject"}


def test_validation_error_for_an_invalid_recipient(api, provider):
    error = assert_error(
        api.post("/api/v1/mail/send", {**VALID, "to": "not-an-email"}, format="json"),
        400,
        "VALIDATION_ERROR",
    )

    assert error["details"] == {"to": ["Enter a valid email address."]}


def test_validation_error_when_neither_html_nor_text_is_given(api, provider):
    payload = {"to": "user@example.com", "subject": "Hello", "html": "", "text": ""}

    error = assert_error(
        api.post("/api/v1/mail/send", payload, format="json"), 400, "VALIDATION_ERROR"
    )

    assert "html" in error["details"]


def test_validation_error_for_an_unknown_field(api, provider):
    error = assert_error(
        api.post("/api/v1/mail/send", {**VALID, "form_email": "x@example.com"}, format="json"),
        400,
        "VALIDATION_ERROR",
    )

    assert error["details"] == {"form_email": ["Unknown field."]}


@pytest.mark.parametrize(
    "body",
    [b"{bad json", b"[1, 2]", b'"just a string"', b"null", b'{"to": NaN}', b"\xff\xfe"],
    ids=["broken", "array", "string", "null", "nan", "not-utf8"],
)
def test_malformed_bodies_are_validation_errors(api, provider, body):
    response = api.generic("POST", "/api/v1/mail/send", body, content_type="application/json")

    assert_error(response, 400, "VALIDATION_ERROR")


def test_unauthorized_without_a_key(provider):
    response = APIClient().post("/api/v1/mail/send", VALID, format="json")

    assert_error(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_forbidden_for_a_key_without_the_mail_permission(account, provider):
    _, secret = factories.make_api_key(account, permissions=[])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert_error(client.post("/api/v1/mail/send", VALID, format="json"), 403, "FORBIDDEN")


def test_not_found_for_an_unknown_message(api):
    assert_error(api.get("/api/v1/mail/status/nope@mailpass.test"), 404, "NOT_FOUND")


def test_no_smtp_provider_when_the_account_has_no_default(api, account, sink):
    factories.make_provider(account, port=sink.port, is_default=False)

    error = assert_error(
        api.post("/api/v1/mail/send", VALID, format="json"), 422, "NO_SMTP_PROVIDER"
    )

    assert "default" in error["message"]
    assert Message.objects.count() == 0


@time_machine.travel(dt.datetime(2026, 1, 30, 12, 45, tzinfo=dt.UTC), tick=False)
def test_send_limit_exceeded_when_the_hourly_limit_is_reached(api, account, sink):
    factories.make_provider(account, port=sink.port, hourly_limit=2)
    for _ in range(2):
        assert api.post("/api/v1/mail/send", VALID, format="json").status_code == 200

    response = api.post("/api/v1/mail/send", VALID, format="json")

    error = assert_error(response, 429, "SEND_LIMIT_EXCEEDED")
    assert response["Retry-After"] == str(15 * 60)
    assert error["details"]["retry_after"] == 15 * 60
    assert len(sink.received) == 2
    assert Message.objects.count() == 2


@time_machine.travel(dt.datetime(2026, 1, 30, 22, 0, tzinfo=dt.UTC), tick=False)
def test_send_limit_exceeded_when_the_daily_limit_is_reached(api, account, sink):
    factories.make_provider(account, port=sink.port, daily_limit=1)
    api.post("/api/v1/mail/send", VALID, format="json")

    response = api.post("/api/v1/mail/send", VALID, format="json")

    assert_error(response, 429, "SEND_LIMIT_EXCEEDED")
    assert response["Retry-After"] == str(2 * 3600)


def test_rate_limited_per_key_with_retry_after(api, provider, settings):
    settings.MAILPASS_API_RATE_LIMIT = "2/min"
    for _ in range(2):
        assert api.get("/api/v1/mail/status/x").status_code == 404

    response = api.get("/api/v1/mail/status/x")

    assert_error(response, 429, "RATE_LIMITED")
    assert 0 < int(response["Retry-After"]) <= 60


def test_send_failed_records_the_message_and_names_it(api, provider, sink):
    sink.fail_rcpt("user@example.com", "550 5.1.1 No such user here")

    response = api.post("/api/v1/mail/send", VALID, format="json")

    error = assert_error(response, 500, "SEND_FAILED")
    message = Message.objects.get(message_id=error["details"]["message_id"])
    assert message.status == Message.Status.FAILED
    assert "550 5.1.1 No such user here" in message.error_message
    assert "550 5.1.1 No such user here" in error["message"]


def test_send_failed_when_the_provider_cannot_be_reached(api, account):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    factories.make_provider(account, port=closed_port)

    error = assert_error(api.post("/api/v1/mail/send", VALID, format="json"), 500, "SEND_FAILED")

    message = Message.objects.get(message_id=error["details"]["message_id"])
    assert message.status == Message.Status.FAILED
    assert "connection" in message.error_message.lower()


def test_send_failed_gives_the_limit_capacity_back(api, account, sink):
    provider = factories.make_provider(account, port=sink.port, hourly_limit=1)
    sink.fail_rcpt("user@example.com", "550 rejected")
    assert api.post("/api/v1/mail/send", VALID, format="json").status_code == 500
    sink.handler.reset()

    assert api.post("/api/v1/mail/send", VALID, format="json").status_code == 200
    assert provider.hourly_limit == 1


def test_payload_too_large_before_parsing(api, provider, settings):
    settings.MAILPASS_MAX_REQUEST_BYTES = 2048
    payload = {**VALID, "text": "x" * 5000}

    assert_error(api.post("/api/v1/mail/send", payload, format="json"), 413, "PAYLOAD_TOO_LARGE")


HOSTILE = [
    ("GET", "/api/", None, None, 404, "NOT_FOUND"),
    ("GET", "/api/v1/unknown", None, None, 404, "NOT_FOUND"),
    ("GET", "/api/v1/mail/send/", None, None, 404, "NOT_FOUND"),
    ("DELETE", "/api/v1/mail/send", None, None, 405, "METHOD_NOT_ALLOWED"),
    ("GET", "/api/v1/mail/send", None, None, 405, "METHOD_NOT_ALLOWED"),
    ("PUT", "/api/v1/mail/send-batch", b"{}", "application/json", 405, "METHOD_NOT_ALLOWED"),
    (
        "POST",
        "/api/v1/mail/send",
        b"to=a@b.c",
        "application/x-www-form-urlencoded",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    ),
    ("POST", "/api/v1/mail/send", b"<xml/>", "text/xml", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ("POST", "/api/v1/mail/send", b"{" * 10000, "application/json", 400, "VALIDATION_ERROR"),
    ("POST", "/api/v1/mail/send", b'{"to": {"a": 1}}', "application/json", 400, "VALIDATION_ERROR"),
    (
        "POST",
        "/api/v1/mail/send-batch",
        b'{"messages": "x"}',
        "application/json",
        400,
        "VALIDATION_ERROR",
    ),
    ("GET", "/api/v1/mail/status/%00", None, None, 404, "NOT_FOUND"),
    ("GET", "/api/v1/mail/status/" + "x" * 5000, None, None, 404, "NOT_FOUND"),
]


@pytest.mark.parametrize(("method", "path", "body", "content_type", "status", "code"), HOSTILE)
def test_hostile_requests_always_get_the_json_envelope(
    api, provider, method, path, body, content_type, status, code
):
    kwargs = {"content_type": content_type} if content_type else {}
    response = api.generic(method, path, body or b"", HTTP_ACCEPT="text/html", **kwargs)

    assert_error(response, status, code)


def test_an_unexpected_crash_is_a_json_500(api, provider, monkeypatch):
    # The one place a failure is injected into our own code: nothing else can make a
    # correct view crash on demand.
    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("api.services.message_send", explode)
    client = api
    client.raise_request_exception = False

    error = assert_error(
        client.post("/api/v1/mail/send", VALID, format="json"), 500, "INTERNAL_ERROR"
    )

    assert "boom" not in json.dumps(error)
