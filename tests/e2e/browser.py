"""Steps the browser tests share."""

import re
from typing import TYPE_CHECKING

from django.urls import reverse

if TYPE_CHECKING:
    from playwright.sync_api import Page


def log_in(page: "Page", username: str) -> None:
    """Log in through the form as a user of tests/factories.make_user (password pw-<name>)."""
    from playwright.sync_api import expect  # imported here: the suite skips without it

    page.goto(reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"pw-{username}")
    page.click("main button[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))


def shown_records(page: "Page") -> list[tuple[str, str, str]]:
    """(purpose, name, value) of every row of a domain page's records table, as the page
    shows them (what a user would copy to their DNS host)."""
    found = []
    rows = page.locator("table.records tr.record")
    for i in range(rows.count()):
        row = rows.nth(i)
        name = row.locator("td.record-name code").text_content() or ""
        value = row.locator("td.record-value code").text_content() or ""
        found.append((row.get_attribute("data-purpose") or "", name.strip(), value.strip()))
    return found
