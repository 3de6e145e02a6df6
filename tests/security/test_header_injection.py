"""Suite 4, header injection: no request can add a header or a recipient to a message.

Every field that ends up in a mail header (to, cc, bcc, reply_to, from_email, from_name,
subject, tags, metadata keys, custom header names and values, attachment filenames, types
and content ids; batch items and the batch-wide from_email/from_name too) is
tried with every line separator a mail or HTTP stack might split on, at the start, in the
middle and at the end of the value, carrying an "X-Injected: yes" or "Bcc: …" payload: each
is a 400 VALIDATION_ERROR naming the field. What the API must accept (encoded words and
percent-encoding that must stay text, display names with quotes, commas and angle brackets,
tabs, non-ASCII) goes through the real SMTP sink, by /send and through the queue, and every
received message is read back: only our own headers, each once, no raw CR/LF/NUL in a
header line, no line over 998 bytes, the envelope recipients exactly those given, and each
header decoding (RFC 2047, only where encoded words are allowed) to exactly what was sent.

Webhook endpoints: a separator in the URL (the request line and Host header of every POST
to it) or the description is a 400 too, and the POST carries our headers only.

The `headers` field takes X- headers and a short allowlist only: every header MailPass
writes itself, or that would change recipients or structure, is a 400 (test_custom_headers).
"""

import email.utils
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, transaction
from rest_framework.test import APIClient

from api import drain, webhook_sender
from api.models import Message, WebhookEndpoint
from api.services import template_create
from providers.models import SenderDomain
from providers.services import provider_update
from tests.factories import make_api_key
from tests.security import figures
from tests.smtp_sink import Received
from tests.webhook_receiver import WebhookReceiver

SUITE = "04 header injection"

VALID = {"to": "user@example.com", "subject": "Hello", "text": "Hello"}
PROVIDER_FROM = "sender@example.com"  # tests.factories.make_provider's sender

SEPARATORS = {
    "CR": "\r",
    "LF": "\n",
    "CRLF": "\r\n",
    "CRLFCRLF": "\r\n\r\n",  # ends the header block: the rest would be body
    "NUL": "\x00",
    "VT": "\x0b",
    "FF": "\x0c",
    "FS": "\x1c",  # VT to PS: line breaks to str.splitlines(), so to some parsers
    "GS": "\x1d",
    "RS": "\x1e",
    "NEL": "\x85",
    "LS": "\u2028",
    "PS": "\u2029",
}
PAYLOADS = ("X-Injected: yes", "Bcc: evil@example.com")
POSITIONS = ("start", "middle", "end")

# A valid value of each header-bound field (for the list fields, of one entry).
TEXT_FIELDS = {"subject": "Hello", "from_name": "App", "tags": "tag"}
ADDRESS_FIELDS = {
    "to": "user@example.com",
    "from_email": "app@example.com",
    "reply_to": "reply@example.com",
    "cc": "cc@example.com",
    "bcc": "bcc@example.com",
}
LIST_FIELDS = {"cc", "bcc", "tags"}
# Fields of the headers and attachments objects: (field the error names, base value).
NESTED_FIELDS = {
    "header-value": ("headers", "value"),
    "header-name": ("headers", "X-Name"),
    "filename": ("attachments", "invoice.pdf"),
    "content_type": ("attachments", "application/pdf"),
    "content_id": ("attachments", "logo"),
}
HEADER_FIELDS = [*TEXT_FIELDS, *ADDRESS_FIELDS, "metadata", *NESTED_FIELDS]

