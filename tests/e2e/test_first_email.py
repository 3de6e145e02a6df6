"""A new user goes from sign-up to a delivered API-sent email using only the browser and
cURL: the issue's end-to-end flow, in headless Chromium against the live app, in English
(on the PostgreSQL leg of `make test`) and in Japanese (on the SQLite leg): the language
and the database are independent, and each run takes 20 s.

Selectors are form field names, URLs, ids and classes, never English text, so the same
steps run in every language. Every page visited is screenshotted at 1280 px and 390 px
(var/screenshots/<lang>/<width>/), and no page may be wider than the screen.
"""

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from django.db import connection
from django.urls import reverse

from accounts.models import Account
from tests.dns_server import DnsServer
from tests.e2e.browser import shown_records
from tests.smtp_sink import Received, SmtpSink

try:
    from playwright.sync_api import BrowserContext, Locator, Page, expect
except ImportError:  # the conftest skips these tests
    pass

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-Correct-horse-42"


LEG_OF_LANGUAGE = {"en": "postgresql", "ja": "sqlite"}


@pytest.mark.parametrize(
    "lang",
    [
        pytest.param(
            lang,
            marks=pytest.mark.skipif(
                connection.vendor != vendor, reason=f"runs once, on the {vendor} leg"
            ),
        )
        for lang, vendor in LEG_OF_LANGUAGE.items()
    ],
)
def test_a_new_user_goes_from_sign_up_to_a_delivered_api_email_with_a_browser_and_curl(
    page,
    new_context,
    live_server,
    sink,
    problems,
    screenshots,
    e2e_settings,
    signup_open,
    dns_server,
    lang,
):
    base = live_server.url
    shot = screenshots(page, lang)
    me = f"owner-{lang}@example.com"  # the new user: the test email goes here
    customer = f"customer-{lang}@example.com"  # the API email goes here

    sign_up(page, shot, lang=lang, email=me, mails=signup_open)
    # The operator lets the new account track (admin or `manage.py account_access`). On a
    # thread of its own: Playwright runs an event loop here, where Django allows no ORM.
    with ThreadPoolExecutor(1) as operator:
        operator.submit(
            lambda: Account.objects.filter(owner__email=me).update(tracking_enabled=True)
        ).result()
    turn_on_tracking(page, shot)  # so the API email gets open and click events
    key = create_key(page, shot)
    # A new account sends only from its verified domains (Account.verified_domains_only).
    verify_domain(page, shot, dns_server=dns_server, name="shop.example")
    add_default_provider(page, shot, sink=sink, sender=f"hello-{lang}@shop.example")
    send_test_email(page, shot, sink=sink, to=me, sender=f"hello-{lang}@shop.example")

    link = base + reverse("login")
    sent = send_with_curl(
        base,
        key,
        {
            "to": customer,
            "subject": "Hello",
            "html": f'<p>Hello World</p><p><a href="{link}">Log in</a></p>',
        },
    )
    assert sent["success"] is True, sent
    assert sent["data"]["status"] == "sent"
    assert sent["data"]["to"] == customer
    message_id = sent["data"]["message_id"]
    delivered = wait_for_mail(sink, customer)
    assert delivered.message["Message-ID"] == message_id

    open_and_click(new_context(), delivered, link=link)
    status = curl(
        f"{base}/api/v1/mail/status/{quote(message_id, safe='')}",
        "-H", f"Authorization: Bearer {key}",
    )  # fmt: skip
    assert status["data"]["message"]["status"] == "sent"
    assert [event["event_type"] for event in status["data"]["events"]] == ["open", "click"]

    page.goto(reverse("dashboard:overview"))
    shot("overview")
    find_in_log(page, shot, recipient=customer, message_id=message_id, link=link)

    go(page, "dashboard:docs")
    expect(page.locator("main")).to_contain_text(f"{base}/api/v1/mail/send")  # the real URL
    shot("docs")
    go(page, "dashboard:suppression-list")
    shot("suppressions")

    revoke_key(page, shot)
    refused = send_with_curl(base, key, {"to": customer, "subject": "Hello", "text": "Hi"})
    assert refused["success"] is False
    assert refused["error"]["code"] == "UNAUTHORIZED"
    expect(page.locator("html")).to_have_attribute("lang", lang)  # still the chosen language

    page.goto("/api/docs/")  # Swagger UI, served without a CDN
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    shot("openapi")

    assert problems.items == []
    assert shot.overflows == [], "pages wider than the screen"


# --- the steps ----------------------------------------------------------------------------


