"""Building the entries of a message's `attachments` list from a file or from bytes."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Union

from .types import Attachment

BytesLike = Union[bytes, bytearray, memoryview]


def attachment_from_path(
    path: str | os.PathLike[str],
    *,
    content_type: str | None = None,
    content_id: str | None = None,
) -> Attachment:
    """The file at `path` as an attachment named like the file (the last part of the path).

    >>> attachment_from_path("invoices/2024-017.pdf")
    {'filename': '2024-017.pdf', 'content': 'JVBERi0...'}

    `content_type` (e.g. "application/pdf") is guessed by the server from the name when
    left out; `content_id` (e.g. "logo") makes the attachment inline, shown by the HTML
    as `<img src="cid:logo">`. A file that cannot be read raises what `open()` raises:
    FileNotFoundError, IsADirectoryError, PermissionError.
    """
    file = Path(path)
    return attachment_from_bytes(
        file.name, file.read_bytes(), content_type=content_type, content_id=content_id
    )


def attachment_from_bytes(
    filename: str,
    data: BytesLike,
    *,
    content_type: str | None = None,
    content_id: str | None = None,
) -> Attachment:
    """`data` (bytes you already hold: a PDF rendered in memory, say) as an attachment
    named `filename`. `content_type` and `content_id` as for attachment_from_path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"attachment data must be bytes, not {type(data).__name__}"
            + (": encode the text first, e.g. text.encode()" if isinstance(data, str) else "")
        )
    attachment: Attachment = {
        "filename": filename,
        "content": base64.b64encode(data).decode("ascii"),
    }
    if content_type is not None:
        attachment["content_type"] = content_type
    if content_id is not None:
        attachment["content_id"] = content_id
    return attachment
