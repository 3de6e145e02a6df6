"""Turning a stored Message into the email object a provider connection sends.

For SMTP the wire bytes are rendered here once, directly: Django's MIME generation costs
several times the SMTP transaction itself. ESP backends (django-anymail) read the same
object's ordinary Django attributes instead.
"""

import binascii
import dataclasses
import secrets
import time
from email import encoders
from email.header import Header
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.policy import compat32
from email.utils import formataddr, formatdate
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import sanitize_address

from api.attachments import content_of
from api.models import Message, MessageAttachment
from api.tracking import remember_links, tracked_html
from api.unsubscribe import unsubscribe_url
from providers import dkim, domains
from providers.delivery import Needs

_CRLF = b"\r\n"
_MAX_LINE = 998  # RFC 5322 hard limit, without the CRLF


def new_message_id() -> str:
    """<random.unixtime@DOMAIN>, DOMAIN from MAILPASS_MESSAGE_ID_DOMAIN."""
    return f"<{secrets.token_hex(16)}.{int(time.time())}@{settings.MAILPASS_MESSAGE_ID_DOMAIN}>"


def _header(name: str, value: str) -> bytes:
    # Short plain ASCII goes as is. Anything else becomes RFC 2047 encoded words, which
    # fold at any point (a 998-character word cannot) and cannot be mistaken for encoded
    # words the sender typed.
    if value.isascii() and len(name) + len(value) < 76 and "=?" not in value:
        return f"{name}: {value}".encode()
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode()


def _address_header(name: str, addresses: list[str]) -> bytes:
    # Already encoded by formataddr/_address; only folded here, between addresses.
    line, lines = f"{name}:", []
    for i, address in enumerate(addresses):
        piece = f" {address}" + ("," if i < len(addresses) - 1 else "")
        if len(line) + len(piece) > 78 and line.strip() != f"{name}:":
            lines.append(line)
            line = ""
        line += piece
    lines.append(line)
    return "\r\n".join(lines).encode()


def _address(address: str) -> str:
    # Validated addresses are plain ASCII almost always; IDN domains need punycode.
    return address if address.isascii() else sanitize_address(address, "utf-8")


def _mailbox(name: str, address: str) -> str:
    """`name <address>` for a From header. A name that is not short plain ASCII, or that
    looks like an encoded word, becomes RFC 2047 encoded words: they fold within the line
    limit, and a receiver decodes them back to exactly what the sender typed."""
    address = _address(address)
    if not name:
        return address
    if name.isascii() and len(name) < 60 and "=?" not in name:
        return formataddr((name, address))  # quotes the name where RFC 5322 needs it
    encoded = Header(name, "utf-8", header_name="From").encode(linesep="\r\n")
    return f"{encoded} <{address}>"


def _body_part(content: str, subtype: str) -> bytes:
    data = content.replace("\r\n", "\n").replace("\r", "\n").encode()
    plain = content.isascii() and max(map(len, data.split(b"\n"))) <= _MAX_LINE
    if plain:
        encoding, payload = "7bit", data
    else:
        encoding, payload = "quoted-printable", binascii.b2a_qp(data)
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode()
    return head + payload.replace(b"\n", _CRLF)


class PreparedEmail(EmailMultiAlternatives):
    """An EmailMultiAlternatives that can also hand the SMTP backend its finished bytes."""

    message_record: Message
    html_as_sent: str  # the HTML body with tracking applied
    tracked_links: dict[int, str]  # the links click tracking rewrote, by position
    files: list[tuple[MessageAttachment, bytes]]  # the attachments and their contents
    needs: Needs  # what it asks of a provider (size as sent, inline files…)
    dkim_signers: list[dkim.Signer]  # its verified From domain's keys; none: unsigned
    # What anymail's ESP backends read from any message, as from an AnymailMessage.
    tags: list[str]
    metadata: dict[str, Any]

    def smtp_envelope(self) -> tuple[str, list[str], bytes]:
        message = self.message_record
        recipients = [_address(a) for a in [message.to_email, *message.cc, *message.bcc]]
        wire = render(message, html=self.html_as_sent, files=self.files)
        return _address(message.from_email), recipients, dkim.sign(wire, self.dkim_signers)