def sign_up(
    page: "Page", shot: Callable[[str], None], *, lang: str, email: str, mails: Any
) -> None:
    """Sign up, then follow the link mailed to the address, as its owner would."""
    page.goto(reverse("dashboard:signup"))
    if lang != "en":
        with page.expect_navigation():  # the top bar's language menu submits on change
            page.select_option("header.topbar select[name=language]", lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    shot("signup")
    form = page.locator("main form")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password1]").fill(PASSWORD)
    form.locator("input[name=password2]").fill(PASSWORD)
    form.locator("input[name=account_name]").fill(f"Shop {lang}")
    submit(form)
    shot("signup-sent")
    [mail] = [sent for sent in mails.sent() if sent.to == [email]]
    [link] = re.findall(r"http://\S+/signup/confirm/\S+/", mail.body)
    page.goto(link)
    shot("signup-confirm")
    submit(page.locator("main form"))
    expect(page).to_have_url(origin(page) + reverse("dashboard:overview"))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect_success(page)
    shot("overview-new")


def turn_on_tracking(page: "Page", shot: Callable[[str], None]) -> None:
    go(page, "dashboard:account-settings")
    form = page.locator("main form:has(input[name=track_opens])")
    form.locator("input[name=track_opens]").check()
    form.locator("input[name=track_clicks]").check()
    submit(form)
    expect_success(page)
    expect(page.locator("input[name=track_opens]")).to_be_checked()
    shot("account-settings")


def create_key(page: "Page", shot: Callable[[str], None]) -> str:
    """Create a key, copy it with the copy button; return what reached the clipboard."""
    go(page, "dashboard:key-list")
    shot("keys-empty")
    form = page.locator("main form:has(input[name=name])")
    form.locator("input[name=name]").fill("Production")
    submit(form)
    secret = page.locator("code#new-key")
    expect(secret).to_be_visible()
    copy = page.locator('button[data-copy="#new-key"]')
    expect(copy).to_be_visible()  # mailpass.js un-hides it
    copy.click()
    shown = secret.inner_text().strip()
    key = wait_for(
        lambda: page.evaluate("navigator.clipboard.readText()") == shown and shown,
        what="the key on the clipboard",
    )
    assert key.startswith("mp_live_"), key
    shot("key-created")
    go(page, "dashboard:key-list")
    expect(page.locator("main")).not_to_contain_text(key)  # shown exactly once
    expect(page.locator("main")).to_contain_text(key[:12])  # its prefix stays listed
    shot("keys")
    return key


def add_default_provider(
    page: "Page", shot: Callable[[str], None], *, sink: SmtpSink, sender: str
) -> None:
    """Add an SMTP provider pointing at the sink, then make it the default in one click."""
    go(page, "dashboard:provider-list")
    shot("providers-empty")
    page.locator(f'main a[href="{reverse("dashboard:provider-create")}"]').first.click()
    expect(page).to_have_url(origin(page) + reverse("dashboard:provider-create"))
    shot("provider-kinds")
    page.locator('main a[href$="?kind=smtp"]').click()
    expect(page).to_have_url(re.compile(r"\?kind=smtp$"))
    form = page.locator("main form:has(input[name=host])")
    expect(form.locator("input[name=api_key]")).to_have_count(0)  # only SMTP's fields
    form.locator("input[name=name]").fill("Test sink")
    form.locator("input[name=host]").fill(sink.host)
    form.locator("input[name=port]").fill(str(sink.port))
    form.locator("select[name=security]").select_option("none")
    form.locator("input[name=from_email]").fill(sender)
    form.locator("input[name=from_name]").fill("Shop")
    form.locator("input[name=hourly_limit]").fill("100")
    form.locator("input[name=daily_limit]").fill("1000")
    # The first provider is offered as the default; decline, to set it in one click below.
    make_default = form.locator("input[name=is_default]")
    if make_default.count():
        make_default.uncheck()
    shot("provider-form")
    submit(form)
    expect(page).to_have_url(origin(page) + reverse("dashboard:provider-list"))
    expect_success(page)
    expect(page.locator("main .badge.default")).to_have_count(0)

    submit(page.locator('main form[action$="/default/"]'))
    expect(page).to_have_url(origin(page) + reverse("dashboard:provider-list"))
    expect_success(page)
    expect(page.locator("main .badge.default")).to_have_count(1)


def verify_domain(
    page: "Page", shot: Callable[[str], None], *, dns_server: DnsServer, name: str
) -> None:
    """Add the sender's domain, publish the records its page shows on the DNS server (as
    the user would at their DNS host), and check it: verified."""
    go(page, "dashboard:domain-list")
    shot("domains-empty")
    page.locator(f'main a[href="{reverse("dashboard:domain-create")}"]').first.click()
    form = page.locator("main form:has(input[name=name])")
    form.locator("input[name=name]").fill(name)
    shot("domain-form")
    submit(form)
    expect(page).to_have_url(re.compile(r"/domains/\d+/$"))
    expect_success(page)
    shot("domain-records")
    for _purpose, record_name, value in shown_records(page):
        dns_server.publish(record_name, value)
    submit(page.locator('main form[action$="/verify/"]'))
    expect_success(page)
    expect(page.locator("#domain-status")).to_have_class(re.compile(r"\bverified\b"))
    shot("domain-verified")


