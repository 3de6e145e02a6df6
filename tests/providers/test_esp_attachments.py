"""Attachments, custom headers and one-click unsubscribe through each ESP kind, end to end:
POST /api/v1/mail/send (and the queue) with the ESP provider as the account's default, then
what the loopback fake of that ESP's API received, in the ESP's own field names and byte for
byte. And the size limit: a message larger than the provider takes never reaches it."""

import base64
from email.message import EmailMessage
from typing import Any

import pytest

from api import drain
from api.models import Message
from api.unsubscribe import unsubscribe_url
from providers.selectors import provider_get_default
from providers.services import provider_delete, provider_update
from tests.factories import make_attachment, make_esp_provider
from tests.providers.esp_servers import ESP_KINDS, EspServer, FormFile, Recorded

pytestmark = pytest.mark.django_db

# Binary: every byte value, NULs, a lone CR, a CRLF: any text handling on the way shows.
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\r" + bytes(range(256)) * 40 + b"\x00\n%%EOF\r\n"
PDF_NAME = "Rechnung März.pdf"  # non-ASCII: RFC 2231 in MIME, UTF-8 in JSON and form data
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f1a3a90000000049454e44ae426082"
)
HTML = '<p>Ihre Rechnung liegt bei. <img src="cid:logo" alt="Logo"></p>'
SENDER = "shop@example.com"
RCPT = "rcpt@example.com"
BIG = 8_000_000  # decoded bytes: about 11 MB in base64, over Postmark's 10 MB


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


INVOICE = {"filename": PDF_NAME, "content": b64(PDF)}  # content type guessed: application/pdf
LOGO = {"filename": "logo.png", "content": b64(PNG), "content_type": "image/png"}


def item(**fields: Any) -> dict[str, Any]:
    """A message with a file, an inline image, a custom header and one-click unsubscribe."""
    return {
        "to": RCPT,
        "from_email": SENDER,
        "subject": "Ihre Rechnung",
        "text": "Ihre Rechnung liegt bei.",
        "html": HTML,
        "attachments": [INVOICE, {**LOGO, "content_id": "logo"}],
        "headers": {"X-Order": "42"},
        "unsubscribe": True,
        **fields,
    }


@pytest.fixture
def default_esp(account, esp_server):
    """start(kind) → the running fake of that ESP, whose provider is the account's default."""

    def start(kind: str) -> EspServer:
        server = esp_server(kind)
        make_esp_provider(account, kind, name=kind, is_default=True)
        return server

    return start


def send(api, **fields: Any) -> Message:
    """POST item(**fields) to /send, which must answer that it was sent."""
    response = api.post("/api/v1/mail/send", item(**fields), format="json")
    body = response.json()
    assert (response.status_code, body["data"]["status"]) == (200, "sent"), body
    return Message.objects.get(message_id=body["data"]["message_id"])


def the_request(server: EspServer) -> Recorded:
    [request] = server.requests
    assert request.method == "POST"
    return request


