"""A user writes a template in headless Chromium, previews the draft (the Preview button
posts it into the sandboxed frame, no script involved), saves it, and sends a test email
that arrives at the SMTP sink filled with the sample variables.

Selectors are field names, URLs and classes, never English text. Every page is
screenshotted at 1280 px and 390 px (var/screenshots/templates/), and none may be wider
than the screen. The user and the provider are made with the ORM before the browser starts
(see the browser fixture)."""

import json
import re

import pytest
from django.urls import reverse

from tests import factories
from tests.e2e.browser import log_in

try:
    from playwright.sync_api import ConsoleMessage, Page, expect
except ImportError:  # the conftest skips these tests
    pass

pytestmark = pytest.mark.e2e

USERNAME = "writer"
SAMPLES = {"name": "<b>Ada</b>", "order_id": "A-42"}


@pytest.fixture
def writer(transactional_db, sink) -> None:
    """A user whose account sends through the loopback sink."""
    account = factories.make_account(factories.make_user(USERNAME))
    factories.make_provider(account, port=sink.port, from_email="shop@example.com")


def csp_violations(page: "Page") -> list[str]:
    seen: list[str] = []

    def console(message: "ConsoleMessage") -> None:
        if "Content Security Policy" in message.text:
            seen.append(f"{message.location.get('url')}: {message.text}")

    page.on("console", console)
    return seen


def test_a_template_is_written_previewed_saved_and_sent_as_a_test(
    writer, page, live_server, sink, problems, screenshots
):
    shot = screenshots(page, "templates")
    violations = csp_violations(page)
    log_in(page, USERNAME)

    page.click(f"nav.mainnav a[href='{reverse('dashboard:template-list')}']")
    shot("template-list")
    page.click(f"main a[href='{reverse('dashboard:template-create')}']")
    expect(page).to_have_url(re.compile(r"/templates/new/$"))
    fields = {
        "name": "Order shipped",
        "alias": "order-shipped",
        "subject": "Order {{order_id}} shipped",
        "html": "<p class='greeting'>Hi {{name}}, order {{order_id}} is on its way.</p>",
        "text": "Hi {{name}}, order {{order_id}} is on its way.",
        "defaults": '{"name": "there"}',
        "sample_variables": json.dumps(SAMPLES),
    }
    for name, value in fields.items():
        page.fill(f"main form [name={name}]", value)

    # Preview: the draft goes into the frame; the page and its form stay as they are.
    page.click("main form button.preview-button")
    frame = page.frame_locator("iframe[name=template-preview]")
    expect(frame.locator(".mailpass-subject")).to_have_text("Order A-42 shipped")
    # The variable's markup is text in the HTML part, not markup.
    expect(frame.locator("p.greeting")).to_have_text("Hi <b>Ada</b>, order A-42 is on its way.")
    expect(frame.locator("p.greeting b")).to_have_count(0)
    expect(frame.locator(".mailpass-text")).to_contain_text("Hi <b>Ada</b>, order A-42")
    expect(page).to_have_url(re.compile(r"/templates/new/$"))
    assert page.input_value("main form [name=alias]") == "order-shipped"
    shot("template-preview")

    # A draft that does not fill in says why in the frame.
    page.fill("main form [name=sample_variables]", "{}")
    page.click("main form button.preview-button")
    expect(frame.locator(".mailpass-errors")).to_contain_text("order_id")
    page.fill("main form [name=sample_variables]", json.dumps(SAMPLES))

    page.click("main form button.primary")
    expect(page).to_have_url(re.compile(r"/templates/\d+/$"))
    expect(page.locator(".note.success")).to_be_visible()
    # The saved template's frame shows it filled with the saved sample variables.
    expect(frame.locator(".mailpass-subject")).to_have_text("Order A-42 shipped")
    shot("template-saved")

    page.fill("#test-email input[name=to_email]", "me@example.com")
    page.click("#test-email button[type=submit]")
    expect(page.locator(".note.success")).to_contain_text("me@example.com")
    shot("template-test-sent")

    [received] = sink.received
    assert received.rcpt_tos == ["me@example.com"]
    assert received.message["Subject"] == "Order A-42 shipped"
    html = received.message.get_body(("html",)).get_content()
    assert "Hi &lt;b&gt;Ada&lt;/b&gt;, order A-42 is on its way." in html
    assert violations == []  # neither the pages nor the preview documents broke their policy
    assert shot.overflows == []
    assert problems.items == []