# The headers render() writes; anything else in a received message was injected.
OUR_HEADERS = {
    "from",
    "to",
    "cc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}
_HEADER_NAME = re.compile(rb"^([!-9;-~]+):")


def place(base: str, separator: str, payload: str, position: str) -> str:
    return {
        "start": f"{separator}{payload} {base}",
        "middle": f"{base}{separator}{payload}",
        "end": f"{base} {payload}{separator}",  # a trailing break: an empty line ends headers
    }[position]


def with_value(name: str, value: str) -> dict[str, Any]:
    """The request fields that put `value` into field `name` (lists keep a good entry first)."""
    if name == "metadata":
        return {"metadata": {"ok": 1, value: "v"}}
    if name == "header-value":
        return {"headers": {"X-Ok": "1", "X-Custom": value}}
    if name == "header-name":
        return {"headers": {"X-Ok": "1", value: "v"}}
    if name in NESTED_FIELDS:
        attachment = {"filename": "a.pdf", "content": "aGk=", name: value}
        return {"attachments": [{"filename": "ok.txt", "content": "aGk="}, attachment]}
    if name in LIST_FIELDS:
        good = TEXT_FIELDS.get(name) or ADDRESS_FIELDS[name]
        return {name: [good, value]}
    return {name: value}


def injected_values(base: str) -> Iterator[tuple[str, str]]:
    for sep_name, separator in SEPARATORS.items():
        for payload in PAYLOADS:
            for position in POSITIONS:
                yield (
                    f"{sep_name}/{position}/{payload[:3]}",
                    place(base, separator, payload, position),
                )


def injection_cases() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(case id, field, request fields) for every field x separator x position x payload."""
    for name in HEADER_FIELDS:
        if name in NESTED_FIELDS:
            named, base = NESTED_FIELDS[name]
        else:
            named = name
            base = "key" if name == "metadata" else TEXT_FIELDS.get(name) or ADDRESS_FIELDS[name]
        for case_id, value in injected_values(base):
            yield f"{name}/{case_id}", named, with_value(name, value)


def envelope_ok(error: dict[str, Any], name: str) -> bool:
    return (
        error.get("code") == "VALIDATION_ERROR"
        and isinstance(error.get("message"), str)
        and isinstance(error.get("details"), dict)
        and name in error["details"]
    )


@pytest.fixture
def unthrottled(settings):
    # Thousands of requests with one key: the per-key rate is suite 8's subject, not this.
    settings.MAILPASS_API_RATE_LIMIT = "1000000/min"


@pytest.mark.django_db
def test_every_separator_in_every_header_field_of_send_is_a_400(api, provider, sink, unthrottled):
    failures, cases = [], 0
    for case_id, name, fields in injection_cases():
        cases += 1
        response = api.post("/api/v1/mail/send", {**VALID, **fields}, format="json")
        body = response.json()
        if response.status_code != 400 or body.get("success") is not False:
            failures.append(f"/send {case_id}: {response.status_code} {body}")
        elif not envelope_ok(body["error"], name):
            failures.append(f"/send {case_id}: {body}")
    failures += [f"/send: the sink received {r.data[:200]!r}" for r in sink.received]
    if Message.objects.exists():
        failures.append(f"/send: {Message.objects.count()} messages were recorded")

    figures.check(SUITE, cases=cases, failures=failures)


@pytest.mark.django_db
def test_every_separator_in_every_header_field_of_a_batch_item_fails_that_item(
    api, provider, sink, unthrottled
):
    failures, cases = [], 0
    all_cases = list(injection_cases())
    for start in range(0, len(all_cases), 100):
        chunk = all_cases[start : start + 100]
        messages = [{**VALID, **fields} for _, _, fields in chunk]
        response = api.post("/api/v1/mail/send-batch", {"messages": messages}, format="json")
        cases += len(chunk)
        if response.status_code != 200:
            failures.append(f"batch: {response.status_code} {response.content[:300]!r}")
            continue
        data = response.json()["data"]
        if data["queued"] != 0 or len(data["messages"]) != len(chunk):
            failures.append(f"batch: queued {data['queued']} of {len(chunk)} injected items")
        for (case_id, name, _), item in zip(chunk, data["messages"], strict=False):
            if item.get("status") != "failed" or not envelope_ok(item.get("error", {}), name):
                failures.append(f"batch item {case_id}: {item}")
    if Message.objects.exists():
        failures.append(f"batch: {Message.objects.count()} messages were recorded")

    figures.check(SUITE, cases=cases, failures=failures)


@pytest.mark.django_db
def test_every_separator_in_the_batch_wide_sender_is_a_400(api, provider, unthrottled):
    failures, cases = [], 0
    for name in ("from_email", "from_name"):
        for case_id, value in injected_values(ADDRESS_FIELDS.get(name) or TEXT_FIELDS[name]):
            cases += 1
            payload = {"messages": [VALID], name: value}
            response = api.post("/api/v1/mail/send-batch", payload, format="json")
            body = response.json()
            if response.status_code != 400 or not envelope_ok(body.get("error", {}), name):
                failures.append(f"batch-wide {name} {case_id}: {response.status_code} {body}")
    if Message.objects.exists():
        failures.append(f"batch-wide: {Message.objects.count()} messages were recorded")

    figures.check(SUITE, cases=cases, failures=failures)


# Address smuggling without a line break: display names, lists, encoded words, spaces.
SMUGGLED_ADDRESSES = [
    '"Evil" <evil@example.com>',
    "User <user@example.com>",
    "user@example.com, evil@example.com",
    "user@example.com;evil@example.com",
    "user@example.com evil@example.com",
    "user@example.com\tBcc: evil@example.com",
    "<evil@example.com>",
    "user@example.com>, <evil@example.com",
    "=?utf-8?q?evil=0D=0ABcc=3A_evil=40example=2Ecom?=@example.com",
    "=?utf-8?b?DQpYLUluamVjdGVkOiB5ZXM=?=@example.com",
    "=?UTF-8?Q?a=0A?=@example.com",
]


@pytest.mark.django_db
def test_address_fields_refuse_display_names_lists_and_encoded_words(
    api, provider, sink, unthrottled
):
    failures, cases = [], 0
    for name in ADDRESS_FIELDS:
        for value in SMUGGLED_ADDRESSES:
            cases += 1
            response = api.post(
                "/api/v1/mail/send", {**VALID, **with_value(name, value)}, format="json"
            )
            body = response.json()
            if response.status_code != 400 or not envelope_ok(body.get("error", {}), name):
                failures.append(f"{name}={value!r}: {response.status_code} {body}")
    if sink.received or Message.objects.exists():
        failures.append(f"{len(sink.received)} messages reached the sink")

    figures.check(SUITE, cases=cases, failures=failures)


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["send", "batch item", "batch"])
def test_header_fields_other_than_headers_are_unknown_and_refused_not_passed_on(
    api, provider, sink, where
):
    # `headers` is a field of a message (/send, a batch item), not of the batch envelope.
    unknown = ("Headers", "extra_headers", "X-Injected", "Bcc", "bcc ")
    failures, cases = [], 0
    for name in ("headers", *unknown) if where == "batch" else unknown:
        cases += 1
        value = {"X-Injected": "yes"} if "eader" in name else "yes"
        if where == "send":
            response = api.post("/api/v1/mail/send", {**VALID, name: value}, format="json")
            error = response.json().get("error", {})
            ok = response.status_code == 400
        elif where == "batch item":
            payload = {"messages": [{**VALID, name: value}]}
            response = api.post("/api/v1/mail/send-batch", payload, format="json")
            error = response.json()["data"]["messages"][0].get("error", {})
            ok = response.status_code == 200
        else:
            payload = {"messages": [VALID], name: value}
            response = api.post("/api/v1/mail/send-batch", payload, format="json")
            error = response.json().get("error", {})
            ok = response.status_code == 400
        if not ok or error.get("details", {}).get(name) != ["Unknown field."]:
            failures.append(f"{where} {name!r}: {response.status_code} {response.content!r}")
    if sink.received or Message.objects.exists():
        failures.append(f"{where}: something was recorded or sent")

    figures.check(SUITE, cases=cases, failures=failures)


# --- What the API accepts, read back from the sink ---------------------------------------

HOSTILE_TEXT = [
    "=?utf-8?q?Hi=0D=0AX-Injected=3A_yes?=",
    "=?utf-8?b?SGkNClgtSW5qZWN0ZWQ6IHllcw==?=",
    "=?UTF-8?Q?=0A?= =?UTF-8?Q?Bcc=3A_evil=40example=2Ecom?=",
    "Hi%0d%0aX-Injected:%20yes",
    "Hi%0D%0ABcc:%20evil@example.com",
    "Hi&#13;&#10;X-Injected: yes",
    "Hi\\r\\nX-Injected: yes",
    "Hi\tX-Injected: yes",
    '"Evil, Inc." <evil@example.com>, Bcc: evil@example.com',
    'a "quoted\\" name" (comment) <>;:@[]',
    "Grüße, 東京 <evil@example.com> 🙂",
    "  leading and trailing  ",
]
HOSTILE_ADDRESSES = [
    "user%0d%0a@example.com",
    '"evil@example.com>"@example.com',
    '"Bcc:evil@example.com,x"@example.com',
    '"a\\"b"@example.com',
    "user+X-Injected=yes@example.com",
    "o'brien@example.com",
    "user@[127.0.0.1]",
    "x@exämple.com",
]


@dataclass
class Case:
    label: str
    fields: dict[str, Any]
    from_email: str = PROVIDER_FROM
    expected_rcpts: list[str] = field(default_factory=list)


def _wire(address: str) -> str:
    """An address as it goes on the wire: an IDN domain in punycode."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.encode('idna').decode()}" if not domain.isascii() else address


def accepted_cases() -> Iterator[Case]:
    for value in HOSTILE_TEXT:
        yield Case(f"subject={value!r}", {"subject": value})
        yield Case(f"from_name={value!r}", {"from_name": value})
        yield Case(f"tags=[{value!r}]", {"tags": [value]})
        yield Case(f"metadata key {value!r}", {"metadata": {value: value}})
    # Metadata values are not header-bound: line breaks are theirs to keep, never a header's.
    yield Case("metadata value with CRLF", {"metadata": {"k": "a\r\nX-Injected: yes\r\n\r\n"}})
    for address in HOSTILE_ADDRESSES:
        yield Case(f"to={address!r}", {"to": address})
        yield Case(f"cc=[{address!r}]", {"cc": [address]})
        yield Case(f"bcc=[{address!r}]", {"bcc": [address]})
        yield Case(f"reply_to={address!r}", {"reply_to": address})
        yield Case(f"from_email={address!r}", {"from_email": address}, from_email=address)


def build(case: Case) -> Case:
    fields = {**VALID, **case.fields}
    rcpts = [fields["to"], *fields.get("cc", []), *fields.get("bcc", [])]
    return Case(case.label, fields, case.from_email, [_wire(a) for a in rcpts])


def _decoded(value: str) -> str:
    return str(make_header(decode_header(value)))


def violations(received: Received, case: Case) -> list[str]:
    """Everything about a received message that shows an injection or a broken header."""
    found = []
    head, blank, _ = received.data.partition(b"\r\n\r\n")
    if not blank:
        found.append("no empty line after the headers")
    names: list[str] = []
    for line in head.split(b"\r\n"):
        if re.search(rb"[\r\n\x00]", line):
            found.append(f"raw CR/LF/NUL in a header line: {line[:80]!r}")
        if len(line) > 998:
            found.append(f"header line of {len(line)} bytes: {line[:40]!r}")
        if line[:1] in (b" ", b"\t"):
            continue
        match = _HEADER_NAME.match(line)
        if not match:
            found.append(f"not a header line: {line[:80]!r}")
            continue
        names.append(match.group(1).decode().lower())
    counts = Counter(names)
    found += [f"header {name!r} added" for name in counts if name not in OUR_HEADERS]
    found += [f"{n} {name!r} headers" for name, n in counts.items() if n > 1]
    if Counter(received.rcpt_tos) != Counter(case.expected_rcpts):
        found.append(f"envelope recipients {received.rcpt_tos}, sent {case.expected_rcpts}")
    if received.mail_from != _wire(case.from_email):
        found.append(f"envelope sender {received.mail_from!r}, sent {case.from_email!r}")

    # Decode as an RFC 2047 reader would: encoded words in the subject and in display
    # names, never in an address. Each header must say exactly what the request said.
    unfolded = re.sub(rb"\r\n(?=[ \t])", b"", head).decode("ascii", "replace")
    headers = {}
    for line in unfolded.split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.lower()] = value.strip()
    fields = case.fields
    if _decoded(headers.get("subject", "")) != fields["subject"].strip():
        found.append(f"Subject reads {_decoded(headers.get('subject', ''))!r}")
    senders = email.utils.getaddresses([headers.get("from", "")])
    if len(senders) != 1:
        found.append(f"From holds {len(senders)} addresses: {senders}")
    else:
        [(display, sender)] = senders
        expected_name = fields.get("from_name", "Sender").strip()
        if _decoded(display) != expected_name or sender != _wire(case.from_email):
            found.append(f"From reads {_decoded(display)!r} <{sender}>")
    for header, given in (
        ("to", [fields["to"]]),
        ("cc", fields.get("cc", [])),
        ("reply-to", [fields["reply_to"]] if fields.get("reply_to") else []),
    ):
        addresses = [a for _, a in email.utils.getaddresses([headers.get(header, "")]) if a]
        if addresses != [_wire(a) for a in given]:
            found.append(f"{header} reads {addresses}, sent {given}")
    if "bcc" in headers:
        found.append("a Bcc header")
    return found


