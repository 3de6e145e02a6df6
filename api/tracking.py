"""Open and click tracking: signed short URLs, and the HTML rewriting that puts them in.

An open is a 1x1 GIF at /t/o/<token>, placed just before </body>. A click goes through
/t/c/<token>, which names the message and the position of the link in its stored HTML, not
the target: the redirect goes to the link found at that position in the message we sent, so
no URL, signed or not, can make us redirect anywhere else. Tokens carry a truncated
HMAC over what they name (api.signing); a forged or altered token is a 404 and records
nothing.
"""

import ipaddress
import re
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser

from django.conf import settings

from api.models import Message
from api.signing import base36, matches, read_base36, read_decimal, signature


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


def _rewrite_links(html: str, message_pk: int) -> str:
    parser = _Links()
    parser.feed(html)
    parser.close()
    out, position = [], 0
    for index, (tag, _) in enumerate(parser.tags):
        start = html.find(tag, position)
        if start < 0:  # the parser normalised the tag: leave this link alone
            continue
        tracked = escape(_url("c", click_token(message_pk, index)), quote=True)
        new_tag = _HREF.sub(lambda m, url=tracked: f'{m.group(1)}"{url}"', tag, count=1)
        out += [html[position:start], new_tag]
        position = start + len(tag)
    out.append(html[position:])
    return "".join(out)


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


def tracked_html(message: Message) -> str:
    """The HTML body as sent: links rewritten when click tracking is on, the open pixel
    added when open tracking is on. The stored body stays as the caller wrote it."""
    html = message.html
    if not html:
        return html
    if message.track_clicks:
        html = _rewrite_links(html, message.pk)
    if message.track_opens:
        html = _add_pixel(html, message.pk)
    return html


def client_ip(meta: dict[str, str]) -> str | None:
    """The client's address: REMOTE_ADDR, or the last entry of the trusted proxy header
    (MAILPASS_TRUSTED_PROXY_HEADER, e.g. X-Forwarded-For) when one is configured. The last
    entry is the address our own proxy saw; earlier ones are whatever the client claimed."""
    header = settings.MAILPASS_TRUSTED_PROXY_HEADER
    if header:
        value = meta.get("HTTP_" + header.upper().replace("-", "_"), "")
        candidate = value.split(",")[-1].strip()
        if _is_ip(candidate):
            return candidate
    remote = meta.get("REMOTE_ADDR", "")
    return remote if _is_ip(remote) else None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
