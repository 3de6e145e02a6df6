"""The message page's attachments: listed with name, type, size and an inline marker, each
downloadable by the account's members only, always as opaque bytes to save (never shown in
the browser); and the preview shows the inline images its HTML refers to by cid:."""

import base64
import re
from html import unescape

import pytest
from django.test import Client

from api.models import Message
from tests.factories import make_attachment as attach
from tests.factories import make_message
from tests.factories import make_png as png

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 200 + b"\n%%EOF\r\n"  # 51,225 bytes
LOGO = png(3, 2)
HTML_FILE = b"<script>alert(document.cookie)</script>"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def send(api, **fields) -> Message:
    payload = {"to": "user@example.com", "subject": "Your invoice", **fields}
    response = api.post("/api/v1/mail/send", payload, format="json")
    assert response.status_code == 200, response.json()
    return Message.objects.get(message_id=response.json()["data"]["message_id"])


@pytest.fixture
def message(api, provider, sink) -> Message:
    """A sent message with a PDF, an inline logo and an HTML file, as the API stores them."""
    return send(
        api,
        html='<p>Hi <img alt="Logo" src="cid:logo"></p>',
        attachments=[
            {"filename": "invoice.pdf", "content": b64(PDF)},
            {"filename": "logo.png", "content": b64(LOGO), "content_id": "logo"},
            {"filename": "page.html", "content": b64(HTML_FILE), "content_type": "text/html"},
        ],
    )


def section(html: str, heading: str) -> str:
    return html.split(f"<h2>{heading}</h2>")[1].split("</section>")[0]


def download_url(message: Message, position: int) -> str:
    return f"/messages/{message.pk}/attachments/{position}/"


# --- the list --------------------------------------------------------------------------------


def test_the_message_page_lists_each_attachment_with_type_size_and_a_download_link(
    owner_client, message
):
    html = owner_client.get(f"/messages/{message.pk}/").content.decode()

    rows = re.findall(r"<tr>.*?</tr>", section(html, "Attachments"), re.S)[1:]
    assert len(rows) == 3
    pdf_row, logo_row, html_row = (unescape(row) for row in rows)
    assert f'href="{download_url(message, 0)}" download><bdi>invoice.pdf</bdi>' in pdf_row
    assert "<code>application/pdf</code>" in pdf_row
    assert "50.0\xa0KB" in pdf_row  # filesizeformat
    assert "inline" not in pdf_row
    assert f'href="{download_url(message, 1)}"' in logo_row and "logo.png" in logo_row
    assert '<span class="badge" title="cid:logo">inline</span>' in logo_row
    assert f"{len(LOGO)}\xa0bytes" in logo_row
    assert "<code>text/html</code>" in html_row


def test_a_message_without_attachments_has_no_attachments_section(owner_client, account):
    message = make_message(account, html="<p>Hi</p>")

    html = owner_client.get(f"/messages/{message.pk}/").content.decode()

    assert "<h2>Attachments</h2>" not in html


def test_the_page_asks_one_query_for_all_attachments(
    owner_client, message, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12) as queries:
        owner_client.get(f"/messages/{message.pk}/")

    attachment_queries = [q for q in queries.captured_queries if "messageattachment" in q["sql"]]
    assert len(attachment_queries) == 1


# --- the download ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "content", "filename"),
    [(0, PDF, "invoice.pdf"), (1, LOGO, "logo.png"), (2, HTML_FILE, "page.html")],
)
def test_a_download_is_the_stored_bytes_as_a_file_to_save_never_to_show(
    owner_client, message, position, content, filename
):
    response = owner_client.get(download_url(message, position))

    assert response.status_code == 200
    assert response.content == content
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Length"] == str(len(content))
    assert response["X-Frame-Options"] == "DENY"


def test_a_non_ascii_filename_is_sent_per_rfc_5987(owner_client, api, provider, sink):
    message = send(
        api, text="Hi", attachments=[{"filename": "Rechnung März №7.pdf", "content": b64(PDF)}]
    )

    response = owner_client.get(download_url(message, 0))

    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''Rechnung%20M%C3%A4rz%20%E2%84%967.pdf"
    )


@pytest.mark.parametrize(
    ("filename", "header"),
    [
        ('quote".pdf', r'attachment; filename="quote\".pdf"'),
        ("back\\slash.pdf", r'attachment; filename="back\\slash.pdf"'),
        ("line\r\nX-Evil: 1.pdf", "attachment; filename*=utf-8''line%0D%0AX-Evil%3A%201.pdf"),
    ],
)
def test_a_filename_cannot_break_out_of_its_header(owner_client, account, filename, header):
    # Stored directly: the API refuses such names, a row from elsewhere might still have one.
    message = make_message(account)
    attach(message, filename=filename, data=b"x")

    response = owner_client.get(download_url(message, 0))

    assert response["Content-Disposition"] == header
    assert "X-Evil" not in response


def test_the_teammate_downloads_too(teammate, message):
    client = Client()
    client.force_login(teammate)

    assert client.get(download_url(message, 0)).content == PDF


def test_another_accounts_attachment_is_a_404_like_a_missing_one(
    owner_client, message, outsider_account
):
    theirs = make_message(outsider_account)
    attach(theirs, filename="secret.pdf", data=PDF)

    for url in (
        download_url(theirs, 0),
        download_url(message, 3),  # past the message's last attachment
        download_url(Message(pk=987_654), 0),
    ):
        response = owner_client.get(url)
        assert response.status_code == 404, url
        assert PDF not in response.content


def test_a_logged_out_visitor_is_sent_to_log_in(message):
    response = Client().get(download_url(message, 0))

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={download_url(message, 0)}"


def test_a_download_is_read_only(owner_client, message):
    assert owner_client.post(download_url(message, 0)).status_code == 405
    assert owner_client.head(download_url(message, 0)).status_code == 200


# --- the preview -----------------------------------------------------------------------------


def test_the_preview_shows_an_inline_image_as_a_data_uri(owner_client, message):
    response = owner_client.get(f"/messages/{message.pk}/html/")

    expected = f'<img alt="Logo" src="data:image/png;base64,{b64(LOGO)}">'
    assert response.content.decode() == f"<p>Hi {expected}</p>"
    # The sandbox and its policy are as strict as before: data: images and nothing more.
    policy = response["Content-Security-Policy"]
    assert policy == "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    assert message.html == '<p>Hi <img alt="Logo" src="cid:logo"></p>'  # stored as sent


def test_the_preview_leaves_a_cid_that_is_not_a_raster_image_alone(
    owner_client, api, provider, sink
):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    html = '<img src="cid:vector"><img src="cid:file"><img src="cid:nothing">'
    message = send(
        api,
        html=html,
        attachments=[
            {"filename": "v.svg", "content": b64(svg), "content_id": "vector"},
            {"filename": "f.pdf", "content": b64(PDF), "content_id": "file"},
        ],
    )

    assert owner_client.get(f"/messages/{message.pk}/html/").content.decode() == html


def test_the_preview_of_a_message_without_attachments_reads_no_attachments(
    owner_client, account, django_assert_num_queries
):
    message = make_message(account, html='<img src="cid:logo">')

    # The session, the user, the membership and the message: nothing about attachments.
    with django_assert_num_queries(4) as queries:
        response = owner_client.get(f"/messages/{message.pk}/html/")

    assert response.content.decode() == '<img src="cid:logo">'
    assert not [q for q in queries.captured_queries if "api_messageattachment" in q["sql"]]
