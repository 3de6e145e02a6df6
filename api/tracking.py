"""Open and click tracking: signed short URLs, and the HTML rewriting that puts them in.

An open is a 1x1 GIF at /t/o/<token>, placed just before </body>. A click goes through
/t/c/<token>, which names the message and the position of the link in its HTML, not the
target: the redirect goes to the link stored at that position when the message was sent
(MessageLink), so no URL, signed or not, can make us redirect anywhere else. Tokens carry a
truncated HMAC over what they name (api.signing); a forged or altered token is a 404 and
records nothing.

What a stranger can make of these public URLs is bounded: they work for
MAILPASS_TRACKING_LINK_DAYS after the message was accepted and only while the operator
lets its account track (Account.tracking_enabled); a click costs one indexed lookup; one
client's opens of a message are recorded once per OPEN_REPEAT; a message keeps at most
MAX_TRACKING_EVENTS opens and clicks; and each client address gets
MAILPASS_TRACKING_RATE_LIMIT requests (TrackingThrottle).
"""

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from api.models import Message, MessageLink
from api.signing import base36, matches, read_base36, read_decimal, signature
from api.throttling import WindowThrottle


def open_token(message_pk: int) -> str:
    return f"{base36(message_pk)}.{signature('open', message_pk)}"


def click_token(message_pk: int, link_index: int) -> str:
    return f"{base36(message_pk)}.{link_index}.{signature('click', message_pk, link_index)}"


@dataclass(frozen=True)
class Click:
    message_pk: int
    link_index: int


def read_open_token(token: str) -> int | None:
    """The message pk an open token names, or None if it is not one we signed."""
    parts = token.split(".")
    if len(parts) != 2 or (pk := read_base36(parts[0])) is None:
        return None
    return pk if matches(parts[1], "open", pk) else None


def read_click_token(token: str) -> Click | None:
    parts = token.split(".")
    if len(parts) != 3 or (pk := read_base36(parts[0])) is None:
        return None
    if (index := read_decimal(parts[1])) is None:
        return None
    return Click(pk, index) if matches(parts[2], "click", pk, index) else None


def _url(kind: str, token: str) -> str:
    return f"{settings.MAILPASS_PUBLIC_URL}/t/{kind}/{token}"


# --- the HTML -----------------------------------------------------------------------------


class _Links(HTMLParser):
    """The trackable links of an HTML body, in order: each <a> whose href is http(s)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, str]] = []  # (the start tag as written, its href)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = dict(attrs).get("href") or ""
        if href.strip().lower().startswith(("http://", "https://")):
            self.tags.append((self.get_starttag_text() or "", href.strip()))


def trackable_links(html: str) -> list[str]:
    """The targets of the links that click tracking rewrites, in the order they appear."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    return [href for _, href in parser.tags]


_HREF = re.compile(r"""(\shref\s*=\s*)(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def _rewrite_links(html: str, message_pk: int) -> tuple[str, dict[int, str]]:
    """The HTML with its links through /t/c/, and the links rewritten by position."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    out: list[str] = []
    position = 0
    links: dict[int, str] = {}
    for index, (tag, href) in enumerate(parser.tags):
        start = html.find(tag, position)
        if start < 0:  # the parser normalised the tag: leave this link alone
            continue
        tracked = escape(_url("c", click_token(message_pk, index)), quote=True)
        out += [html[position:start], _with_href(tag, tracked)]
        position = start + len(tag)
        links[index] = href
    out.append(html[position:])
    return "".join(out), links


def _with_href(tag: str, url: str) -> str:
    return _HREF.sub(lambda m: f'{m.group(1)}"{url}"', tag, count=1)


def _add_pixel(html: str, message_pk: int) -> str:
    pixel = (
        f'<img src="{escape(_url("o", open_token(message_pk)), quote=True)}" width="1" '
        'height="1" alt="" style="display:block;border:0;width:1px;height:1px">'
    )
    ends = list(_BODY_END.finditer(html))
    if not ends:
        return html + pixel
    at = ends[-1].start()
    return html[:at] + pixel + html[at:]


def tracked_html(message: Message) -> tuple[str, dict[int, str]]:
    """The HTML body as sent: links rewritten when click tracking is on, the open pixel
    added when open tracking is on; and the rewritten links by position (for
    remember_links). The stored body stays as the caller wrote it."""
    html = message.html
    links: dict[int, str] = {}
    if not html:
        return html, links
    if message.track_clicks:
        html, links = _rewrite_links(html, message.pk)
    if message.track_opens:
        html = _add_pixel(html, message.pk)
    return html, links


def remember_links(message: Message, links: dict[int, str]) -> None:
    """Store the tracked links of `message` before it goes out (again on every attempt,
    which changes nothing: the HTML does not change)."""
    if links:
        MessageLink.objects.bulk_create(
            [MessageLink(message=message, position=i, url=url) for i, url in links.items()],
            ignore_conflicts=True,
        )


# --- what a hit on /t/ may record -------------------------------------------------------

# One client's repeated opens of a message within this span are one open.
OPEN_REPEAT = dt.timedelta(minutes=5)
# Opens and clicks recorded per message, at most.
MAX_TRACKING_EVENTS = 1000


def link_expired(accepted_at: dt.datetime) -> bool:
    return timezone.now() - accepted_at > dt.timedelta(days=settings.MAILPASS_TRACKING_LINK_DAYS)


class TrackingThrottle(WindowThrottle):
    """Requests to /t/ per client address, at MAILPASS_TRACKING_RATE_LIMIT."""

    scope = "tracking"

    def get_rate(self) -> str:
        return settings.MAILPASS_TRACKING_RATE_LIMIT

    def get_cache_key(self, request: HttpRequest, view: object) -> str | None:
        ip = client_ip(request.META)
        return f"throttle:tracking:{ip}" if ip else None


def client_ip(meta: dict[str, str]) -> str | None:
    """The client's address: REMOTE_ADDR, unless that is one of MAILPASS_TRUSTED_PROXIES
    and MAILPASS_TRUSTED_PROXY_HEADER (e.g. X-Forwarded-For) is set. Then the header's
    entries are read from the right, the way they were appended, and the first address that
    is not a trusted proxy is the client: what stands left of it is whatever the client
    claimed. A header that does not parse counts for nothing."""
    remote = meta.get("REMOTE_ADDR", "")
    if not _is_ip(remote):
        return None
    header = settings.MAILPASS_TRUSTED_PROXY_HEADER
    if not header or not _is_trusted_proxy(remote):
        return remote
    chain = [
        item.strip() for item in meta.get("HTTP_" + header.upper().replace("-", "_"), "").split(",")
    ]
    if not all(_is_ip(address) for address in chain):
        return remote
    for address in reversed(chain):
        if not _is_trusted_proxy(address):
            return address
    return chain[0]


def _is_trusted_proxy(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in settings.MAILPASS_TRUSTED_PROXIES)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
