"""The HTML the message page's sandboxed preview shows: the stored HTML, with the inline
images it refers to as cid:<content_id> (RFC 2392) put in as data: URIs, since the preview
loads nothing from anywhere else (its CSP allows data: images and nothing more).

Only raster images whose type says so become data: URIs (INLINE_IMAGE_TYPES): not SVG, a
document that can carry scripts and links of its own, and nothing the sender labelled as
something else. Every other cid: reference is left as it is, and shows as a broken image.
"""

import base64
import re
from collections.abc import Callable, Iterator
from html import unescape
from urllib.parse import unquote

from django.http import HttpResponse

from api.attachments import content_of, prefetch_attachments
from api.models import Message, MessageAttachment

INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})

# A preview (a message's HTML, a template filled with its sample variables) is a document of
# its own origin (sandbox) that runs no script and loads nothing from the network: remote
# images would tell the sender (or a tracker in the HTML) that someone looked, and from
# where. Inline images (cid:) come in as data: URIs.
PREVIEW_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"

# Start tags and their attributes, read the way a browser's tokenizer reads them (WHATWG
# HTML 13.2.5), as far as a src attribute needs: one pass, in time linear in the HTML
# whatever it holds. Text that only looks like an attribute (<p>src="cid:x"</p>, or inside
# another attribute's value) is never taken for one. Comments and script text are read as
# text, so an <img> written inside one may be rewritten too: the browser ignores it anyway.
_TAG_OPEN = re.compile(r"<[A-Za-z][^\s/>]*")
_ATTRIBUTE = re.compile(
    r"""[\s/]*(?P<name>[^\s/>][^\s/>=]*)(?:\s*=\s*(?P<value>"[^"]*"|'[^']*'|[^\s>]*))?"""
)
_CID = re.compile(r"\s*cid:", re.IGNORECASE)


def inline_image_type(content_type: str) -> str | None:
    """The media type of an attachment the preview may show as an image, else None."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type if media_type in INLINE_IMAGE_TYPES else None


def data_uri(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def cid_of(value: str) -> str | None:
    """What follows "cid:" (any case) in a src value, HTML character references resolved
    and surrounding spaces dropped; None if the value is not a cid: URL."""
    text = unescape(value)
    found = _CID.match(text)
    if found is None:
        return None
    return text[found.end() :].strip() or None


def src_values(html: str) -> Iterator[tuple[int, int]]:
    """The (start, end) of the value of every src attribute of a start tag in `html`,
    quotes included."""
    position = 0
    while tag := _TAG_OPEN.search(html, position):
        position = tag.end()
        while attribute := _ATTRIBUTE.match(html, position):
            position = attribute.end()
            if attribute.group("name").lower() == "src" and attribute.group("value"):
                yield attribute.span("value")


def rewrite_cid_sources(html: str, source_for: Callable[[str], str | None]) -> str:
    """`html` with the value of every src attribute that is a cid: URL replaced by
    source_for(content_id), where that gives a URL (None leaves the attribute as it is);
    the Content-ID is tried as written, then URL-decoded. The URL goes in double-quoted,
    so it must hold no double quote (a data: URI holds none)."""
    pieces = []
    done = 0
    for start, end in src_values(html):
        value = html[start:end]
        reference = cid_of(value[1:-1] if value[0] in "\"'" else value)
        if reference is None:
            continue
        # RFC 2392 writes the Content-ID URL-encoded ("%40" for "@"); senders often don't.
        url = source_for(reference)
        if url is None and unquote(reference) != reference:
            url = source_for(unquote(reference))
        if url is not None:
            pieces += [html[done:start], f'"{url}"']
            done = end
    return "".join(pieces) + html[done:]


def preview_html(message: Message) -> str:
    """The message's HTML for the preview, its inline images as data: URIs. Reads the bytes
    of only those inline images the HTML refers to, each once."""
    if not message.attachment_count or "cid:" not in message.html.lower():
        return message.html
    prefetch_attachments([message])
    images: dict[str, tuple[str, MessageAttachment]] = {
        attachment.content_id: (media_type, attachment)
        for attachment in message.attachment_list
        if attachment.content_id and (media_type := inline_image_type(attachment.content_type))
    }
    uris: dict[str, str] = {}

    def source_for(content_id: str) -> str | None:
        if content_id not in images:
            return None
        if content_id not in uris:
            media_type, attachment = images[content_id]
            uris[content_id] = data_uri(media_type, content_of(attachment))
        return uris[content_id]

    return rewrite_cid_sources(message.html, source_for)


def preview_response(html: str) -> HttpResponse:
    """`html` as the document of a sandboxed preview frame: locked down by PREVIEW_CSP, kept
    by no cache. The view must allow same-origin framing (xframe_options_sameorigin)."""
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = PREVIEW_CSP
    response["Cache-Control"] = "private, no-store"
    return response