def _extra_headers(message: Message) -> dict[str, str]:
    """The caller's headers, and MailPass's one-click unsubscribe headers unless the caller
    set a List-Unsubscribe of their own."""
    headers = dict(message.headers)
    if message.unsubscribe and "list-unsubscribe" not in {name.lower() for name in headers}:
        headers = {k: v for k, v in headers.items() if k.lower() != "list-unsubscribe-post"}
        headers["List-Unsubscribe"] = f"<{unsubscribe_url(message.pk)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def _custom_header(name: str, value: str) -> bytes:
    # Plain ASCII is folded at spaces, so structured values (References, List-Unsubscribe)
    # stay as they are; non-ASCII (X- headers only) and "=?" become encoded words.
    if not value.isascii() or "=?" in value:
        return _header(name, value)
    line, lines = f"{name}:", []
    for word in value.split(" "):
        if len(line) + 1 + len(word) > 78 and line.strip() and not line.endswith(":"):
            lines.append(line)
            line = ""
        line += f" {word}"
    lines.append(line)
    return "\r\n".join(lines).encode()


def _attachment_mime(attachment: MessageAttachment, data: bytes) -> MIMEBase:
    """The attachment as a MIME part: base64, its filename in Content-Disposition (RFC 2231
    when not ASCII) and, for an inline one, its Content-ID."""
    maintype, _, subtype = attachment.content_type.partition(";")[0].strip().partition("/")
    part = MIMEBase(maintype, subtype)
    del part["MIME-Version"]  # the message's own says it once
    part.replace_header("Content-Type", attachment.content_type)
    part.set_payload(data)
    encoders.encode_base64(part)
    disposition = "inline" if attachment.content_id else "attachment"
    part.add_header("Content-Disposition", disposition, filename=attachment.filename)
    if attachment.content_id:
        part["Content-ID"] = f"<{attachment.content_id}>"
    return part