def _message_id(received: Received) -> str:
    match = re.search(rb"^Message-ID: (<[^>]*>)", received.data, re.MULTILINE)
    return match.group(1).decode() if match else ""


def _check_all(cases: list[Case], received: list[Received], route: str) -> list[str]:
    failures = []
    if len(received) != len(cases):
        failures.append(f"{route}: {len(received)} messages at the sink for {len(cases)} sent")
    for case, message in zip(cases, received, strict=False):
        failures += [f"{route} {case.label}: {problem}" for problem in violations(message, case)]
    return failures


@pytest.mark.django_db(transaction=True)  # the queue claims in a durable transaction
def test_what_the_api_accepts_reaches_the_sink_without_an_injected_header(
    api, provider, sink, unthrottled
):
    cases = [build(case) for case in accepted_cases()]
    failures = []

    for case in cases:
        response = api.post("/api/v1/mail/send", case.fields, format="json")
        if response.status_code != 200:
            failures.append(f"/send {case.label}: {response.status_code} {response.content!r}")
    sent_now = list(sink.received)
    failures += _check_all(cases, sent_now, "/send")
    sink.handler.reset()

    message_ids = []
    for start in range(0, len(cases), 100):
        chunk = cases[start : start + 100]
        payload = {"messages": [case.fields for case in chunk]}
        data = api.post("/api/v1/mail/send-batch", payload, format="json").json()["data"]
        message_ids += [item.get("message_id") for item in data["messages"]]
        if data["queued"] != len(chunk):
            failures.append(f"batch: queued {data['queued']} of {len(chunk)}: {data}")
    drain.process_due()
    # The queue sends over several connections at once: put what arrived in case order.
    order = {message_id: i for i, message_id in enumerate(message_ids)}
    queued = sorted(sink.received, key=lambda r: order.get(_message_id(r), -1))
    failures += _check_all(cases, queued, "queue")

    figures.check(SUITE, cases=2 * len(cases), failures=failures)


