"""Attachments on /send, on batch items and through the queue: what arrives at the real SMTP
sink (MIME structure and bytes), every refusal as a 400 with nothing sent or stored, the
status answer, and how the files are stored once and deleted when no message needs them."""

import base64
import datetime as dt
import os
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from api import attachments, drain, retention
from api.models import Message, MessageAttachment, StoredFile
from tests.factories import make_esp_provider

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\r\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f1a3a90000000049454e44ae426082"
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pdf(name: str = "invoice.pdf", **fields: str) -> dict[str, str]:
    return {"filename": name, "content": b64(PDF), **fields}


def logo(**fields: str) -> dict[str, str]:
    return {"filename": "logo.png", "content": b64(PNG), "content_id": "logo", **fields}


def send(api, **fields):
    payload = {"to": "user@example.com", "subject": "Your invoice", **fields}
    return api.post("/api/v1/mail/send", payload, format="json")


def structure(part: EmailMessage) -> object:
    """The MIME tree as nested (type, [children]) / type, to compare with what it should be."""
    if part.is_multipart():
        return (part.get_content_type(), [structure(child) for child in part.iter_parts()])
    return part.get_content_type()


def stored_paths(settings) -> list[Path]:
    root = Path(settings.STORAGES["attachments"]["OPTIONS"]["location"])
    return sorted(path for path in root.rglob("*") if path.is_file())


# --- what arrives ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bodies", "files", "expected"),
    [
        (
            {"text": "See attached."},
            [pdf()],
            ("multipart/mixed", ["text/plain", "application/pdf"]),
        ),
        (
            {"html": "<p>See attached.</p>"},
            [pdf()],
            ("multipart/mixed", ["text/html", "application/pdf"]),
        ),
        (
            {"text": "Hi", "html": "<p>Hi</p>"},
            [pdf()],
            (
                "multipart/mixed",
                [("multipart/alternative", ["text/plain", "text/html"]), "application/pdf"],
            ),
        ),
        (
            {"html": '<p>Hi <img src="cid:logo"></p>'},
            [logo()],
            ("multipart/related", ["text/html", "image/png"]),
        ),
        (
            {"text": "Hi", "html": '<p>Hi <img src="cid:logo"></p>'},
            [logo(), pdf()],
            (
                "multipart/mixed",
                [
                    (
                        "multipart/alternative",
                        ["text/plain", ("multipart/related", ["text/html", "image/png"])],
                    ),
                    "application/pdf",
                ],
            ),
        ),
        # An inline image without HTML to show it in still travels, as an inline part.
        ({"text": "Hi"}, [logo()], ("multipart/mixed", ["text/plain", "image/png"])),
    ],
    ids=["text+file", "html+file", "both+file", "html+inline", "both+inline+file", "text+inline"],
)
def test_every_body_combination_has_the_right_mime_structure_and_exact_bytes(
    api, provider, sink, bodies, files, expected
):
    response = send(api, **bodies, attachments=files)

    assert response.status_code == 200, response.json()
    [received] = sink.received
    assert structure(received.message) == expected
    parts = {
        part.get_content_type(): part
        for part in received.message.walk()
        if part.get_content_maintype() in ("application", "image")
    }
    for sent in files:
        part = parts["image/png" if sent["filename"] == "logo.png" else "application/pdf"]
        assert part.get_payload(decode=True) == base64.b64decode(sent["content"])
        assert part.get_filename() == sent["filename"]
        if "content_id" in sent:
            assert part["Content-ID"] == "<logo>"
            assert part.get_content_disposition() == "inline"
        else:
            assert part.get_content_disposition() == "attachment"
    assert all(len(line) <= 998 for line in received.data.split(b"\r\n"))


def test_a_non_ascii_filename_is_encoded_per_rfc_2231_and_reads_back_exactly(api, provider, sink):
    response = send(api, text="Hi", attachments=[pdf("Rechnung März №7.pdf")])

    assert response.status_code == 200
    [received] = sink.received
    assert b"filename*=utf-8''Rechnung%20M%C3%A4rz%20%E2%84%967.pdf" in received.data
    [part] = received.message.iter_attachments()
    assert part.get_filename() == "Rechnung März №7.pdf"


