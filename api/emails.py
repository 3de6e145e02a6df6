"""Turning a stored Message into the email object a provider connection sends.

For SMTP the wire bytes are rendered here once, directly: Django's MIME generation costs
several times the SMTP transaction itself. ESP backends (django-anymail) read the same
object's ordinary Django attributes instead.
"""

import binascii
import secrets
import time
from email.header import Header
from email.utils import formataddr, formatdate
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import sanitize_address

from api.models import Message
from api.tracking import remember_links, tracked_html

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
    # What anymail's ESP backends read from any message, as from an AnymailMessage.
    tags: list[str]
    metadata: dict[str, Any]

    def smtp_envelope(self) -> tuple[str, list[str], bytes]:
        message = self.message_record
        recipients = [_address(a) for a in [message.to_email, *message.cc, *message.bcc]]
        return _address(message.from_email), recipients, render(message, html=self.html_as_sent)


def render(message: Message, *, html: str | None = None) -> bytes:
    """The message as it goes on the wire: headers, then one text/html part or both as
    multipart/alternative. Bcc never appears; line ends are CRLF."""
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
        b"MIME-Version: 1.0",
    ]
    html = tracked_html(message)[0] if html is None else html
    if message.text and html:
        # "=_" cannot occur in quoted-printable text, and 7bit parts are ours to check.
        boundary = f"=_mp_{secrets.token_hex(12)}"
        parts = [_body_part(message.text, "plain"), _body_part(html, "html")]
        if any(boundary.encode() in part for part in parts):
            boundary = f"=_mp_{secrets.token_hex(24)}"
        lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"'.encode())
        body = b"".join(b"--" + boundary.encode() + _CRLF + part + _CRLF for part in parts)
        body += b"--" + boundary.encode() + b"--" + _CRLF
    else:
        part = _body_part(html, "html") if html else _body_part(message.text, "plain")
        head, body = part.split(_CRLF * 2, 1)
        lines += head.split(_CRLF)
    return _CRLF.join(lines) + _CRLF * 2 + body


def build_email(message: Message) -> PreparedEmail:
    """The email for `message`: our Message-ID on every attempt, Bcc only in the envelope.

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
    email.message_record = message
    email.html_as_sent = html
    email.subject = message.subject
    email.from_email = _mailbox(message.from_name, message.from_email)
    email.to = [message.to_email]
    email.cc = list(message.cc)
    email.bcc = list(message.bcc)
    email.reply_to = [message.reply_to] if message.reply_to else []
    email.extra_headers = {"Message-ID": message.message_id}
    email.tags = list(message.tags)
    email.metadata = dict(message.metadata)
    email.tracked_links = links
    return email


def headers_as_sent(message: Message) -> str:
    """The message's header block as MailPass hands it to an SMTP server, with its line
    folding (for people to read: the dashboard's message page). The Date header is the time
    of this call, not of the sending."""
    _, _, wire = build_email(message).smtp_envelope()
    head = wire.split(_CRLF * 2, 1)[0]
    return head.decode("ascii", errors="replace").replace("\r\n", "\n")


def email_for_sending(message: Message) -> PreparedEmail:
    """build_email(), with the tracked links stored first: the recipient may click one as
    soon as the provider takes the message."""
    email = build_email(message)
    remember_links(message, email.tracked_links)
    return email
