"""A newcomer adds a sender domain in headless Chromium, reads the DNS records the page asks
for, publishes exactly those (names and values as the page shows them, copied from it, never
read from the database) on the tests' DNS server, clicks "Check now" and sees the domain
verified and its key signing.

The user is made with the ORM before the browser starts (see the browser fixture); after
that the test talks to the app only through the browser. No screenshots are kept (only the
conftest's one of a failure, under var/, git-ignored)."""

import re

import pytest
from django.urls import reverse

from tests import factories
from tests.e2e.browser import log_in, shown_records
from tests.e2e.conftest import DESKTOP, PHONE, WIDER_THAN_SCREEN

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the conftest skips these tests
    pass

pytestmark = pytest.mark.e2e

USERNAME = "newcomer"
SPF_INCLUDE = "include:spf.mailpass.test"
TABLE_FITS = """() => {
  const table = document.querySelector("table.records");
  return table.getBoundingClientRect().width <= table.parentElement.clientWidth + 1;
}"""


@pytest.fixture
def newcomer(transactional_db) -> None:
    factories.make_account(factories.make_user(USERNAME))


def copy(page: "Page", button: str) -> str:
    """What the copy button `button` puts on the clipboard."""
    page.click(button)
    return page.evaluate("navigator.clipboard.readText()")


def test_a_newcomer_adds_a_domain_publishes_its_records_and_sees_it_verified(
    newcomer, page, live_server, dns_server, settings, problems
):
    settings.MAILPASS_SPF_INCLUDE = SPF_INCLUDE
    # The operator's own SPF record, which the include points at (on the internet it is
    # there already; the newcomer publishes only what the page asks for).
    dns_server.publish("spf.mailpass.test", "v=spf1 ip4:192.0.2.0/24 -all")
    log_in(page, USERNAME)

    page.click(f"nav.mainnav a[href='{reverse('dashboard:domain-list')}']")
    page.click(f"main a[href='{reverse('dashboard:domain-create')}']")
    page.fill("main form [name=name]", "shop.example")
    page.click("main form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/domains/\d+/$"))
    expect(page.locator("#domain-status")).to_have_class(re.compile(r"\bpending\b"))

    # A long DKIM value wraps: the table fits its box (no sideways scrolling), on a wide
    # screen and on a phone's.
    page.wait_for_load_state("load")  # the stylesheet too
    for size in (DESKTOP, PHONE, DESKTOP):
        page.set_viewport_size(size)
        assert page.evaluate(WIDER_THAN_SCREEN) == []
        assert page.evaluate(TABLE_FITS), size

    records = shown_records(page)
    assert [purpose for purpose, _name, _value in records] == ["dkim", "spf", "dmarc"]
    dkim = records[0]
    assert dkim[1].endswith("._domainkey.shop.example")
    assert dkim[2].startswith("v=DKIM1; k=rsa; p=") and len(dkim[2]) > 255
    assert records[1][1:] == ("shop.example", f"v=spf1 {SPF_INCLUDE} ~all")
    assert records[2][1] == "_dmarc.shop.example"
    # The copy buttons copy exactly what the page shows.
    assert copy(page, "button[data-copy='#record-1-name']") == dkim[1]
    assert copy(page, "button[data-copy='#record-1-value']") == dkim[2]

    for _purpose, name, value in records:
        dns_server.publish(name, value)
    page.click("main form button[name=check]")

    expect(page.locator("#domain-status")).to_have_class(re.compile(r"\bverified\b"))
    expect(page.locator("table.records .key-state")).to_have_text("signing")
    expect(page.locator("#domain-signing")).to_contain_text("DKIM-signed")
    expect(page.locator("table.records .badge.failed")).to_have_count(0)

    page.click(f"nav.mainnav a[href='{reverse('dashboard:domain-list')}']")
    expect(page.locator("table.domains .badge.verified")).to_have_count(1)
    assert problems.items == []
