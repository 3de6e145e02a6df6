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
