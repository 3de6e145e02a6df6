"""Suite 11, safe by default: the tracking URLs are no lever (issue 11, findings 6 and 7).

Each click re-parsed the stored HTML (1.2 s of CPU for a 5 MiB message per ~200-byte
request), each pixel hit added an event without limit (2,000 hits made one /status answer
2.2 MB), and /t/c/ redirected to whatever a tenant wrote, forever, from the operator's
domain. Now links are stored when the message is sent and looked up by index; repeated
opens of one client count once; a message keeps at most MAX_TRACKING_EVENTS opens and
clicks; /status and the dashboard page events; /t/ is throttled per client; links expire
after MAILPASS_TRACKING_LINK_DAYS; and only accounts the operator allows can track.
"""

import datetime as dt
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from api import tracking
from api.models import Message, MessageEvent, MessageLink
from tests.security import figures

pytestmark = pytest.mark.django_db

SUITE = "11 safe defaults: tracking"
HTML = (
    "<html><body><p>Hi!</p>"
    '<a href="https://shop.example.com/orders/42">your order</a> '
    '<a href="https://shop.example.com/help">help</a>'
    "</body></html>"
)


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.MAILPASS_PUBLIC_URL = "http://testserver"


def send(api, html: str = HTML, **fields) -> str:
    payload = {"to": "user@example.com", "subject": "Order", "html": html, **fields}
    response = api.post("/api/v1/mail/send", payload, format="json")
    assert response.status_code == 200, response.content
    return response.json()["data"]["message_id"]


def urls(sink, kind: str) -> list[str]:
    [received] = sink.received
    part = next(p for p in received.message.walk() if p.get_content_type() == "text/html")
    html = part.get_payload(decode=True).decode()
    found = re.findall(rf'"(http://testserver/t/{kind}/[^"]+)"', html)
    return [urlsplit(unescape(url)).path for url in found]


def test_a_click_is_one_lookup_not_a_parse_of_the_message(
    api, provider, sink, tracking_allowed, monkeypatch
):
    big = "<html><body>" + "<p>padding</p>" * 20_000 + HTML + "</body></html>"
    send(api, html=big, track_clicks=True)
    [first, _second] = urls(sink, "c")
    assert MessageLink.objects.count() == 2  # stored when the message was sent

    def no_parsing(*args, **kwargs):
        raise AssertionError("a click parsed the HTML")

    monkeypatch.setattr(tracking, "trackable_links", no_parsing)
    monkeypatch.setattr(tracking._Links, "feed", no_parsing)
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(first)
    html_read = [q["sql"] for q in queries if '"html"' in q["sql"]]

    failures = [] if response.status_code == 302 and not html_read else [f"{response} {html_read}"]
    figures.check(SUITE, cases=1, failures=failures)
    assert response["Location"] == "https://shop.example.com/orders/42"


def test_one_clients_repeated_opens_count_once_and_events_are_capped(
    api, provider, sink, tracking_allowed, monkeypatch
):
    monkeypatch.setattr(tracking, "MAX_TRACKING_EVENTS", 50)
    send(api, track_opens=True)
    [pixel] = urls(sink, "o")

    same_client = [Client(REMOTE_ADDR="198.51.100.1").get(pixel).status_code for _ in range(20)]
    many_clients = [
        Client(REMOTE_ADDR=f"198.51.100.{i}", HTTP_USER_AGENT=f"agent {i}").get(pixel).status_code
        for i in range(2, 200)
    ]

    opens = MessageEvent.objects.filter(event_type=MessageEvent.Type.OPEN).count()
    failures = [] if opens == 50 else [f"{opens} opens recorded"]
    figures.check(SUITE, cases=218, failures=failures)
    assert set(same_client + many_clients) == {200}  # the pixel is always served