def _type_for_anymail(content_type: str, data: bytes) -> str:
    """The Content-Type to give anymail for a file. anymail decodes a text/* file with its
    charset (UTF-8 when it names none) and then writes its type as type/subtype plus that
    charset alone. So a text file that is UTF-8 says so, which keeps its other parameters
    (a calendar invitation's method=REQUEST), and one its charset does not decode travels
    as application/octet-stream, byte for byte, instead of failing."""
    if not content_type.lower().startswith("text/"):
        return content_type
    probe = EmailMessage()
    probe["Content-Type"] = content_type
    charset = probe.get_content_charset()
    try:
        data.decode(charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        return "application/octet-stream"
    return content_type if charset else f'{content_type}; charset="utf-8"'


_PART_POLICY = compat32.clone(linesep="\r\n", max_line_length=78)


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    """A multipart entity (its Content-Type line, a blank line, the parts) around `parts`."""
    # "=_" cannot occur in base64 or quoted-printable; 7bit parts are checked.
    boundary = f"=_mp_{secrets.token_hex(12)}"
    while any(boundary.encode() in part for part in parts):
        boundary = f"=_mp_{secrets.token_hex(24)}"
    dash = b"--" + boundary.encode()
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"'.encode() + _CRLF * 2
    body = b"".join(dash + _CRLF + part + _CRLF for part in parts)
    return head + body + dash + b"--" + _CRLF


def _content(message: Message, html: str, files: list[tuple[MessageAttachment, bytes]]) -> bytes:
    """The message's content entity: text, HTML or both as multipart/alternative; inline
    images with the HTML in multipart/related; attachments around it in multipart/mixed."""
    inline = [
        _attachment_mime(a, d).as_bytes(policy=_PART_POLICY) for a, d in files if a.content_id
    ]
    regular = [
        _attachment_mime(a, d).as_bytes(policy=_PART_POLICY) for a, d in files if not a.content_id
    ]
    html_entity = _body_part(html, "html") if html else None
    if html_entity is not None and inline:
        html_entity, inline = _multipart("related", [html_entity, *inline]), []
    text_entity = _body_part(message.text, "plain") if message.text or not html else None
    if text_entity is not None and html_entity is not None:
        content = _multipart("alternative", [text_entity, html_entity])
    else:
        content = html_entity or text_entity or b""
    if inline or regular:
        content = _multipart("mixed", [content, *inline, *regular])
    return content


def render(
    message: Message,
    *,
    html: str | None = None,
    files: list[tuple[MessageAttachment, bytes]] | None = None,
) -> bytes:
    """The message as it goes on the wire: headers, the caller's own headers, then its
    content (_content). Bcc never appears; line ends are CRLF. `files` defaults to the
    message's attachments with their stored contents."""
    lines = [
        _address_header("From", [_mailbox(message.from_name, message.from_email)]),
        _address_header("To", [_address(message.to_email)]),
    ]
    if message.cc:
        lines.append(_address_header("Cc", [_address(a) for a in message.cc]))
    if message.reply_to:
        lines.append(_address_header("Reply-To", [_address(message.reply_to)]))
    lines += [
        _header("Subject", message.subject),
        f"Date: {formatdate(usegmt=True)}".encode(),
        f"Message-ID: {message.message_id}".encode(),
    ]
    lines += [_custom_header(name, value) for name, value in _extra_headers(message).items()]
    lines.append(b"MIME-Version: 1.0")
    html = tracked_html(message)[0] if html is None else html
    if files is None:
        files = [(a, content_of(a)) for a in message.attachment_list]
    return _CRLF.join(lines) + _CRLF + _content(message, html, files)


def look_up_signing_keys(messages: list[Message]) -> None:
    """Note on each message its account's verified sender domains and their DKIM keys, in
    one query (the drain does it once per claimed chunk)."""
    found = domains.signing_keys(message.account_id for message in messages)
    for message in messages:
        message.signing_keys = found.get(message.account_id, {})


def build_email(message: Message) -> PreparedEmail:
    """The email for `message`: our Message-ID on every attempt, Bcc only in the envelope,
    the caller's headers and the attachments (read from storage). Over SMTP it is
    DKIM-signed when its From domain is verified (smtp_envelope).

    Tags and metadata ride along as attributes that django-anymail ESP backends map to
    their own fields; over SMTP they are not sent (they are not for the recipient's eyes).
    """
    html, links = tracked_html(message)
    if message.text or not html:
        email = PreparedEmail(body=message.text)
        if html:
            email.attach_alternative(html, "text/html")
    else:
        email = PreparedEmail(body=html)
        email.content_subtype = "html"
    attachments = message.attachment_list
    email.files = [(attachment, content_of(attachment)) for attachment in attachments]
    for attachment, data in email.files:
        part = _attachment_mime(attachment, data)
        part.replace_header("Content-Type", _type_for_anymail(attachment.content_type, data))
        email.attach(part)
    if message.signing_keys is None:
        look_up_signing_keys([message])
    assert message.signing_keys is not None
    verified = domains.verified_domain_of(message.signing_keys, message.from_email)
    email.dkim_signers = domains.signers_for(message.signing_keys[verified]) if verified else []
    needs = provider_needs(message, [(a.size, bool(a.content_id)) for a in attachments])
    email.needs = dataclasses.replace(needs, unverified_from=verified is None)
    email.message_record = message
    email.html_as_sent = html
    email.subject = message.subject
    email.from_email = _mailbox(message.from_name, message.from_email)
    email.to = [message.to_email]
    email.cc = list(message.cc)
    email.bcc = list(message.bcc)
    email.reply_to = [message.reply_to] if message.reply_to else []
    email.extra_headers = {"Message-ID": message.message_id, **_extra_headers(message)}
    # Only when there are any: some ESPs' backends write even empty ones into headers.
    if message.tags:
        email.tags = list(message.tags)
    if message.metadata:
        email.metadata = dict(message.metadata)
    email.tracked_links = links
    return email


def provider_needs(message: Message, files: list[tuple[int, bool]]) -> Needs:
    """What `message` asks of a provider (providers.delivery.cannot_take); `files`: the
    size and whether inline of each attachment. The size is about what it takes as sent,
    what ESPs' limits count: its texts, each file in base64 (4 characters per 3 bytes,
    lines of 76), and room for headers and MIME parts."""
    encoded = sum(-(-size // 3) * 4 * 78 // 76 for size, _ in files)
    texts = (message.subject, message.html, message.text)
    return Needs(
        size=sum(len(text.encode()) for text in texts) + encoded + 4096,
        inline_files=any(inline for _, inline in files),
        non_ascii_headers=not all(f"{k}{v}".isascii() for k, v in message.headers.items()),
    )


def headers_as_sent(message: Message) -> str:
    """The message's header block as MailPass hands it to an SMTP server, with its line
    folding (for people to read: the dashboard's message page). The Date header is the time
    of this call, not of the sending; attachments are not read."""
    files = [(attachment, b"") for attachment in message.attachment_list]
    head = render(message, files=files).split(_CRLF * 2, 1)[0]
    return head.decode("ascii", errors="replace").replace("\r\n", "\n")


def email_for_sending(message: Message) -> PreparedEmail:
    """build_email(), with the tracked links stored first: the recipient may click one as
    soon as the provider takes the message."""
    email = build_email(message)
    remember_links(message, email.tracked_links)
    return email