def test_null_content_type_and_content_id_mean_not_given(api, provider, sink):
    response = send(api, text="Hi", attachments=[pdf(content_type=None, content_id=None)])

    assert response.status_code == 200, response.json()
    [part] = sink.received[0].message.iter_attachments()
    assert (part.get_content_type(), part["Content-ID"]) == ("application/pdf", None)


def test_the_content_type_is_guessed_from_the_filename_unless_given(api, provider, sink):
    files = [
        {"filename": "ticket.pdf", "content": b64(PDF)},
        {"filename": "data.unknownext", "content": b64(b"x")},
        {
            "filename": "invite.ics",
            "content": b64(b"BEGIN:VCALENDAR"),
            "content_type": "text/calendar; method=REQUEST",
        },
    ]
    response = send(api, text="Hi", attachments=files)

    assert response.status_code == 200
    [received] = sink.received
    types = [part.get_content_type() for part in received.message.iter_attachments()]
    assert types == ["application/pdf", "application/octet-stream", "text/calendar"]
    assert b"Content-Type: text/calendar; method=REQUEST\r\n" in received.data


def test_a_queued_message_arrives_with_its_attachments(api, provider, sink):
    item = {"to": "user@example.com", "subject": "Hi", "html": '<img src="cid:logo">'}
    payload = {"messages": [{**item, "attachments": [logo(), pdf()]}]}
    assert api.post("/api/v1/mail/send-batch", payload, format="json").status_code == 200

    assert drain.process_due().claimed == 1

    [received] = sink.received
    payloads = sorted(
        p.get_payload(decode=True) for p in received.message.walk() if p.get_filename()
    )
    assert payloads == sorted([PDF, PNG])
    assert Message.objects.get().status == Message.Status.SENT


def test_the_status_answer_lists_attachments_by_name_type_and_size_never_content(
    api, provider, sink
):
    message_id = send(api, text="Hi", attachments=[pdf(), logo()]).json()["data"]["message_id"]

    answer = api.get(f"/api/v1/mail/status/{message_id}").json()["data"]["message"]

    assert answer["attachments"] == [
        {
            "filename": "invoice.pdf",
            "content_type": "application/pdf",
            "size": len(PDF),
            "content_id": None,
        },
        {
            "filename": "logo.png",
            "content_type": "image/png",
            "size": len(PNG),
            "content_id": "logo",
        },
    ]
    assert b64(PDF)[:40] not in str(answer)


def test_a_request_with_15_mib_of_attachments_fits_the_default_body_limit(api, provider, sink):
    big = os.urandom(15 * 1024 * 1024)

    response = send(api, text="Hi", attachments=[{"filename": "scan.tiff", "content": b64(big)}])

    assert response.status_code == 200, response.content[:300]
    [part] = sink.received[0].message.iter_attachments()
    assert part.get_payload(decode=True) == big


# --- refusals: a 400 naming the attachment and the rule, nothing sent, nothing stored ----------