def test_a_clients_open_counts_again_after_a_while(
    api, provider, sink, tracking_allowed, time_machine
):
    time_machine.move_to(dt.datetime(2030, 1, 15, 10, 0, tzinfo=dt.UTC), tick=False)
    send(api, track_opens=True)
    [pixel] = urls(sink, "o")
    browser = Client(REMOTE_ADDR="198.51.100.1")

    browser.get(pixel)
    browser.get(pixel)
    time_machine.shift(tracking.OPEN_REPEAT + dt.timedelta(seconds=1))
    browser.get(pixel)

    assert MessageEvent.objects.filter(event_type=MessageEvent.Type.OPEN).count() == 2


def test_status_and_the_message_page_show_events_a_page_at_a_time(
    api, owner, provider, sink, tracking_allowed
):
    message_id = send(api, track_opens=True)
    message = Message.objects.get()
    MessageEvent.objects.bulk_create(
        [
            MessageEvent(account=message.account, message=message, event_type="open")
            for _ in range(250)
        ]
    )

    pages, after = [], None
    while True:
        query = f"?events_after={after}" if after else ""
        data = api.get(f"/api/v1/mail/status/{message_id}{query}").json()["data"]
        pages.append(len(data["events"]))
        after = data["events_next"]
        if after is None:
            break
    browser = Client()
    browser.force_login(owner)
    page = browser.get(f"/messages/{message.pk}/").content.decode()
    bad_cursor = api.get(f"/api/v1/mail/status/{message_id}?events_after=abc")

    failures = [] if pages == [100, 100, 50] else [f"pages {pages}"]
    figures.check(SUITE, cases=4, failures=failures)
    assert page.count('class="badge ') <= 101 and "?events_after=" in page
    assert bad_cursor.status_code == 400


def test_the_tracking_urls_are_throttled_per_client(
    settings, api, provider, sink, tracking_allowed
):
    settings.MAILPASS_TRACKING_RATE_LIMIT = "10/min"
    send(api, track_opens=True, track_clicks=True)
    [pixel] = urls(sink, "o")

    codes = [Client(REMOTE_ADDR="203.0.113.3").get(pixel).status_code for _ in range(12)]
    other = Client(REMOTE_ADDR="203.0.113.4").get(pixel)

    failures = [] if codes == [200] * 10 + [429] * 2 else [f"{codes}"]
    figures.check(SUITE, cases=13, failures=failures)
    assert other.status_code == 200


def test_tracked_links_expire(settings, api, provider, sink, tracking_allowed, time_machine):
    settings.MAILPASS_TRACKING_LINK_DAYS = 90
    time_machine.move_to(dt.datetime(2030, 1, 15, 10, 0, tzinfo=dt.UTC), tick=False)
    send(api, track_opens=True, track_clicks=True)
    [link, _] = urls(sink, "c")
    [pixel] = urls(sink, "o")

    time_machine.shift(dt.timedelta(days=89))
    fresh = Client().get(link)
    time_machine.shift(dt.timedelta(days=2))
    stale = [Client().get(link).status_code, Client().get(pixel).status_code]

    failures = [] if fresh.status_code == 302 and stale == [404, 404] else [f"{fresh} {stale}"]
    figures.check(SUITE, cases=3, failures=failures)


def test_tracking_needs_the_operators_permission(api, account, provider, sink):
    refused = api.post(
        "/api/v1/mail/send",
        {"to": "u@example.com", "subject": "s", "html": HTML, "track_clicks": True},
        format="json",
    )
    account.track_clicks = True  # a default set before the operator had a say
    account.save()
    send(api)  # not tracked: the account may not
    [received] = sink.received

    failures = []
    if refused.status_code != 400 or "track_clicks" not in refused.json()["error"]["details"]:
        failures.append(f"asking for tracking: {refused.status_code}")
    if "/t/c/" in received.message.as_string():
        failures.append("the default tracked a message")
    figures.check(SUITE, cases=2, failures=failures)


def test_the_operator_withdrawing_tracking_stops_the_redirects_at_once(
    api, account, provider, sink, tracking_allowed
):
    send(api, track_clicks=True)
    [link, _] = urls(sink, "c")
    assert Client().get(link).status_code == 302

    account.tracking_enabled = False
    account.save()

    assert Client().get(link).status_code == 404
    figures.record(SUITE, cases=2, failures=0)
