"""Headless Chromium driving the running app (pytest-django's live_server, a thread of this
process) through Playwright.

The browser is Debian's `chromium` (bin/test-all installs it as root); Playwright never
downloads one. Without it, or without the playwright package, these tests skip.
Screenshots of every page the flow visits go to var/screenshots/<lang>/<width>/ (git-ignored).
"""

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings

try:
    from playwright import sync_api
except ImportError:  # not installed: the tests skip, see pytest_collection_modifyitems
    sync_api = None

CHROMIUM = os.environ.get("MAILPASS_E2E_CHROMIUM") or shutil.which("chromium")
SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
# Bounded waits: a step that cannot happen fails in seconds instead of hanging the suite,
# with room for a busy 2-core machine.
STEP_TIMEOUT_MS = 15_000
NAVIGATION_TIMEOUT_MS = 20_000
if sync_api is not None:
    sync_api.expect.set_options(timeout=STEP_TIMEOUT_MS)  # assertions retry this long


def pytest_collection_modifyitems(config, items):
    if sync_api is None:
        reason = "playwright is not installed: pip install -r requirements-dev.txt"
    elif not CHROMIUM:
        reason = (
            "no Chromium: install Debian's `chromium` (bin/test-all does as root) "
            "or point MAILPASS_E2E_CHROMIUM at a Chromium binary"
        )
    else:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def browser(transactional_db) -> Iterator["sync_api.Browser"]:
    # Per test, and only once the test database is ready: Playwright's sync API keeps an
    # asyncio loop in this thread while it runs, and Django refuses ORM calls from a thread
    # with a running loop (SynchronousOnlyOperation), such as creating or flushing the
    # test database. So the test body talks to the app only through the browser, the API
    # and the SMTP sink, never the ORM.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def e2e_settings(settings, live_server, signup_open):
    """The app as the browser reaches it: tracking links point at the live server, and
    the operator opened sign-up (its confirmation mails are in `signup_open.sent()`)."""
    settings.MAILPASS_PUBLIC_URL = live_server.url
    return settings


class PageProblems:
    """What a page did wrong besides failing a step: script errors, missing assets,
    server errors, requests beyond loopback (a CDN). Asserted empty at the end of a test."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def only_loopback(self, route: "sync_api.Route") -> None:
        # Everything must work without a CDN, and tests never leave loopback.
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.items.append(f"request beyond loopback: {route.request.url}")
            route.abort()

    def watch(self, page: "sync_api.Page") -> None:
        page.on(
            "pageerror", lambda error: self.items.append(f"script error on {page.url}: {error}")
        )
        page.on("response", self._response)
        # data-confirm forms ask with window.confirm(): say yes, as the user would.
        page.on("dialog", lambda dialog: dialog.accept())

    def _response(self, response: "sync_api.Response") -> None:
        if response.status >= 500 or (response.status >= 400 and "/static/" in response.url):
            self.items.append(f"{response.status} for {response.request.method} {response.url}")


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def new_context(browser, live_server, e2e_settings, problems):
    """Make a browser context (a browser profile of its own) on the live server: desktop
    viewport, English, bounded waits, watched for problems. Closed after the test."""
    contexts = []

    def make() -> "sync_api.BrowserContext":
        context = browser.new_context(
            base_url=live_server.url,
            viewport=DESKTOP,
            locale="en-US",  # Accept-Language; the flow switches language itself
            timezone_id="UTC",
        )
        contexts.append(context)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        context.route("**/*", problems.only_loopback)
        context.on("page", problems.watch)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def context(new_context, live_server):
    context = new_context()
    # The copy buttons write to the clipboard; the test reads it back.
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    return context


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(context, request):
    page = context.new_page()
    path = SCREENSHOTS / "failed" / f"{request.node.name}.png"
    path.unlink(missing_ok=True)
    yield page
    if request.node.stash.get(FAILED, False):
        # Where the flow stopped, for whoever reads the failure.
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        print(f"e2e: the page at failure ({page.url}) is in {path}")


# The innermost elements that stick out past the right edge of the screen and are not
# inside something that scrolls or clips them (a .table-wrap, a <pre>).
WIDER_THAN_SCREEN = """() => {
  const edge = document.documentElement.clientWidth + 1;
  const sticksOut = (el) => el.getBoundingClientRect().right > edge;
  const contained = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true;
    }
    return false;
  };
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (!sticksOut(el) || contained(el)) continue;
    if ([...el.children].some((child) => sticksOut(child) && !contained(child))) continue;
    const classes = [...el.classList].map((c) => "." + c).join("");
    const text = (el.textContent || "").trim().slice(0, 30);
    found.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${classes} "${text}"`);
  }
  return found.slice(0, 5);
}"""


class Screenshots:
    """Numbered full-page screenshots of the current page at 1280 px and at 390 px wide.

    The phone shot resizes the same page instead of loading its URL in another context:
    several states exist only once (the key shown after its POST, a flash message), and
    the layout is the same (every page has the width=device-width viewport tag).
    """

    def __init__(self, page: "sync_api.Page", lang: str) -> None:
        self.page = page
        self.folder = SCREENSHOTS / lang
        shutil.rmtree(self.folder, ignore_errors=True)
        self.count = 0
        self.overflows: list[str] = []

    def __call__(self, name: str) -> None:
        self.count += 1
        filename = f"{self.count:02d}-{name}.png"
        for size in (DESKTOP, PHONE):
            path = self.folder / str(size["width"]) / filename
            path.parent.mkdir(parents=True, exist_ok=True)
            self.page.set_viewport_size(size)
            # Chromium paints a frame's content into a full-page shot only while the frame
            # is near the viewport (the message preview would come out blank).
            self.page.evaluate("document.querySelector('iframe')?.scrollIntoView()")
            self.page.screenshot(path=str(path), full_page=True, animations="disabled")
            width = self.page.evaluate("document.documentElement.scrollWidth")
            if width > size["width"]:
                culprits = ", ".join(self.page.evaluate(WIDER_THAN_SCREEN))
                self.overflows.append(
                    f"{self.folder.name}/{size['width']}/{filename} is {width} px wide: {culprits}"
                )
        self.page.set_viewport_size(DESKTOP)


@pytest.fixture
def screenshots() -> Callable[["sync_api.Page", str], Screenshots]:
    return Screenshots
