"""The dashboard's defences as a browser meets them, in headless Chromium: a message whose
HTML carries a script and an onerror handler is previewed without touching the dashboard
(its title, its address) or raising a dialog, and no dashboard page breaks its own
Content-Security-Policy (a violation is a console error: a blocked style, script or frame).

The data is made with the ORM before the browser starts (see the browser fixture)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from api.services import template_create
from tests import factories
from tests.e2e.browser import log_in

try:
    from playwright.sync_api import ConsoleMessage, Page, expect
except ImportError:  # the conftest skips these tests
    pass

pytestmark = pytest.mark.e2e

HOSTILE_HTML = (
    "<p>Hello</p><script>parent.document.title='pwned';document.title='x';alert('script')"
    "</script><img src=x onerror=\"top.location='http://127.0.0.1:1/'\">"
)
USERNAME = "viewer"


@pytest.fixture
def dashboard_data(transactional_db) -> dict[str, int]:
    """A user whose account has one of everything a page shows: a provider with limits (its
    usage meter), a key, a suppression and the hostile message."""
    account = factories.make_account(factories.make_user(USERNAME))
    provider = factories.make_provider(account, port=2525, hourly_limit=100, daily_limit=1000)
    key, _secret = factories.make_api_key(account)
    message = factories.make_message(
        account, subject="Hostile", html=HOSTILE_HTML, provider=provider, tags=["welcome"]
    )
    template = template_create(
        account=account,
        data={"name": "Hostile", "alias": "hostile", "subject": "Hi", "html": HOSTILE_HTML},
    )
    scheduled = factories.make_message(
        account, status="scheduled", scheduled_at=timezone.now() + dt.timedelta(days=1)
    )
    return {
        "message": message.pk,
        "provider": provider.pk,
        "key": key.pk,
        "template": template.pk,
        "scheduled": scheduled.pk,
    }


def watch_console(page: "Page") -> list[str]:
    """The page's CSP violations and dialogs, as they happen."""
    seen: list[str] = []

    def console(message: "ConsoleMessage") -> None:
        if "Content Security Policy" in message.text:
            seen.append(f"{message.location.get('url')}: {message.text}")

    page.on("console", console)
    page.on("dialog", lambda dialog: seen.append(f"dialog: {dialog.message}"))
    return seen


def test_a_hostile_message_preview_cannot_touch_the_dashboard(
    dashboard_data, page, live_server, problems
):
    seen = watch_console(page)
    log_in(page, USERNAME)
    detail = live_server.url + reverse("dashboard:message-detail", args=[dashboard_data["message"]])
    page.goto(detail)
    title = page.title()
    frame = page.locator("iframe.preview")
    frame.scroll_into_view_if_needed()  # the preview loads lazily
    expect(page.frame_locator("iframe.preview").locator("p")).to_have_text("Hello")
    page.wait_for_timeout(500)  # time for the image's error and anything it could set off

    assert title == "Hostile · MailPass"
    assert page.title() == title
    assert page.url == detail
    assert frame.get_attribute("sandbox") == ""
    # Only the preview's own refusals (its sandbox blocks the script, its CSP the image).
    assert [item for item in seen if not item.startswith(f"{detail}html/")] == []
    assert problems.items == []


def test_no_dashboard_page_breaks_its_content_security_policy(
    dashboard_data, page, live_server, problems
):
    seen = watch_console(page)
    log_in(page, USERNAME)
    pages = [
        reverse("dashboard:overview"),
        reverse("dashboard:message-list"),
        reverse("dashboard:message-detail", args=[dashboard_data["message"]]),
        reverse("dashboard:key-list"),
        reverse("dashboard:key-revoke", args=[dashboard_data["key"]]),
        reverse("dashboard:provider-list"),
        reverse("dashboard:provider-create") + "?kind=smtp",
        reverse("dashboard:provider-update", args=[dashboard_data["provider"]]),
        reverse("dashboard:suppression-list"),
        reverse("dashboard:account-settings"),
        reverse("dashboard:docs"),
        reverse("password_change"),
        reverse("dashboard:message-detail", args=[dashboard_data["scheduled"]]),
        reverse("dashboard:template-list"),
        reverse("dashboard:template-create"),
        reverse("dashboard:template-update", args=[dashboard_data["template"]]),
        reverse("dashboard:template-version", args=[dashboard_data["template"], 1]),
        reverse("dashboard:template-delete", args=[dashboard_data["template"]]),
    ]
    for path in pages:
        page.goto(path)
        page.wait_for_load_state("load")
    # The language menu submits itself from mailpass.js: script-src 'self' must allow it.
    page.select_option("#language-select", "de")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    # Swagger UI has a policy of its own: it must still draw the API.
    page.goto(reverse("api:docs"))
    expect(page.locator("#swagger-ui .info")).to_be_visible()

    # The previews' own refusals: their sandbox blocks the hostile HTML's script.
    previews = (
        reverse("dashboard:message-html", args=[dashboard_data["message"]]),
        reverse("dashboard:template-html", args=[dashboard_data["template"]]),
    )
    assert [item for item in seen if not any(preview in item for preview in previews)] == []
    assert problems.items == []