# --- Regressions of bugs this suite found -----------------------------------------------


def _send_and_check(api, sink, fields: dict[str, Any], from_email: str = PROVIDER_FROM):
    """/send `fields`; a list of what went wrong: a 5xx, or violations at the sink."""
    case = build(Case(repr(fields), fields, from_email))
    sink.handler.reset()
    response = api.post("/api/v1/mail/send", case.fields, format="json")
    if response.status_code >= 500:
        return [f"{case.label}: {response.status_code} {response.content[:300]!r}"]
    if response.status_code != 200:
        return []  # refused: nothing can have been injected
    return [f"{case.label}: {problem}" for m in sink.received for problem in violations(m, case)]


@pytest.mark.django_db
def test_a_long_non_ascii_sender_name_is_folded_within_998_bytes(api, provider, sink):
    names = ["🙂" * 200, "東京" * 100, "ü" * 200, "a" * 200]
    failures = []
    for value in names:
        failures += _send_and_check(api, sink, {"from_name": value})

    figures.check(SUITE, cases=len(names), failures=failures)


@pytest.mark.django_db
def test_a_providers_default_sender_cannot_inject_a_header(api, provider, sink):
    """The provider's from_name/from_email fill in what a request leaves out: they are
    header-bound too. provider_update is what the dashboard form and the command call."""
    values = [
        ("from_name", place("App", separator, payload, "middle"))
        for separator in SEPARATORS.values()
        for payload in PAYLOADS
    ]
    values += [("from_email", "=?utf-8?q?a=0D=0AX-Injected=3A_yes?=@example.com")]
    failures = []
    for name, value in values:
        try:
            with transaction.atomic():
                provider_update(provider=provider, **{"from_name": "Sender", name: value})
        except (ValidationError, DataError):
            continue  # refused (PostgreSQL refuses a NUL in text as a DataError): fine
        sender = value if name == "from_email" else PROVIDER_FROM
        case = build(Case(f"provider {name}={value!r}", {}, sender))
        sink.handler.reset()
        response = api.post("/api/v1/mail/send", case.fields, format="json")
        if response.status_code >= 500:
            failures.append(f"{case.label}: {response.status_code}")
            continue
        for message in sink.received:
            problems = violations(message, case)
            # The display name is the provider's: only injection shows here, not its text.
            problems = [p for p in problems if not p.startswith("From reads")]
            failures += [f"{case.label}: {problem}" for problem in problems]
        provider_update(provider=provider, from_name="Sender", from_email=PROVIDER_FROM)

    figures.check(SUITE, cases=len(values), failures=failures)