def added_headers(message: Message) -> dict[str, str]:
    """The caller's header and MailPass's RFC 8058 pair, as every ESP must receive them."""
    return {
        "X-Order": "42",
        "List-Unsubscribe": f"<{unsubscribe_url(message.pk)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def decoded(attachments: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """JSON attachments with their base64 `field` decoded, to compare bytes with bytes."""
    return [{**a, field: base64.b64decode(a[field], validate=True)} for a in attachments]


# --- each ESP, through /send -------------------------------------------------------------------


def test_sendgrid_receives_the_file_the_inline_image_and_the_headers(api, default_esp):
    server = default_esp("sendgrid")

    message = send(api)

    body = the_request(server).body
    assert decoded(body["attachments"], "content") == [
        {"content": PDF, "type": "application/pdf", "filename": PDF_NAME},
        {
            "content": PNG,
            "type": "image/png",
            "filename": "logo.png",
            "disposition": "inline",
            "content_id": "logo",
        },
    ]
    assert body["content"][-1] == {"type": "text/html", "value": HTML}
    assert body["headers"] == {"Message-ID": message.message_id, **added_headers(message)}


def test_mailgun_receives_the_files_as_form_data_the_inline_one_named_by_its_content_id(
    api, default_esp
):
    server = default_esp("mailgun")

    message = send(api)

    request = the_request(server)
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    form = request.body
    assert form["attachment"] == [FormFile(PDF_NAME, "application/pdf", PDF)]
    # Mailgun makes an "inline" file's name its Content-ID: cid:logo finds it by that name.
    assert form["inline"] == [FormFile("logo", "image/png", PNG)]
    assert form["html"] == [HTML]
    for name, value in {"Message-Id": message.message_id, **added_headers(message)}.items():
        assert form[f"h:{name}"] == [value], name


def test_postmark_receives_the_attachments_with_a_cid_content_id_and_the_headers(api, default_esp):
    server = default_esp("postmark")

    message = send(api)

    body = the_request(server).body
    assert decoded(body["Attachments"], "Content") == [
        {"Name": PDF_NAME, "Content": PDF, "ContentType": "application/pdf"},
        {"Name": "logo.png", "Content": PNG, "ContentType": "image/png", "ContentID": "cid:logo"},
    ]
    assert body["HtmlBody"] == HTML
    headers = {header["Name"]: header["Value"] for header in body["Headers"]}
    assert len(headers) == len(body["Headers"])  # each once
    assert headers == {"Message-ID": message.message_id, **added_headers(message)}


def test_resend_receives_the_attachments_the_inline_one_with_its_content_id(api, default_esp):
    server = default_esp("resend")

    message = send(api)

    body = the_request(server).body
    assert decoded(body["attachments"], "content") == [
        {"content": PDF, "filename": PDF_NAME, "content_type": "application/pdf"},
        {"content": PNG, "filename": "logo.png", "content_type": "image/png", "content_id": "logo"},
    ]
    assert body["html"] == HTML
    expected = {"Message-ID": message.message_id, **added_headers(message)}
    assert {name: body["headers"].get(name) for name in expected} == expected


def test_brevo_receives_a_file_by_name_and_content_and_the_headers(api, default_esp):
    server = default_esp("brevo")

    message = send(api, attachments=[INVOICE])

    body = the_request(server).body
    # Brevo's attachment has no content type: Brevo takes it from the file name.
    assert decoded(body["attachment"], "content") == [{"name": PDF_NAME, "content": PDF}]
    expected = {"Message-ID": message.message_id, **added_headers(message)}
    assert {name: body["headers"].get(name) for name in expected} == expected


def test_brevo_cannot_send_an_inline_image_so_send_refuses_it_before_anything(api, default_esp):
    # Brevo's API has no inline attachments (anymail would refuse them as unsupported), so
    # a Brevo default provider makes them a 400, as a message too large for it is.
    server = default_esp("brevo")

    response = api.post("/api/v1/mail/send", item(), format="json")

    assert_refused_unsent(
        response,
        server,
        "attachments",
        "Brevo cannot send inline attachments (a content_id): attach them normally.",
    )


def test_brevo_cannot_send_a_non_ascii_header_so_send_refuses_it_before_anything(api, default_esp):
    # Brevo would send it as raw 8-bit UTF-8, so anymail refuses it. The API allows
    # non-ASCII in X- headers: the other kinds carry it.
    server = default_esp("brevo")
    payload = item(attachments=[INVOICE], headers={"X-Greeting": "Grüße"})

    response = api.post("/api/v1/mail/send", payload, format="json")

    assert_refused_unsent(
        response, server, "headers", "Brevo cannot send headers with characters beyond ASCII."
    )


def test_a_queued_inline_image_skips_brevo_for_a_fallback_that_can_send_it(
    api, account, default_esp, esp_server
):
    brevo = default_esp("brevo")
    resend_server = esp_server("resend")
    resend = make_esp_provider(account, "resend", name="Resend")
    provider_update(provider=provider_get_default(account=account), fallbacks=[resend.pk])
    payload = {"messages": [item(attachments=[INVOICE])]}
    assert api.post("/api/v1/mail/send-batch", payload, format="json").json()["data"]["queued"] == 1
    # The logo joins it as if it had been queued before Brevo became the default.
    logo = {"filename": "logo.png", "data": PNG, "content_type": "image/png", "content_id": "logo"}
    make_attachment(Message.objects.get(), **logo)
    message = Message.objects.get()

    drain.process_due()

    message.refresh_from_db()
    assert (message.status, message.error_message) == (Message.Status.SENT, None)
    assert message.provider == resend
    assert brevo.requests == [] and len(resend_server.requests) == 1


def assert_refused_unsent(response, server: EspServer, field: str, reason: str) -> None:
    """/send answered VALIDATION_ERROR with `reason` on `field`; nothing was recorded, and
    the ESP heard nothing."""
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["details"]) == ("VALIDATION_ERROR", {field: [reason]})
    assert not Message.objects.exists()
    assert server.requests == []


def test_amazon_ses_receives_the_raw_mime_with_both_parts_and_the_headers(api, default_esp):
    server = default_esp("amazon_ses")

    message = send(api)

    request = the_request(server)
    raw = base64.b64decode(request.body["Content"]["Raw"]["Data"])
    assert raw.isascii()  # 7-bit clean: the file in base64, its name per RFC 2231
    mime = request.mime()
    files = [part for part in mime.walk() if part.get_filename() is not None]
    assert [described(part) for part in files] == [
        (PDF_NAME, "application/pdf", "attachment", None, PDF),
        ("logo.png", "image/png", "inline", "<logo>", PNG),
    ]
    assert mime.get_body(("html",)).get_content() == HTML
    for name, value in {"Message-ID": message.message_id, **added_headers(message)}.items():
        assert mime.get_all(name) == [value], name


def described(part: EmailMessage) -> tuple[str | None, str, str | None, str | None, bytes]:
    return (
        part.get_filename(),
        part.get_content_type(),
        part.get_content_disposition(),
        part["Content-ID"],
        payload_of(part),
    )


def payload_of(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


# --- through the queue ----------------------------------------------------------------------


def test_a_queued_message_reaches_mailgun_with_its_files_and_headers_byte_exact(api, default_esp):
    server = default_esp("mailgun")

    response = api.post("/api/v1/mail/send-batch", {"messages": [item()]}, format="json")
    assert response.json()["data"]["queued"] == 1
    assert server.requests == []  # queued, not sent

    assert drain.process_due().sent == 1

    message = Message.objects.get()
    assert message.status == Message.Status.SENT
    form = the_request(server).body
    assert form["attachment"] == [FormFile(PDF_NAME, "application/pdf", PDF)]
    assert form["inline"] == [FormFile("logo", "image/png", PNG)]
    for name, value in added_headers(message).items():
        assert form[f"h:{name}"] == [value], name


# --- larger than the provider takes ---------------------------------------------------------

POSTMARK_REFUSAL = (
    "The message takes about 11.0 MB as sent, attachments encoded; Postmark accepts at most 10 MB."
)


def big(**fields: Any) -> dict[str, Any]:
    return item(attachments=[{"filename": "scan.pdf", "content": b64(b"%" * BIG)}], **fields)


def test_send_refuses_a_message_larger_than_postmark_takes_and_postmark_hears_nothing(
    api, default_esp
):
    server = default_esp("postmark")

    response = api.post("/api/v1/mail/send", big(), format="json")

    assert (response.status_code, response.json()) == (
        400,
        {
            "success": False,
            "error": {
                "code": "VALIDATION_ERROR",
                "message": "Invalid request: attachments.",
                "details": {"attachments": [POSTMARK_REFUSAL]},
            },
        },
    )
    assert server.requests == []
    assert not Message.objects.exists()


def test_a_batch_item_larger_than_postmark_takes_fails_alone_and_never_reaches_it(api, default_esp):
    server = default_esp("postmark")
    small = item(attachments=[INVOICE])

    data = api.post("/api/v1/mail/send-batch", {"messages": [small, big()]}, format="json").json()

    assert (data["data"]["queued"], data["data"]["failed"]) == (1, 1)
    refused = data["data"]["messages"][1]
    assert refused["status"] == "failed"
    assert refused["error"]["code"] == "VALIDATION_ERROR"
    assert refused["error"]["details"] == {"attachments": [POSTMARK_REFUSAL]}
    assert server.requests == []

    assert drain.process_due().sent == 1
    [request] = server.requests  # the small one only
    assert decoded(request.body["Attachments"], "Content")[0]["Content"] == PDF


def queued_big_for_sendgrid_then_postmark_default(account, esp_server, api) -> Message:
    """A big message queued while SendGrid (30 MB) was the default; then the account makes
    Postmark (10 MB) its default and deletes SendGrid, so the queue sends it to Postmark."""
    sendgrid = make_esp_provider(account, "sendgrid", name="SendGrid", is_default=True)
    response = api.post("/api/v1/mail/send-batch", {"messages": [big()]}, format="json")
    assert response.json()["data"]["queued"] == 1
    make_esp_provider(account, "postmark", name="Postmark", is_default=True)
    provider_delete(provider=sendgrid)
    return Message.objects.get()


def test_a_queued_message_too_big_for_the_provider_at_delivery_fails_without_contacting_it(
    api, account, esp_server
):
    sendgrid, postmark = esp_server("sendgrid"), esp_server("postmark")
    message = queued_big_for_sendgrid_then_postmark_default(account, esp_server, api)

    stats = drain.process_due()

    assert (stats.claimed, stats.failed, stats.sent) == (1, 1, 0)
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.error_message == POSTMARK_REFUSAL
    assert postmark.requests == [] and sendgrid.requests == []


def test_a_queued_message_too_big_for_its_provider_goes_out_through_a_fallback_that_takes_it(
    api, account, esp_server
):
    sendgrid, postmark = esp_server("sendgrid"), esp_server("postmark")
    message = queued_big_for_sendgrid_then_postmark_default(account, esp_server, api)
    resend = make_esp_provider(account, "resend", name="Resend")
    resend_server = esp_server("resend")
    provider_update(provider=provider_get_default(account=account), fallbacks=[resend.pk])

    assert drain.process_due().sent == 1

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert postmark.requests == [] and sendgrid.requests == []
    [request] = resend_server.requests
    [scan] = decoded(request.body["attachments"], "content")
    assert (scan["filename"], scan["content"]) == ("scan.pdf", b"%" * BIG)


# --- what MailPass hands anymail, and anymail then changes or refuses --------------------------

# A spreadsheet export as Windows writes it: not UTF-8, and no charset in its type.
CSV = "Datum;Betrag;Notiz\r\n01.03.;12,50 €;März\r\n".encode("cp1252")
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


def files_received(kind: str, request: Recorded) -> list[tuple[str, str | None, bytes]]:
    """(filename, content type or None where the ESP has no such field, bytes) of each
    file in what `kind`'s fake received, in each ESP's own fields."""
    body = request.body
    if kind == "amazon_ses":
        parts = [part for part in request.mime().walk() if part.get_filename() is not None]
        return [
            (part.get_filename() or "", part["Content-Type"], payload_of(part)) for part in parts
        ]
    if kind == "mailgun":
        return [(f.filename, f.content_type, f.content) for f in body.get("attachment", [])]
    fields = {
        "sendgrid": ("attachments", "filename", "type", "content"),
        "postmark": ("Attachments", "Name", "ContentType", "Content"),
        "resend": ("attachments", "filename", "content_type", "content"),
        "brevo": ("attachment", "name", None, "content"),
    }
    files, name, content_type, content = fields[kind]
    return [
        (a[name], a[content_type] if content_type else None, base64.b64decode(a[content]))
        for a in body[files]
    ]


@pytest.mark.parametrize("kind", ESP_KINDS)
def test_a_text_attachment_that_is_not_utf8_reaches_each_esp_byte_exact(api, default_esp, kind):
    # anymail decodes a text/* file as UTF-8 unless told its charset: MailPass hands such a
    # file over as application/octet-stream (api.emails._type_for_anymail), byte for byte.
    server = default_esp(kind)
    report = {"filename": "Umsätze März.csv", "content": b64(CSV)}  # type guessed: text/csv

    response = api.post("/api/v1/mail/send", item(attachments=[report]), format="json")

    if kind == "resend":
        # Resend drops a message whose file's type does not match its extension, so
        # anymail refuses it: a clear failure, nothing sent.
        assert response.status_code == 500
        assert "application/octet-stream with name 'Umsätze März.csv'" in str(response.json())
        assert server.requests == []
        return
    assert response.status_code == 200, response.json()
    [(filename, _, content)] = files_received(kind, the_request(server))
    assert (filename, content) == ("Umsätze März.csv", CSV)


@pytest.mark.parametrize(
    "kind",
    [
        *("sendgrid", "mailgun", "postmark", "resend"),
        "amazon_ses",  # the raw MIME, as MailPass built it
        # Brevo's attachments have no content type: Brevo takes it from the name.
    ],
)
def test_a_calendar_invitation_keeps_its_method_parameter_at_each_esp(api, default_esp, kind):
    server = default_esp(kind)
    invite = {"filename": "invite.ics", "content": b64(ICS)}
    invite["content_type"] = "text/calendar; method=REQUEST"

    send(api, attachments=[invite])

    [(filename, content_type, content)] = files_received(kind, the_request(server))
    assert (filename, content) == ("invite.ics", ICS)
    header = EmailMessage()
    header["Content-Type"] = content_type
    assert (header.get_content_type(), header.get_param("method")) == ("text/calendar", "REQUEST")


@pytest.mark.parametrize(
    ("kind", "names"), [("resend", {"x-tags", "x-metadata"}), ("amazon_ses", {"x-metadata"})]
)
def test_a_message_without_tags_or_metadata_carries_no_empty_tag_or_metadata_headers(
    api, default_esp, kind, names
):
    server = default_esp(kind)

    send(api)

    request = the_request(server)
    if kind == "amazon_ses":
        sent = {name.lower() for name in request.mime().keys()}
    else:
        sent = {name.lower() for name in request.body["headers"]}
    assert sent & names == set()
