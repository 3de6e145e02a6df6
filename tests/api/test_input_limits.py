"""Header injection and size limits: a 400 with the field named, never a 500, never a header."""

import pytest

from api import serializers as limits
from api.models import Message

pytestmark = pytest.mark.django_db

VALID = {"to": "user@example.com", "subject": "Hello", "text": "Hello"}
BREAKS = ["\r\n", "\n", "\r", "\x00", "\u2028", "\u2029", "\x85", "\x0b", "\x0c"]
INJECTION = "Bcc: victim@example.com"


def header_field_cases():
    for brk in BREAKS:
        yield "subject", f"Hi{brk}{INJECTION}"
        yield "from_name", f"App{brk}{INJECTION}"
        yield "to", f"user@example.com{brk}{INJECTION}"
        yield "from_email", f"a@example.com{brk}{INJECTION}"
        yield "reply_to", f"r@example.com{brk}{INJECTION}"
        yield "cc", [f"c@example.com{brk}{INJECTION}"]
        yield "bcc", [f"b@example.com{brk}{INJECTION}"]
        yield "tags", [f"tag{brk}{INJECTION}"]
        yield "metadata", {f"key{brk}{INJECTION}": "v"}


@pytest.mark.parametrize(("field", "value"), list(header_field_cases()))
def test_line_breaks_in_header_fields_are_rejected_and_nothing_is_sent(
    api, provider, sink, field, value
):
    response = api.post("/api/v1/mail/send", {**VALID, field: value}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert field in response.json()["error"]["details"]
    assert sink.received == []
    assert Message.objects.count() == 0


def test_line_breaks_in_the_body_are_fine(api, provider, sink):
    response = api.post(
        "/api/v1/mail/send",
        {**VALID, "text": "line 1\r\nline 2\n\nBcc: not-a-header"},
        format="json",
    )

    assert response.status_code == 200
    assert sink.received[0].message["Bcc"] is None


def too_big_cases():
    many = [f"r{i}@example.com" for i in range(limits.MAX_RECIPIENTS)]
    yield "subject", {"subject": "x" * (limits.MAX_SUBJECT_CHARS + 1)}
    yield "text", {"text": "x" * (limits.MAX_BODY_CHARS + 1)}
    yield "html", {"html": "x" * (limits.MAX_BODY_CHARS + 1)}
    yield "cc", {"cc": [*many, "one-more@example.com"]}
    yield "cc", {"cc": many[:30], "bcc": many[30:]}  # 1 + 50 recipients
    yield "tags", {"tags": [f"t{i}" for i in range(limits.MAX_TAGS + 1)]}
    yield "tags", {"tags": ["x" * (limits.MAX_TAG_CHARS + 1)]}
    yield "metadata", {"metadata": {f"k{i}": i for i in range(limits.MAX_METADATA_KEYS + 1)}}
    yield "metadata", {"metadata": {"k": "x" * (limits.MAX_METADATA_VALUE_CHARS + 1)}}
    yield "metadata", {"metadata": {"k" * (limits.MAX_METADATA_KEY_CHARS + 1): 1}}
    yield "metadata", {"metadata": {"nested": {"a": {"b": {"c": 1}}}}}
    yield "metadata", {"metadata": {"list": [1, 2, 3]}}
    yield "metadata", {"metadata": {f"k{i}": "x" * 900 for i in range(20)}}  # > 16 KB
    yield "metadata", {"metadata": ["not", "an", "object"]}
    yield "to", {"to": "a" * 250 + "@example.com"}
    yield "from_name", {"from_name": "x" * 201}


@pytest.mark.parametrize(("field", "extra"), list(too_big_cases()))
def test_oversized_fields_are_validation_errors(api, provider, settings, field, extra):
    settings.MAILPASS_MAX_REQUEST_BYTES = 64 * 1024 * 1024

    response = api.post("/api/v1/mail/send", {**VALID, **extra}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert field in response.json()["error"]["details"]


def test_the_limits_themselves_are_accepted(api, provider, sink, settings):
    settings.MAILPASS_MAX_REQUEST_BYTES = 64 * 1024 * 1024
    payload = {
        **VALID,
        "subject": "s" * limits.MAX_SUBJECT_CHARS,
        "cc": [f"c{i}@example.com" for i in range(limits.MAX_RECIPIENTS - 1)],
        "tags": [f"t{i}" for i in range(limits.MAX_TAGS)],
        "metadata": {f"k{i}": "v" for i in range(limits.MAX_METADATA_KEYS)},
    }

    response = api.post("/api/v1/mail/send", payload, format="json")

    assert response.status_code == 200, response.json()
    assert len(sink.received[0].rcpt_tos) == limits.MAX_RECIPIENTS
