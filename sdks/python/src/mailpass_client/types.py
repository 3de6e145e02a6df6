"""The request bodies, as the API names their fields (all optional to the type checker;
the server says what is missing)."""

from __future__ import annotations

from typing import TypedDict, Union

MetadataValue = Union[str, int, float, bool, None]


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
