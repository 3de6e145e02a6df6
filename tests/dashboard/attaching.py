"""Attachments on a message made by tests/factories.make_message, stored the way /send
stores them (api.attachments), for tests that build messages with the ORM (the security
matrices, the browser tests) rather than through the API."""

import struct
import zlib

from api.attachments import Upload, attachments_for, files_store
from api.models import Message, MessageAttachment


def attach(
    message: Message,
    *,
    filename: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    content_id: str = "",
) -> MessageAttachment:
    """Add one file after the message's others, as its next position."""
    upload = Upload(filename=filename, content_type=content_type, content_id=content_id, data=data)
    files = files_store(account=message.account, contents=[data])
    [row] = attachments_for([upload], files)
    row.message = message
    row.position = message.attachment_count
    row.save()
    message.attachment_count += 1
    message.save(update_fields=["attachment_count"])
    return row


def png(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    """A real PNG of one colour: signature, IHDR, one zlib IDAT, IEND (RFC 2083)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))  # filter 0 per row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
