"""Suite 8, resource limits: nothing a client sends can make the server read, parse or hold
more than it allows, answer a 5xx, or take long.

- A body over MAILPASS_MAX_REQUEST_BYTES is a 413 PAYLOAD_TOO_LARGE before a byte of it is
  read, on every POST endpoint, whatever it holds and whatever its Content-Length claims;
  a Content-Length under the truth reads no more than it says.
- Per key, the API answers RATE_LIMITED (429, Retry-After) past MAILPASS_API_RATE_LIMIT,
  and every counted answer carries RateLimit-Limit/-Remaining/-Reset.
- Deep or huge JSON (1,000-deep metadata, a body nested 100,000 deep, 10,000 metadata keys,
  5,000 recipients, 2 MB in one header-bound field) is a 400 in under two seconds.
"""

import base64
import io
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test.client import ClientHandler, RequestFactory
from rest_framework.parsers import JSONParser
from rest_framework.test import APIClient

from api import webhooks
from api.models import Message
from api.parsers import MAX_JSON_DEPTH
from tests import factories
from tests.security import figures

SUITE = "08 resource limits"

pytestmark = pytest.mark.django_db

VALID = {"to": "user@example.com", "subject": "Hello", "text": "Hello"}
MB = 1024 * 1024
SECONDS_PER_REQUEST = 2.0  # "fast": generous for a loaded 2-core machine


class Body(io.RawIOBase):
    """A request body that counts what is read from it; with `explode`, reading any of it
    is an error, which proves the server refused the request without touching the body."""

    def __init__(self, data: bytes = b"", *, explode: bool = False):
        self.data, self.explode, self.bytes_read = data, explode, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.explode:
            raise AssertionError("the body was read")
        chunk = self.data[self.bytes_read : self.bytes_read + len(buffer)]
        buffer[: len(chunk)] = chunk
        self.bytes_read += len(chunk)
        return len(chunk)


