"""The request bodies, as the API names their fields (all optional to the type checker,
but an attachment's filename and content; the server says what is missing)."""

from __future__ import annotations

from typing import TypedDict, Union

MetadataValue = Union[str, int, float, bool, None]


class _AttachmentFile(TypedDict):
    filename: str
    content: str  # the file's bytes in base64


class Attachment(_AttachmentFile, total=False):
    """One entry of `attachments`; attachment_from_path and attachment_from_bytes build it.
    A `content_id` makes it inline: the HTML shows it with `<img src="cid:...">`."""

    content_type: str
    content_id: str


class SendParams(TypedDict, total=False):
    to: str
    subject: str
    html: str
    text: str
    from_email: str
    from_name: str
    reply_to: str
    cc: list[str]
    bcc: list[str]
    tags: list[str]
    metadata: dict[str, MetadataValue]
    track_opens: bool
    track_clicks: bool
    attachments: list[Attachment]
    headers: dict[str, str]
    unsubscribe: bool


class SendBatchParams(TypedDict, total=False):
    messages: list[SendParams]
    from_email: str
    from_name: str


class SuppressionParams(TypedDict, total=False):
    email: str
    reason: str
    description: str


class SuppressionListParams(TypedDict, total=False):
    email: str
    page: int