def send_test_email(
    page: "Page", shot: Callable[[str], None], *, sink: SmtpSink, to: str, sender: str
) -> None:
    """Test the provider's connection, then send a test email and see it arrive."""
    submit(page.locator('main form[action$="/test-connection/"]'))
    expect_success(page)
    form = page.locator('main form[action$="/test-email/"]')
    form.locator("input[name=to_email]").fill(to)
    submit(form)
    expect_success(page)
    assert wait_for_mail(sink, to).message["From"].addresses[0].addr_spec == sender
    shot("providers")


def open_and_click(reader: "BrowserContext", mail: Received, *, link: str) -> None:
    """The recipient opens the email in a browser of their own (the tracking pixel loads)
    and follows its link."""
    mail_client = reader.new_page()
    with mail_client.expect_response(lambda response: "/t/o/" in response.url) as pixel:
        mail_client.set_content(mail.message.get_body(("html",)).get_content())
    assert pixel.value.status == 200
    mail_client.locator('a[href*="/t/c/"]').click()
    expect(mail_client).to_have_url(link)


def find_in_log(
    page: "Page", shot: Callable[[str], None], *, recipient: str, message_id: str, link: str
) -> None:
    """Filter the message log down to the message, open it, see its events and preview."""
    go(page, "dashboard:message-list")
    shot("messages")
    form = page.locator("main form:has(input[name=recipient])")
    form.locator("input[name=recipient]").fill(recipient)
    submit(form)
    expect(page).to_have_url(re.compile(r"/messages/\?.*recipient="))  # a GET filter
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    shot("messages-filtered")
    rows.locator('a[href^="/messages/"]').first.click()
    expect(page).to_have_url(re.compile(r"/messages/\d+/$"))
    detail = page.locator("main")
    expect(detail).to_contain_text(message_id)
    expect(detail).to_contain_text(recipient)
    expect(detail).to_contain_text(link)  # the click event's URL
    preview = page.locator("main iframe.preview")
    expect(preview).to_have_attribute("sandbox", "")
    preview.scroll_into_view_if_needed()  # it loads lazily
    expect(page.frame_locator("main iframe.preview").locator("body")).to_contain_text("Hello World")
    shot("message-detail")


def revoke_key(page: "Page", shot: Callable[[str], None]) -> None:
    go(page, "dashboard:key-list")
    page.locator('main a[href$="/revoke/"]').click()
    expect(page).to_have_url(re.compile(r"/keys/\d+/revoke/$"))
    shot("key-revoke")
    submit(page.locator("main form:has(button.danger)"))
    expect(page).to_have_url(origin(page) + reverse("dashboard:key-list"))
    expect_success(page)
    expect(page.locator("main .badge.revoked")).to_have_count(1)


# --- helpers ------------------------------------------------------------------------------


def origin(page: "Page") -> str:
    return "{0.scheme}://{0.netloc}".format(urlsplit(page.url))


def go(page: "Page", url_name: str) -> None:
    """Follow the top bar's link to `url_name`, as a user would."""
    url = reverse(url_name)
    page.locator(f'header.topbar a[href="{url}"]').first.click()
    expect(page).to_have_url(origin(page) + url)


def submit(form: "Locator") -> None:
    form.locator("button[type=submit]").first.click()


def expect_success(page: "Page") -> None:
    """The page shows a success note and no error note (whatever the language)."""
    expect(page.locator(".notes .note.success")).to_be_visible()
    expect(page.locator(".notes .note.error")).to_have_count(0)


def curl(*args: str) -> dict:
    """Run cURL (loopback only, bounded) and return the JSON it printed."""
    if not shutil.which("curl"):
        pytest.fail("curl is missing: bin/test-all installs Debian's `curl` as root")
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--noproxy", "*", "--max-time", "20", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


def send_with_curl(base: str, key: str, body: dict) -> dict:
    """POST /api/v1/mail/send the way the product page's cURL example does."""
    return curl(
        "-X", "POST", f"{base}/api/v1/mail/send",
        "-H", f"Authorization: Bearer {key}",
        "-H", "Content-Type: application/json",
        "-d", json.dumps(body),
    )  # fmt: skip


def wait_for(condition: Callable[[], object], *, timeout: float = 10.0, what: str) -> object:
    """Poll `condition` until it is truthy and return its value; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
    return result


def wait_for_mail(sink: SmtpSink, recipient: str) -> Received:
    return wait_for(
        lambda: next((mail for mail in sink.received if recipient in mail.rcpt_tos), None),
        what=f"mail to {recipient} in the SMTP sink",
    )