def raw_request(
    path: str,
    body: Body,
    *,
    content_length: str | None,
    content_type: str = "application/json",
    key: str | None = None,
    **headers: str,
):
    """POST through the whole Django stack (middleware, handlers) with a hand-made WSGI
    environ: a Content-Length that lies, or none at all as a server gives for a chunked
    body (gunicorn decodes the chunks into wsgi.input and sets no CONTENT_LENGTH)."""
    environ = RequestFactory()._base_environ(
        PATH_INFO=path,
        REQUEST_METHOD="POST",
        CONTENT_TYPE=content_type,
        **{"wsgi.input": body},
        **({"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}),
        **headers,
    )
    environ.pop("CONTENT_LENGTH", None)
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    return ClientHandler(enforce_csrf_checks=False)(environ)


def error_of(response) -> dict[str, Any] | None:
    """The `error` of a well-formed failure envelope, else None."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if not (
        response["Content-Type"].startswith("application/json")
        and body.get("success") is False
        and isinstance(body.get("error", {}).get("message"), str)
        and isinstance(body["error"].get("details"), dict)
    ):
        return None
    return body["error"]


@pytest.fixture
def small_limit(settings):
    """A 64 KB limit, so over-limit bodies are cheap; Django's own limit (the dashboard's
    and the webhooks' bodies) follows it as settings.py has it."""
    settings.MAILPASS_MAX_REQUEST_BYTES = 64 * 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    return 64 * 1024


@pytest.fixture
def api_secret(api_key) -> str:
    return api_key[1]


API_POSTS = ["/api/v1/mail/send", "/api/v1/mail/send-batch", "/api/v1/suppressions"]


def over_limit_bodies(limit: int) -> list[tuple[str, bytes, str]]:
    """(label, body, content type) a little over `limit` bytes."""
    valid = json.dumps({**VALID, "text": "x" * limit}).encode()
    return [
        ("valid JSON", valid, "application/json"),
        ("not JSON at all", b"\xff\xfe<html>" + b"\x00" * limit, "application/json"),
        ("JSON with a charset", valid, "application/json; charset=utf-8"),
        ("deeply nested", b"[" * (limit + 1), "application/json"),
    ]


def test_bodies_over_the_limit_are_413_before_a_byte_is_read_on_every_api_post(
    api_secret, provider, sink, small_limit, monkeypatch
):
    parsed = []
    original_parse = JSONParser.parse
    monkeypatch.setattr(
        JSONParser, "parse", lambda *a, **kw: parsed.append(1) or original_parse(*a, **kw)
    )
    failures, cases = [], 0
    for path in API_POSTS:
        for label, data, content_type in over_limit_bodies(small_limit):
            # The true length, and then the same claim with a body that must not be read.
            for body in (Body(data), Body(explode=True)):
                cases += 1
                response = raw_request(
                    path,
                    body,
                    content_length=str(len(data)),
                    content_type=content_type,
                    key=api_secret,
                )
                error = error_of(response)
                if response.status_code != 413 or not error or error["code"] != "PAYLOAD_TOO_LARGE":
                    failures.append(f"{path} {label}: {response.status_code} {response.content}")
                if body.bytes_read:
                    failures.append(f"{path} {label}: {body.bytes_read} bytes read")
    if parsed:
        failures.append(f"the JSON parser ran {len(parsed)} times")
    if sink.received or Message.objects.exists():
        failures.append("something was recorded or sent")

    figures.check(SUITE, cases=cases, failures=failures)


def test_the_limit_itself_is_accepted_and_one_byte_more_is_not(api, provider, sink, small_limit):
    payload = json.dumps({**VALID, "text": "x"}).encode()
    at_limit = payload[:-1] + b" " * (small_limit - len(payload)) + b"}"
    assert len(at_limit) == small_limit

    accepted = api.generic("POST", "/api/v1/mail/send", at_limit, "application/json")
    refused = api.generic("POST", "/api/v1/mail/send", at_limit + b" ", "application/json")

    figures.record(
        SUITE, cases=2, failures=(accepted.status_code != 200) + (refused.status_code != 413)
    )
    assert accepted.status_code == 200, accepted.content
    assert refused.status_code == 413
    assert error_of(refused)["details"] == {}
    assert len(sink.received) == 1


def test_lying_or_broken_content_lengths_never_read_past_the_claim_or_5xx(
    api_secret, provider, sink, small_limit
):
    big = json.dumps({**VALID, "text": "x" * (4 * small_limit)}).encode()
    # (label, body, claimed length, expected status, most bytes it may read)
    cases_: list[tuple[str, Body, str, int, int]] = [
        (
            "claims 10 GB, sends 9 bytes",
            Body(b'{"to": 1}', explode=True),
            str(10 * 1024**3),
            413,
            0,
        ),
        ("claims limit+1, sends nothing", Body(explode=True), str(small_limit + 1), 413, 0),
        ("claims 20 digits", Body(explode=True), "9" * 20, 413, 0),
        ("claims 100, sends 256 KB", Body(big), "100", 400, 100),
        ("claims 0, sends 256 KB", Body(big), "0", 400, 0),
        ("claims -1, sends 256 KB", Body(big), "-1", 400, 0),
        ("claims 'abc', sends 256 KB", Body(big), "abc", 400, 0),
        ("claims 1e9, sends 256 KB", Body(big), "1e9", 400, 0),
        ("claims more than it sends", Body(b'{"to": "a@b.co"}'), "5000", 400, 5000),
    ]
    failures = []
    for path in API_POSTS:
        for label, body, length, status, most in cases_:
            body.bytes_read = 0
            response = raw_request(path, body, content_length=length, key=api_secret)
            error = error_of(response)
            if response.status_code != status or error is None:
                failures.append(f"{path} {label}: {response.status_code} {response.content}")
            if body.bytes_read > most:
                failures.append(f"{path} {label}: read {body.bytes_read} bytes, at most {most}")
    if sink.received or Message.objects.exists():
        failures.append("something was recorded or sent")

    figures.check(SUITE, cases=len(API_POSTS) * len(cases_), failures=failures)


def test_unauthenticated_and_non_json_bodies_over_the_limit_are_refused_unread(
    provider, small_limit
):
    # No key: 401 before the body. A media type we do not parse: 415 before the body.
    failures, cases = [], 0
    for path in API_POSTS:
        for key, content_type, status in [
            (None, "application/json", 401),
            ("mp_live_wrong", "application/json", 401),
            (None, "text/plain", 401),
        ]:
            cases += 1
            body = Body(explode=True)
            response = raw_request(
                path, body, content_length=str(50 * MB), content_type=content_type, key=key
            )
            if response.status_code != status or error_of(response) is None:
                failures.append(f"{path} key={key} {content_type}: {response.status_code}")
    _, secret = factories.make_api_key(provider.account)
    for path in API_POSTS:
        for content_type in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ):
            cases += 1
            body = Body(explode=True)
            response = raw_request(
                path, body, content_length=str(50 * MB), content_type=content_type, key=secret
            )
            # Refused for its type before its size (415), which is as good: nothing is read.
            error = error_of(response)
            if response.status_code not in (413, 415) or error is None:
                failures.append(f"{path} {content_type}: {response.status_code} {response.content}")

    figures.check(SUITE, cases=cases, failures=failures)


def test_posts_outside_the_api_over_the_limit_are_refused_unread_and_never_5xx(
    account, small_limit
):
    """Webhooks and the dashboard's forms read bodies through Django, whose own limit
    (DATA_UPLOAD_MAX_MEMORY_SIZE, set to the same figure) refuses them as a 400."""
    hook = {"webhook_secret": "user:pass", "webhook_signing_key": "k"}
    token = webhooks.webhook_token(
        factories.make_esp_provider(account, "mailgun", credentials=hook)
    )
    basic = "Basic dXNlcjpwYXNz"  # user:pass
    failures, cases = [], 0
    for path, content_type, extra in [
        (f"/webhooks/{token}", "application/json", {"HTTP_AUTHORIZATION": basic}),
        (f"/webhooks/{token}", "application/x-www-form-urlencoded", {"HTTP_AUTHORIZATION": basic}),
        ("/webhooks/unknown-token", "application/json", {}),
        ("/accounts/login/", "application/x-www-form-urlencoded", {}),
        ("/signup/", "application/x-www-form-urlencoded", {}),
        ("/api/v1/mail/status/x", "application/json", {}),
        ("/api/v1/health", "application/json", {}),
        ("/api/v1/no-such-endpoint", "application/json", {}),
    ]:
        cases += 1
        body = Body(explode=True)
        response = raw_request(
            path, body, content_length=str(50 * MB), content_type=content_type, **extra
        )
        if not 400 <= response.status_code < 500 or body.bytes_read:
            failures.append(
                f"{path} {content_type}: {response.status_code}, read {body.bytes_read}"
            )

    figures.check(SUITE, cases=cases, failures=failures)


def test_a_chunked_body_without_content_length_is_never_read_past_the_limit_nor_5xx(
    api_secret, provider, sink, small_limit
):
    failures, cases = [], 0
    for path in API_POSTS:
        for data in (
            b"x" * (4 * small_limit),
            json.dumps({**VALID, "text": "x" * 4 * small_limit}).encode(),
        ):
            cases += 1
            body = Body(data)
            response = raw_request(
                path, body, content_length=None, key=api_secret, HTTP_TRANSFER_ENCODING="chunked"
            )
            if response.status_code >= 500 or error_of(response) is None:
                failures.append(f"{path}: {response.status_code} {response.content}")
            if body.bytes_read > small_limit + 1:
                failures.append(f"{path}: read {body.bytes_read} bytes of a chunked body")
    if sink.received or Message.objects.exists():
        failures.append("something was recorded or sent")

    figures.check(SUITE, cases=cases, failures=failures)


def test_a_chunked_body_over_the_limit_is_413_and_under_it_is_processed(
    api_secret, provider, sink, small_limit
):
    over = Body(json.dumps({**VALID, "text": "x" * 4 * small_limit}).encode())
    under = Body(json.dumps(VALID).encode())
    chunked = {"content_length": None, "key": api_secret, "HTTP_TRANSFER_ENCODING": "chunked"}

    refused = raw_request("/api/v1/mail/send", over, **chunked)
    accepted = raw_request("/api/v1/mail/send", under, **chunked)

    failures = (refused.status_code != 413) + (accepted.status_code != 200)
    figures.record(SUITE, cases=2, failures=failures)
    assert refused.status_code == 413, refused.content
    assert over.bytes_read <= small_limit + 1
    assert accepted.status_code == 200, accepted.content


# --- Per-key throttling -------------------------------------------------------------------

T0 = 1_900_000_000.0  # a fixed instant; the throttle's clock is time.time


def ratelimit(response) -> tuple[str | None, str | None, str | None]:
    return (
        response.get("RateLimit-Limit"),
        response.get("RateLimit-Remaining"),
        response.get("RateLimit-Reset"),
    )


def test_the_sixth_request_of_five_a_minute_is_rate_limited_and_headers_count_down(
    api, provider, outsider_api, account, settings
):
    settings.MAILPASS_API_RATE_LIMIT = "5/min"
    requests: list[Callable[[], Any]] = [
        lambda: api.get("/api/v1/mail/status/unknown"),
        lambda: api.get("/api/v1/suppressions"),
        lambda: api.post("/api/v1/mail/send", {"to": "not an address"}, format="json"),
        lambda: api.post("/api/v1/suppressions", {"email": "x@example.com"}, format="json"),
        lambda: api.generic("POST", "/api/v1/mail/send-batch", b"{bad json", "application/json"),
    ]
    failures = []
    with time_machine.travel(T0, tick=False):
        for i, request in enumerate(requests):
            response = request()
            if ratelimit(response) != ("5", str(4 - i), "60"):
                failures.append(f"request {i + 1}: {response.status_code} {ratelimit(response)}")
        sixth = api.post("/api/v1/mail/send", VALID, format="json")
        other_account = outsider_api.get("/api/v1/mail/status/unknown")
        _, second_secret = factories.make_api_key(account)
        second_key = APIClient()
        second_key.credentials(HTTP_AUTHORIZATION=f"Bearer {second_secret}")
        same_account_other_key = second_key.get("/api/v1/mail/status/unknown")

    error = error_of(sixth)
    if sixth.status_code != 429 or not error or error["code"] != "RATE_LIMITED":
        failures.append(f"6th: {sixth.status_code} {sixth.content}")
    elif error["details"] != {"retry_after": 60}:
        failures.append(f"6th details: {error['details']}")
    if sixth.get("Retry-After") != "60" or ratelimit(sixth) != ("5", "0", "60"):
        failures.append(f"6th headers: {sixth.get('Retry-After')} {ratelimit(sixth)}")
    for label, response in [("outsider", other_account), ("2nd key", same_account_other_key)]:
        if response.status_code != 404 or ratelimit(response) != ("5", "4", "60"):
            failures.append(f"{label}: {response.status_code} {ratelimit(response)}")
    if Message.objects.exists():
        failures.append("the refused /send recorded a message")

    figures.check(SUITE, cases=8, failures=failures)


def test_the_window_slides_and_reset_and_retry_after_say_when_room_comes_back(api, settings):
    settings.MAILPASS_API_RATE_LIMIT = "5/min"
    seen = []
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(5):  # t = 0, 10, 20, 30, 40
            seen.append(ratelimit(api.get("/api/v1/mail/status/x")))
            clock.shift(10)
        refused = api.get("/api/v1/mail/status/x")  # t=50: the request at t=0 leaves at 60
        clock.shift(10.5)
        again = api.get("/api/v1/mail/status/x")  # t=60.5: the window holds t=10..40 + this

    failures = []
    expected = [("5", str(4 - i), str(60 - 10 * i)) for i in range(5)]
    if seen != expected:
        failures.append(f"t=0..40: {seen}, expected {expected}")
    if refused.status_code != 429 or refused.get("Retry-After") != "10":
        failures.append(f"t=50: {refused.status_code} Retry-After {refused.get('Retry-After')}")
    if ratelimit(refused) != ("5", "0", "10"):
        failures.append(f"t=50: {ratelimit(refused)}")
    if again.status_code != 404 or ratelimit(again) != ("5", "0", "10"):
        failures.append(f"t=60.5: {again.status_code} {ratelimit(again)}")

    figures.check(SUITE, cases=7, failures=failures)


def test_a_rate_lowered_mid_window_still_answers_retry_after(api, settings):
    # DRF's own wait() is None when the history is longer than the new rate: a 429 without
    # Retry-After. Ours is the time until enough requests leave the window.
    settings.MAILPASS_API_RATE_LIMIT = "10/min"
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(6):  # t = 0..50
            api.get("/api/v1/mail/status/x")
            clock.shift(10)
        settings.MAILPASS_API_RATE_LIMIT = "2/min"
        response = api.get("/api/v1/mail/status/x")  # t=60: t=10..50 in the window

    # Room for one more once all but one of t=10..50 have left: t=40 leaves at t=100.
    ok = response.status_code == 429 and response.get("Retry-After") == "40"
    figures.record(SUITE, cases=1, failures=0 if ok else 1)
    assert (response.status_code, response.get("Retry-After")) == (429, "40")
    assert ratelimit(response) == ("2", "0", "40")


def test_a_burst_gets_exactly_the_rate_and_every_refusal_says_when_to_retry(api, settings):
    settings.MAILPASS_API_RATE_LIMIT = "20/min"
    failures, answers = [], []
    with time_machine.travel(T0, tick=False):
        for i in range(60):
            response = api.get("/api/v1/mail/status/x")
            answers.append(response.status_code)
            error = error_of(response)
            if response.status_code == 429 and (
                not error
                or error["code"] != "RATE_LIMITED"
                or response.get("Retry-After") != "60"
                or ratelimit(response) != ("20", "0", "60")
            ):
                failures.append(f"request {i + 1}: {response.content} {ratelimit(response)}")
    if answers != [404] * 20 + [429] * 40:
        failures.append(f"answers: {answers}")

    figures.check(SUITE, cases=60, failures=failures)


def test_a_throttled_key_is_refused_before_its_body_is_read(api_secret, provider, settings):
    settings.MAILPASS_API_RATE_LIMIT = "1/min"
    with time_machine.travel(T0, tick=False):
        APIClient(HTTP_AUTHORIZATION=f"Bearer {api_secret}").get("/api/v1/mail/status/x")
        results = []
        for path in API_POSTS:
            body = Body(explode=True)
            response = raw_request(path, body, content_length="1000", key=api_secret)
            results.append((path, response.status_code, body.bytes_read))

    bad = [r for r in results if r[1:] != (429, 0)]
    figures.check(SUITE, cases=len(results), failures=bad)


def test_answers_without_a_valid_key_carry_no_ratelimit_headers_and_are_not_counted(
    api, provider, settings
):
    settings.MAILPASS_API_RATE_LIMIT = "2/min"
    anonymous = APIClient()
    wrong = APIClient(HTTP_AUTHORIZATION="Bearer mp_live_not-a-key")
    with time_machine.travel(T0, tick=False):
        answers = [anonymous.get("/api/v1/mail/status/x") for _ in range(3)]
        answers += [wrong.post("/api/v1/mail/send", VALID, format="json") for _ in range(3)]
        health = anonymous.get("/api/v1/health")
        counted = api.get("/api/v1/mail/status/x")

    failures = [
        f"{r.status_code} {ratelimit(r)}"
        for r in answers
        if r.status_code != 401 or ratelimit(r) != (None, None, None)
    ]
    if health.status_code != 200 or ratelimit(health) != (None, None, None):
        failures.append(f"health: {health.status_code} {ratelimit(health)}")
    if ratelimit(counted) != ("2", "1", "60"):
        failures.append(f"first counted request: {ratelimit(counted)}")

    figures.check(SUITE, cases=len(answers) + 2, failures=failures)


# --- Deep and huge input ------------------------------------------------------------------


def nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def huge_cases() -> list[tuple[str, str, bytes, dict[str, str], int]]:
    """(label, path, body, extra headers, expected status); every one is a 400 unless said."""
    two_mb = "x" * (2 * MB)
    address = "a" * (2 * MB) + "@example.com"
    many = [f"r{i}@example.com" for i in range(5000)]

    def send(**fields: Any) -> bytes:
        return json.dumps({**VALID, **fields}).encode()

    def batch(**fields: Any) -> bytes:
        return json.dumps({"messages": [VALID], **fields}).encode()

    def file(**fields: str) -> dict[str, str]:
        return {"filename": "a.pdf", "content": "aGk=", **fields}

    send_path, batch_path, suppressions = API_POSTS
    cases = [
        (
            "metadata nested 1,000 deep",
            send_path,
            (
                '{"to": "a@example.com", "subject": "s", "text": "t", "metadata": '
                + nested_object(1000)
                + "}"
            ).encode(),
            {},
            400,
        ),
        (
            "metadata nested 1,000 deep in a batch item",
            batch_path,
            (
                '{"messages": [{"to": "a@example.com", "subject": "s", "text": "t", "metadata": '
                + nested_object(1000)
                + "}]}"
            ).encode(),
            {},
            400,
        ),
        (
            f"a batch item nested {MAX_JSON_DEPTH + 1} deep",
            batch_path,
            ('{"messages": [' + nested_object(MAX_JSON_DEPTH - 1) + "]}").encode(),
            {},
            400,
        ),
        (
            "metadata with 10,000 keys",
            send_path,
            send(metadata={f"k{i}": i for i in range(10_000)}),
            {},
            400,
        ),
        ("metadata with a 2 MB key", send_path, send(metadata={two_mb: 1}), {}, 400),
        ("metadata with a 2 MB value", send_path, send(metadata={"k": two_mb}), {}, 400),
        ("5,000 cc", send_path, send(cc=many), {}, 400),
        ("5,000 bcc", send_path, send(bcc=many), {}, 400),
        ("2,500 cc + 2,500 bcc", send_path, send(cc=many[:2500], bcc=many[2500:]), {}, 400),
        ("5,000 to", send_path, send(to=many), {}, 400),
        ("5,000 tags", send_path, send(tags=[f"t{i}" for i in range(5000)]), {}, 400),
        (
            "5,000 batch messages",
            batch_path,
            json.dumps({"messages": [VALID] * 5000}).encode(),
            {},
            400,
        ),
        ("2 MB subject", send_path, send(subject=two_mb), {}, 400),
        ("2 MB from_name", send_path, send(from_name=two_mb), {}, 400),
        ("2 MB tag", send_path, send(tags=[two_mb]), {}, 400),
        ("2 MB to", send_path, send(to=address), {}, 400),
        ("2 MB cc", send_path, send(cc=[address]), {}, 400),
        ("2 MB from_email", send_path, send(from_email=address), {}, 400),
        ("2 MB reply_to", send_path, send(reply_to=address), {}, 400),
        ("2 MB encoded-word-like to", send_path, send(to="=?" * MB + "@example.com"), {}, 400),
        ("2 MB batch-wide from_name", batch_path, batch(from_name=two_mb), {}, 400),
        ("2 MB batch-wide from_email", batch_path, batch(from_email=address), {}, 400),
        ("2 MB suppression email", suppressions, json.dumps({"email": address}).encode(), {}, 400),
        (
            "2 MB suppression description",
            suppressions,
            json.dumps({"email": "a@example.com", "description": two_mb}).encode(),
            {},
            400,
        ),
        ("2 MB unknown field name", send_path, send(**{two_mb: 1}), {}, 400),
        ("2 MB Idempotency-Key", send_path, send(), {"HTTP_IDEMPOTENCY_KEY": two_mb}, 400),
        ("2 MB attachment filename", send_path, send(attachments=[file(filename=two_mb)]), {}, 400),
        ("2 MB content_type", send_path, send(attachments=[file(content_type=two_mb)]), {}, 400),
        ("2 MB content_id", send_path, send(attachments=[file(content_id=two_mb)]), {}, 400),
        ("10,000 attachments", send_path, send(attachments=[file()] * 10_000), {}, 400),
        (
            "10,000 headers",
            send_path,
            send(headers={f"X-{i}": "v" for i in range(10_000)}),
            {},
            400,
        ),
        ("2 MB header name", send_path, send(headers={"X-" + two_mb: "v"}), {}, 400),
        ("2 MB header value", send_path, send(headers={"X-A": two_mb}), {}, 400),
        (
            "attachments over their limit, within the body limit",
            send_path,
            send(attachments=[file(content=base64.b64encode(b"x" * (21 * MB)).decode())]),
            {},
            400,
        ),
        (
            "a body over MAILPASS_MAX_REQUEST_BYTES",
            send_path,
            send(text="x" * settings.MAILPASS_MAX_REQUEST_BYTES),
            {},
            413,
        ),
    ]
    for path in API_POSTS:
        cases += [
            ("array nested 100,000 deep", path, b"[" * 100_000 + b"]" * 100_000, {}, 400),
            ("object nested 100,000 deep", path, nested_object(100_000).encode(), {}, 400),
            ("unclosed, 1,000,000 deep", path, b"[" * 1_000_000, {}, 400),
        ]
    return cases


def test_deep_or_huge_input_is_a_quick_400_never_a_5xx(api, provider, sink):
    failures, cases = [], huge_cases()
    for label, path, body, headers, status in cases:
        started = time.perf_counter()
        response = api.generic("POST", path, body, "application/json", **headers)
        seconds = time.perf_counter() - started
        error = error_of(response)
        if path.endswith("send-batch") and response.status_code == 200:
            # A batch reports a bad item as failed and the batch as a 200.
            items = response.json()["data"]["messages"]
            if status == 400 and all(i["error"]["code"] == "VALIDATION_ERROR" for i in items):
                continue
        if response.status_code != status or error is None:
            failures.append(f"{label} to {path}: {response.status_code} {response.content[:200]}")
        elif error["code"] != ("VALIDATION_ERROR" if status == 400 else "PAYLOAD_TOO_LARGE"):
            failures.append(f"{label} to {path}: {error}")
        if seconds > SECONDS_PER_REQUEST:
            failures.append(f"{label} to {path}: {seconds:.1f} s")
    if sink.received or Message.objects.exists():
        failures.append("something was recorded or sent")

    figures.check(SUITE, cases=len(cases), failures=failures)


def test_a_2_mb_authorization_header_is_a_401(provider):
    client = APIClient(HTTP_AUTHORIZATION="Bearer mp_live_" + "x" * (2 * MB))
    started = time.perf_counter()
    response = client.post("/api/v1/mail/send", VALID, format="json")
    seconds = time.perf_counter() - started

    ok = response.status_code == 401 and seconds < SECONDS_PER_REQUEST
    figures.record(SUITE, cases=1, failures=0 if ok else 1)
    assert error_of(response)["code"] == "UNAUTHORIZED"
    assert seconds < SECONDS_PER_REQUEST


def test_nesting_up_to_the_limit_still_parses(api, provider):
    # The depth limit is far above any valid request: this one is refused for its metadata
    # value (an object), not as malformed JSON.
    body = (
        '{"to": "a@example.com", "subject": "s", "text": "t", "metadata": {"k": '
        + nested_object(MAX_JSON_DEPTH - 3)
        + "}}"
    ).encode()

    response = api.generic("POST", "/api/v1/mail/send", body, "application/json")

    figures.record(SUITE, cases=1, failures=0 if response.status_code == 400 else 1)
    assert error_of(response)["details"] == {
        "metadata": ["Values must be strings (up to 1000 characters), numbers, booleans or null."]
    }