@pytest.mark.django_db
def test_every_separator_a_template_or_its_variables_bring_into_the_subject_is_a_400(
    account, api, provider, sink, unthrottled
):
    """A template's subject is a header too: every separator is refused when the template
    is saved, and when a variable brings it in, /send and a batch item are refused with the
    error under template.subject, before anything is recorded."""
    template_create(
        account=account,
        data={"alias": "hello", "name": "Hello", "subject": "Hi {{name}}", "text": "Hello"},
    )
    _, secret = make_api_key(account, permissions=["templates"])
    editor = APIClient()
    editor.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    failures, cases = [], 0
    for case_id, value in injected_values("Hello"):
        cases += 3
        saved = editor.post(
            "/api/v1/templates",
            {"name": "x", "alias": "x", "subject": value, "text": "t"},
            format="json",
        )
        if saved.status_code != 400 or not envelope_ok(saved.json()["error"], "subject"):
            failures.append(f"template subject {case_id}: {saved.status_code} {saved.json()}")
        template = {"alias": "hello", "variables": {"name": value}}
        sent = api.post(
            "/api/v1/mail/send", {"to": "user@example.com", "template": template}, format="json"
        )
        # Refused as the subject it would make, or (NUL) as a variable jsonb cannot store.
        refused = {"subject", "variables"}
        details = sent.json().get("error", {}).get("details", {})
        if sent.status_code != 400 or not refused & set(details.get("template", {})):
            failures.append(f"/send template {case_id}: {sent.status_code} {sent.json()}")
        batch = api.post(
            "/api/v1/mail/send-batch",
            {"messages": [{"to": "user@example.com", "template": template}]},
            format="json",
        ).json()["data"]
        [item] = batch["messages"]
        if item["status"] != "failed" or not refused & set(item["error"]["details"]["template"]):
            failures.append(f"batch template {case_id}: {item}")
    failures += [f"template: the sink received {r.data[:200]!r}" for r in sink.received]
    if Message.objects.exists():
        failures.append(f"template: {Message.objects.count()} messages were recorded")

    figures.check(SUITE, cases=cases, failures=failures)