REFUSED = {
    "21 attachments": ([pdf(f"f{i}.pdf") for i in range(21)], None, "20"),
    "path separator": ([pdf("../etc/passwd.pdf")], "filename", "/"),
    "backslash": ([pdf("..\\boot.ini")], "filename", "/"),
    "dot dot": ([pdf("..")], "filename", "dot"),
    "control character": ([pdf("a\tb.pdf")], "filename", "control"),
    "right-to-left override": ([pdf("invoice\u202efdp.exe")], "filename", "control"),
    "encoded word": ([pdf("=?utf-8?q?a.exe?=.pdf")], "filename", "=?"),
    "trailing dot": ([pdf("setup.exe.")], "filename", "dot"),
    "leading space": ([pdf(" a.pdf")], "filename", "space"),
    "empty name": ([pdf("")], "filename", "blank"),
    "exe": ([pdf("setup.exe")], "filename", ".exe"),
    "upper-case JS": ([pdf("run.JS")], "filename", ".js"),
    "double extension": ([pdf("invoice.pdf.scr")], "filename", ".scr"),
    "invalid base64": ([{"filename": "a.pdf", "content": "not base64!"}], "content", "base64"),
    "missing padding": ([{"filename": "a.pdf", "content": "aGk"}], "content", "base64"),
    "url-safe base64": ([{"filename": "a.pdf", "content": "__--"}], "content", "base64"),
    "empty file": ([{"filename": "a.pdf", "content": ""}], "content", "blank"),
    "bad type": ([pdf(content_type="pdf")], "content_type", "MIME type"),
    "multipart type": ([pdf(content_type="multipart/mixed")], "content_type", "multipart"),
    "header in type": (
        [pdf(content_type="text/plain\r\nBcc: x@example.com")],
        "content_type",
        "MIME",
    ),
    "angle brackets in content_id": ([logo(content_id="<logo>")], "content_id", "without <>"),
    "same content_id twice": ([logo(), logo()], None, "once"),
    "unknown field": ([pdf(disposition="inline")], "disposition", "Unknown"),
    "missing content": ([{"filename": "a.pdf"}], "content", "required"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_each_refused_attachment_is_a_400_with_nothing_sent_or_stored(
    api, provider, sink, settings, case
):
    files, field, words = REFUSED[case]

    response = send(api, text="Hi", attachments=files)

    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    details = error["details"]["attachments"]
    if field is None:
        assert words in str(details)
    else:
        [(index, problems)] = [(k, v) for k, v in details.items()]
        assert index == str(len(files) - 1)  # the attachment is named by its place
        assert words.lower() in str(problems[field]).lower(), problems
    assert sink.received == []
    assert not Message.objects.exists()
    assert not StoredFile.objects.exists() and stored_paths(settings) == []


def test_attachments_over_the_total_size_are_a_400(api, provider, sink, settings):
    settings.MAILPASS_MAX_ATTACHMENT_BYTES = 2048
    files = [pdf("a.pdf", content=b64(b"a" * 1500)), pdf("b.pdf", content=b64(b"b" * 1000))]

    response = send(api, text="Hi", attachments=files)

    assert response.status_code == 400
    assert "2.0" in str(response.json()["error"]["details"]["attachments"])  # "2.0 KB in all"
    assert sink.received == [] and not StoredFile.objects.exists()


def test_a_message_larger_than_the_default_provider_takes_is_a_400_before_contacting_it(
    api, account, sink, settings
):
    # Postmark takes 10 MB as sent: 8 MB of attachments is more than that in base64.
    make_esp_provider(account, "postmark", is_default=True)
    files = [{"filename": "scan.pdf", "content": b64(b"%" * 8_000_000)}]

    response = send(api, text="Hi", from_email="shop@example.com", attachments=files)

    assert response.status_code == 400
    problem = str(response.json()["error"]["details"]["attachments"])
    assert (
        "takes about 11.0 MB as sent, attachments encoded; Postmark accepts at most 10 MB"
        in problem
    )
    assert not Message.objects.exists() and stored_paths(settings) == []


def test_a_batch_item_larger_than_the_default_provider_takes_fails_alone(api, account, settings):
    make_esp_provider(account, "postmark", is_default=True)
    small = {"to": "a@example.com", "subject": "Hi", "text": "Hi", "attachments": [pdf()]}
    small["from_email"] = "shop@example.com"
    big = {**small, "attachments": [{"filename": "scan.pdf", "content": b64(b"%" * 8_000_000)}]}

    data = api.post("/api/v1/mail/send-batch", {"messages": [small, big]}, format="json").json()

    assert (data["data"]["queued"], data["data"]["failed"]) == (1, 1)
    assert "Postmark" in str(data["data"]["messages"][1]["error"]["details"]["attachments"])
    assert Message.objects.get().attachment_count == 1
    assert len(stored_paths(settings)) == 1


# --- storage: once per content, deleted when no message refers to it ------------------------


def test_a_batch_of_100_items_with_the_same_pdf_stores_it_once(api, provider, settings):
    item = {"to": "user@example.com", "subject": "Hi", "text": "Hi", "attachments": [pdf()]}

    response = api.post("/api/v1/mail/send-batch", {"messages": [item] * 100}, format="json")

    assert response.json()["data"]["queued"] == 100
    assert StoredFile.objects.count() == 1
    assert MessageAttachment.objects.count() == 100
    [path] = stored_paths(settings)
    assert path.read_bytes() == PDF
    assert path.parent.name == StoredFile.objects.get().sha256[:2]


def test_the_same_file_sent_again_later_reuses_the_stored_copy(api, provider, sink, settings):
    send(api, text="1", attachments=[pdf()])
    send(api, text="2", attachments=[pdf("copy.pdf")])

    assert StoredFile.objects.count() == 1 and len(stored_paths(settings)) == 1
    assert [a.filename for a in MessageAttachment.objects.order_by("id")] == [
        "invoice.pdf",
        "copy.pdf",
    ]


def test_another_account_sending_the_same_file_gets_its_own_copy(
    api, outsider_api, provider, outsider_account, sink, settings
):
    from tests.factories import make_provider

    make_provider(outsider_account, port=sink.port, is_default=True)
    send(api, text="1", attachments=[pdf()])
    send(outsider_api, text="2", attachments=[pdf()])

    assert StoredFile.objects.count() == 2 and len(stored_paths(settings)) == 2


def _age(days: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def test_purge_deletes_old_messages_and_then_only_the_files_no_message_carries(
    api, provider, sink, settings
):
    first = send(api, text="old", attachments=[pdf(), logo()]).json()["data"]["message_id"]
    send(api, text="new", attachments=[pdf()])
    Message.objects.filter(message_id=first).update(created_at=_age(40))
    StoredFile.objects.update(last_used_at=_age(1))

    purged = retention.purge(retention_days=30)

    assert (purged.messages, purged.files) == (1, 1)  # the logo; the PDF is still carried
    assert list(Message.objects.values_list("text", flat=True)) == ["new"]
    [kept] = StoredFile.objects.all()
    assert [p.name.split("-")[0] for p in stored_paths(settings)] == [kept.sha256]


@pytest.mark.parametrize("scheduled", [False, True])
def test_purge_never_deletes_queued_sending_or_scheduled_messages_however_old(
    api, provider, settings, scheduled
):
    item = {"to": "user@example.com", "subject": "Hi", "text": "Hi", "attachments": [pdf()]}
    if scheduled:  # accepted today for 20 days ahead, with a retention of one day
        later = timezone.now() + dt.timedelta(days=20)
        item["scheduled_at"] = later.isoformat()
    api.post("/api/v1/mail/send-batch", {"messages": [item]}, format="json")
    assert Message.objects.get().status == ("scheduled" if scheduled else "queued")
    Message.objects.update(created_at=_age(400))
    StoredFile.objects.update(last_used_at=_age(1))

    assert retention.purge(retention_days=1) == retention.Purged(messages=0, files=0)
    assert len(stored_paths(settings)) == 1


def test_a_file_used_within_the_grace_period_is_kept_even_without_a_message(account, settings):
    attachments.files_store(account=account, contents=[PDF])  # a batch about to commit

    assert retention.purge(retention_days=0).files == 0
    StoredFile.objects.update(last_used_at=_age(1))
    assert retention.purge(retention_days=0).files == 1
    assert stored_paths(settings) == [] and not StoredFile.objects.exists()


def test_purge_deletes_stray_files_in_storage_that_no_row_names(account, settings):
    [stored] = attachments.files_store(account=account, contents=[PDF]).values()
    stray = attachments.storage().save("ab/stray", attachments.ContentFile(b"left over"))
    old = _age(1).timestamp()
    os.utime(attachments.storage().path(stray), (old, old))

    purged = retention.purge(retention_days=0)

    assert purged.files == 1
    assert [p.name for p in stored_paths(settings)] == [stored.name.split("/")[1]]


def test_the_purge_command_uses_the_retention_setting(api, provider, sink, settings, capsys):
    settings.MAILPASS_RETENTION_DAYS = 7
    send(api, text="old", attachments=[pdf()])
    Message.objects.update(created_at=_age(8))
    StoredFile.objects.update(last_used_at=_age(1))

    call_command("purge_messages")

    assert capsys.readouterr().out == (
        "Deleted 1 message(s), 0 webhook event(s), 1 stored file(s) and 0 usage row(s).\n"
    )
    assert stored_paths(settings) == []


def test_deleting_an_account_deletes_its_file_rows_and_purge_then_its_files(
    api, provider, sink, account, settings
):
    send(api, text="Hi", attachments=[pdf()])
    [path] = stored_paths(settings)

    account.delete()
    old = _age(1).timestamp()
    os.utime(path, (old, old))

    assert not StoredFile.objects.exists()
    assert retention.purge(retention_days=0).files == 1
    assert stored_paths(settings) == []
