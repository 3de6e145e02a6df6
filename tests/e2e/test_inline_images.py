"""A message's inline image (cid: in its HTML) shows in the dashboard's preview, in headless
Chromium: the browser really decodes it inside the sandboxed frame, while a remote image
beside it stays blocked and the sandbox stays as strict as before.

The data is made with the ORM before the browser starts (see the browser fixture)."""

import pytest
from django.urls import reverse

from tests import factories
from tests.e2e.browser import log_in
from tests.factories import make_attachment as attach
from tests.factories import make_png as png

try:
    from playwright.sync_api import expect
except ImportError:  # the conftest skips these tests
    pass

pytestmark = pytest.mark.e2e

USERNAME = "designer"
HTML = (
    '<p>Hello</p><img id="logo" alt="Logo" src="CID:logo@shop.example">'
    '<img id="remote" alt="Remote" src="http://127.0.0.1:1/pixel.png">'
    '<img id="vector" alt="Vector" src="cid:vector">'
)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10"/></svg>'


@pytest.fixture
def message_pk(transactional_db) -> int:
    account = factories.make_account(factories.make_user(USERNAME))
    message = factories.make_message(account, subject="With a logo", html=HTML)
    attach(
        message,
        filename="logo.png",
        data=png(24, 12),
        content_type="image/png",
        content_id="logo@shop.example",
    )
    attach(message, filename="v.svg", data=SVG, content_type="image/svg+xml", content_id="vector")
    return message.pk


def test_an_inline_image_shows_in_the_preview(message_pk, page, live_server, problems):
    log_in(page, USERNAME)
    page.goto(reverse("dashboard:message-detail", args=[message_pk]))
    frame = page.locator("iframe.preview")
    frame.scroll_into_view_if_needed()  # the preview loads lazily
    preview = page.frame_locator("iframe.preview")
    expect(preview.locator("p")).to_have_text("Hello")

    # Decoded: the PNG's own size, 24 by 12 pixels.
    expect(preview.locator("#logo")).to_have_js_property("naturalWidth", 24)
    expect(preview.locator("#logo")).to_have_js_property("naturalHeight", 12)
    # Done loading, without a picture: the remote one blocked by the preview's policy, the
    # SVG never made a data: URI.
    for blocked in ("#remote", "#vector"):
        expect(preview.locator(blocked)).to_have_js_property("complete", True)
        expect(preview.locator(blocked)).to_have_js_property("naturalWidth", 0)
    assert frame.get_attribute("sandbox") == ""
    assert page.locator("text=logo.png").count() == 1  # and listed among the attachments
    assert problems.items == []
