"""Open and click tracking, from the mail that arrives at the SMTP sink to the events that
/api/v1/mail/status shows. The tracking URLs are fetched exactly as found in the mail."""

import ipaddress
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.test import Client

from api import tracking
from api.models import Message, MessageEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tracking_allowed")]

HTML = (
    "<html><body><p>Hi!</p>"
    '<a href="https://shop.example.com/orders/42?ref=mail&amp;x=1">your order</a> '
    "<a href='http://example.org/help'>help</a> "
    '<a href="mailto:support@example.com">mail us</a> <a href="#top">top</a>'
    "</body></html>"
)


def send(api, **fields):
    payload = {"to": "user@example.com", "subject": "Order", "html": HTML, **fields}
    response = api.post("/api/v1/mail/send", payload, format="json")
    assert response.status_code == 200, response.content
    return response.json()["data"]["message_id"]


def html_received(sink) -> str:
    [received] = sink.received
    message = received.message
    part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    return part.get_payload(decode=True).decode()


def tracking_urls(html: str, kind: str) -> list[str]:
    return [unescape(u) for u in re.findall(rf'"(http://testserver/t/{kind}/[^"]+)"', html)]


def path_of(url: str) -> str:
    return urlsplit(url).path


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.MAILPASS_PUBLIC_URL = "http://testserver"


def test_an_opened_and_clicked_message_shows_both_events_in_its_status(api, provider, sink):
    message_id = send(api, track_opens=True, track_clicks=True)
    html = html_received(sink)
    [pixel] = tracking_urls(html, "o")
    first_link, second_link = tracking_urls(html, "c")
    assert html.index(pixel) < html.index("</body>")
    assert "mailto:support@example.com" in html and 'href="#top"' in html  # left alone
    browser = Client(HTTP_USER_AGENT="Mozilla/5.0 (test)", REMOTE_ADDR="203.0.113.7")

    opened = browser.get(path_of(pixel))
    clicked = browser.get(path_of(first_link))
    clicked_again = browser.get(path_of(second_link))

    assert opened.status_code == 200
    assert opened["Content-Type"] == "image/gif"
    assert opened["Cache-Control"] == "no-store, max-age=0"
    assert (clicked.status_code, clicked["Location"]) == (
        302,
        "https://shop.example.com/orders/42?ref=mail&x=1",
    )
    assert clicked_again["Location"] == "http://example.org/help"
    events = api.get(f"/api/v1/mail/status/{message_id}").json()["data"]["events"]
    assert events == [
        {
            "event_type": "open",
            "ip_address": "203.0.113.7",
            "user_agent": "Mozilla/5.0 (test)",
            "created_at": events[0]["created_at"],
        },
        {
            "event_type": "click",
            "ip_address": "203.0.113.7",
            "user_agent": "Mozilla/5.0 (test)",
            "url": "https://shop.example.com/orders/42?ref=mail&x=1",
            "created_at": events[1]["created_at"],
        },
        {
            "event_type": "click",
            "ip_address": "203.0.113.7",
            "user_agent": "Mozilla/5.0 (test)",
            "url": "http://example.org/help",
            "created_at": events[2]["created_at"],
        },
    ]


def test_without_tracking_the_html_goes_out_as_written(api, account, provider, sink):
    send(api)

    html = html_received(sink)
    assert "/t/o/" not in html and "/t/c/" not in html
    assert 'href="https://shop.example.com/orders/42?ref=mail&amp;x=1"' in html


def test_the_accounts_setting_is_the_default_and_a_message_can_turn_it_off(
    api, account, provider, sink
):
    account.track_opens = account.track_clicks = True
    account.save()

    send(api)
    send(api, track_clicks=False)

    first, second = (
        Message.objects.get(pk=pk) for pk in sorted(m.pk for m in Message.objects.all())
    )
    assert (first.track_opens, first.track_clicks) == (True, True)
    assert (second.track_opens, second.track_clicks) == (True, False)


def test_the_stored_html_stays_as_the_caller_wrote_it(api, provider, sink):
    send(api, track_opens=True, track_clicks=True)

    assert Message.objects.get().html == HTML


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature
        lambda token: "1" + token,  # another message
        lambda token: token.replace(".0.", ".1.", 1),  # another link
        lambda token: token.replace(".0.", ".7.", 1),  # a link that does not exist
        lambda token: "https://evil.example/",
        lambda token: "",
    ],
)
def test_a_tampered_click_token_redirects_nowhere_and_records_nothing(api, provider, sink, tamper):
    send(api, track_clicks=True)
    first_link = tracking_urls(html_received(sink), "c")[0]
    token = path_of(first_link).rsplit("/", 1)[1]

    response = Client().get(f"/t/c/{tamper(token)}")

    assert response.status_code == 404
    assert "Location" not in response
    assert not MessageEvent.objects.exists()


def test_a_forged_open_token_records_nothing(api, provider, sink):
    send(api, track_opens=True)
    message = Message.objects.get()

    forged = Client().get(f"/t/o/{tracking.open_token(message.pk)[:-2]}xx")
    unknown = Client().get(f"/t/o/{tracking.open_token(message.pk + 1000)}")

    assert forged.status_code == unknown.status_code == 404
    assert not MessageEvent.objects.exists()


def test_a_trusted_proxy_header_gives_the_clients_address(settings, api, provider, sink):
    settings.MAILPASS_TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.MAILPASS_TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    send(api, track_opens=True)
    [pixel] = tracking_urls(html_received(sink), "o")

    Client().get(
        path_of(pixel), HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.4", REMOTE_ADDR="127.0.0.1"
    )

    assert MessageEvent.objects.get().ip_address == "198.51.100.4"


def test_without_a_trusted_proxy_header_a_claimed_address_is_ignored(api, provider, sink):
    send(api, track_opens=True)
    [pixel] = tracking_urls(html_received(sink), "o")

    Client().get(path_of(pixel), HTTP_X_FORWARDED_FOR="198.51.100.4", REMOTE_ADDR="192.0.2.1")

    assert MessageEvent.objects.get().ip_address == "192.0.2.1"


def test_html_without_a_body_tag_gets_the_pixel_at_the_end(api, provider, sink):
    send(api, html="<p>short</p>", track_opens=True)

    html = html_received(sink)
    assert html.startswith("<p>short</p><img ")
    assert len(tracking_urls(html, "o")) == 1


def test_batch_messages_are_tracked_too(api, provider, sink):
    from api import drain, queue

    payload = {"messages": [{"to": "a@example.com", "subject": "A", "html": HTML}]}
    payload["messages"][0].update(track_opens=True, track_clicks=True)
    assert api.post("/api/v1/mail/send-batch", payload, format="json").status_code == 200

    drain.deliver_claimed(queue.claim_due(batch_size=10))

    html = html_received(sink)
    assert len(tracking_urls(html, "o")) == 1 and len(tracking_urls(html, "c")) == 2
