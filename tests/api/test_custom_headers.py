"""The `headers` field: the allowed headers arrive at the real SMTP sink exactly as given, by
/send and through the queue; every other header, bad name or bad value is a 400 naming it,
with nothing sent or recorded."""

import pytest

from api import drain
from api.models import Message
from api.serializers import MAX_HEADERS, MAX_HEADERS_BYTES

pytestmark = pytest.mark.django_db

ALLOWED = {
    "X-Order-Id": "42",
    "x-lower-case": "kept as written",
    "X-Greeting": "Grüße aus Köln ✓",  # non-ASCII: X- headers only, as encoded words
    "In-Reply-To": "<question.1700000000@shop.example.com>",
    "References": "<a.1@shop.example.com> <b.2@shop.example.com>",
    "List-Id": "Shop receipts <receipts.shop.example.com>",
    "Auto-Submitted": "auto-generated",
    "Precedence": "bulk",
}


def send(api, headers, **fields):
    payload = {"to": "user@example.com", "subject": "Hi", "text": "Hi", "headers": headers}
    return api.post("/api/v1/mail/send", {**payload, **fields}, format="json")


def test_allowed_headers_arrive_exactly_as_given(api, provider, sink):
    response = send(api, ALLOWED)

    assert response.status_code == 200, response.json()
    [received] = sink.received
    for name, value in ALLOWED.items():
        assert received.message.get_all(name) == [value], name
    assert b"\r\nx-lower-case: kept as written\r\n" in received.data


def test_a_long_references_header_is_folded_between_ids_not_encoded(api, provider, sink):
    references = " ".join(f"<{i:04d}.1700000000@shop.example.com>" for i in range(20))

    assert send(api, {"References": references}).status_code == 200

    [received] = sink.received
    assert received.message["References"] == references
    assert b"=?" not in received.data.split(b"\r\n\r\n")[0]
    assert all(len(line) <= 78 for line in received.data.split(b"\r\n\r\n")[0].split(b"\r\n"))


def test_headers_of_a_queued_message_arrive(api, provider, sink):
    item = {"to": "user@example.com", "subject": "Hi", "text": "Hi", "headers": {"X-Batch": "7"}}
    api.post("/api/v1/mail/send-batch", {"messages": [item]}, format="json")

    drain.process_due()

    [received] = sink.received
    assert received.message["X-Batch"] == "7"


REFUSED_NAMES = [
    *("From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "Reply-To", "Sender"),
    *("MIME-Version", "Content-Type", "content-transfer-encoding", "Content-Disposition"),
    *("Received", "Return-Path", "DKIM-Signature", "ARC-Seal", "Resent-To", "Delivered-To"),
    *("Disposition-Notification-To", "Authentication-Results", "BCC", "message-id"),
]


@pytest.mark.parametrize("name", REFUSED_NAMES)
def test_a_header_mailpass_writes_or_that_changes_routing_is_a_400(api, provider, sink, name):
    response = send(api, {"X-Fine": "1", name: "evil@example.com"})

    assert response.status_code == 400
    details = response.json()["error"]["details"]["headers"]
    assert list(details) == [name]
    assert "cannot be set" in details[name][0]
    assert sink.received == [] and not Message.objects.exists()


BAD = {
    "space in name": ({"X Bad": "v"}, "X Bad", "Not a header name"),
    "colon in name": ({"X-Bad:": "v"}, "X-Bad:", "Not a header name"),
    "non-ASCII name": ({"X-Grüße": "v"}, "X-Grüße", "Not a header name"),
    "empty name": ({"": "v"}, "", "Not a header name"),
    "77-character name": ({"X-" + "a" * 75: "v"}, "X-" + "a" * 75, "Not a header name"),
    "CR in value": ({"X-A": "a\rBcc: x@example.com"}, "X-A", "line breaks"),
    "LF in value": ({"X-A": "a\nB: c"}, "X-A", "line breaks"),
    "NUL in value": ({"X-A": "a\x00b"}, "X-A", "line breaks"),
    "empty value": ({"X-A": " "}, "X-A", "empty"),
    "number value": ({"X-A": 42}, "X-A", "string"),
    "999-character value": ({"X-A": "a" * 999}, "X-A", "998"),
    "twice in other case": ({"X-A": "1", "x-a": "2"}, "x-a", "twice"),
    "non-ASCII References": ({"References": "<ä@example.com>"}, "References", "ASCII"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_header_name_or_value_is_a_400_naming_it(api, provider, sink, case):
    headers, named, words = BAD[case]

    response = send(api, headers)

    assert response.status_code == 400
    details = response.json()["error"]["details"]["headers"]
    assert words in details[named][0]
    assert sink.received == [] and not Message.objects.exists()


def test_more_than_50_headers_is_a_400(api, provider, sink):
    headers = {f"X-H{i}": "v" for i in range(MAX_HEADERS + 1)}

    response = send(api, headers)

    assert response.status_code == 400
    assert response.json()["error"]["details"]["headers"] == [f"At most {MAX_HEADERS} headers."]


def test_more_than_16_kib_of_headers_is_a_400(api, provider, sink):
    headers = {f"X-H{i}": "v" * 900 for i in range(20)}  # 18,000+ bytes in all

    response = send(api, headers)

    assert response.status_code == 400
    assert str(MAX_HEADERS_BYTES) in response.json()["error"]["details"]["headers"][0]


@pytest.mark.parametrize("headers", [["X-A: 1"], "X-A: 1", None])
def test_headers_must_be_an_object(api, provider, sink, headers):
    response = send(api, headers)

    if headers is None:  # null means "not given", as for every optional field
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert "object" in response.json()["error"]["details"]["headers"][0]