def test_every_separator_in_a_webhook_endpoint_is_a_400_and_the_post_carries_our_headers_only(
    account, unthrottled
):
    # The URL becomes the request line and the Host header of every POST to the endpoint;
    # the description is shown in lists. Neither may carry a line break anywhere.
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {make_api_key(account, permissions=['webhooks'])[1]}"
    )
    failures, cases = [], 0
    with WebhookReceiver() as receiver:
        for name, base in (("url", receiver.url), ("description", "App")):
            for case_id, value in injected_values(base):
                cases += 1
                body = {"url": receiver.url, name: value}
                response = api.post("/api/v1/webhooks", body, format="json")
                answer = response.json()
                if response.status_code != 400 or not envelope_ok(answer["error"], name):
                    failures.append(f"{name} {case_id}: {response.status_code} {answer}")
        created = api.post("/api/v1/webhooks", {"url": receiver.url}, format="json").json()
        api.post(f"/api/v1/webhooks/{created['data']['webhook']['id']}/test")
        webhook_sender.process_due(threads=1)
    cases += 1
    [request] = receiver.requests
    ours = {"host", "accept-encoding", "content-length", "content-type", "user-agent"}
    ours |= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    if set(request.headers) != ours:
        failures.append(f"the POST carried {sorted(request.headers)}")
    if WebhookEndpoint.objects.count() != 1:
        failures.append(f"{WebhookEndpoint.objects.count() - 1} hostile endpoints were saved")

    figures.check(SUITE, cases=cases, failures=failures)


def test_every_separator_in_a_sender_domain_is_a_400(account, unthrottled):
    # The name becomes the d= of every DKIM-Signature header and the DNS names MailPass asks
    # for: a line break in it would be a header of its own.
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {make_api_key(account, permissions=['domains'])[1]}"
    )
    failures, cases = [], 0
    for case_id, value in injected_values("example.com"):
        cases += 1
        response = api.post("/api/v1/domains", {"name": value}, format="json")
        answer = response.json()
        if response.status_code != 400 or not envelope_ok(answer["error"], "name"):
            failures.append(f"name {case_id}: {response.status_code} {answer}")
    if SenderDomain.objects.exists():
        failures.append(f"{SenderDomain.objects.count()} hostile domains were saved")

    figures.check(SUITE, cases=cases, failures=failures)
