"""The request bodies, as the API names their fields (all optional to the type checker,
but an attachment's filename and content; the server says what is missing), the `data` of
the answers about templates, scheduled messages, webhooks and sender domains, and the
webhook event that verify_webhook returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict, Union

MetadataValue = Union[str, int, float, bool, None]
# An aware datetime (sent as ISO 8601 with its offset) or an ISO 8601 string with an
# offset ("2026-12-05T09:00:00+01:00", "2026-12-05T08:00:00Z"), sent as it is.
DateTimeLike = Union[datetime, str]


class _AttachmentFile(TypedDict):
    filename: str
    content: str  # the file's bytes in base64


class Attachment(_AttachmentFile, total=False):
    """One entry of `attachments`; attachment_from_path and attachment_from_bytes build it.
    A `content_id` makes it inline: the HTML shows it with `<img src="cid:...">`."""

    content_type: str
    content_id: str


class SendTemplate(TypedDict, total=False):
    """A message's `template`: its `alias` or its `id` (one of the two), the `variables`
    it is rendered with and the `version` (default: the latest)."""

    alias: str
    id: int
    variables: dict[str, Any]
    version: int


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
    template: SendTemplate  # instead of subject, html and text
    scheduled_at: DateTimeLike  # at most 30 days ahead; the answer's status is "scheduled"


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


class TemplateParams(TypedDict, total=False):
    """templates.create (name, alias, subject and html or text required) and
    templates.update (any of them)."""

    name: str
    alias: str
    subject: str
    html: str
    text: str
    defaults: dict[str, Any]


# The event kinds a webhook endpoint can ask for (mailpass_client.WEBHOOK_EVENTS).
WebhookEventName = Literal[
    "sent",
    "delivered",
    "bounced",
    "failed",
    "complained",
    "unsubscribed",
    "opened",
    "clicked",
    "suppressed",
    "scheduled",
    "cancelled",
]
WebhookDeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookParams(TypedDict, total=False):
    """webhooks.create (url required; events default to all of them, enabled to True)
    and webhooks.update (any of them)."""

    url: str
    description: str
    events: list[WebhookEventName]
    enabled: bool


class DomainParams(TypedDict, total=False):
    """domains.create (name required)."""

    name: str  # "example.com"; stored lower-case, an IDN as punycode
    ed25519: bool  # also sign with an Ed25519 key, next to the RSA one (default False)


# The `data` of answers (what `result["data"]` holds).


class MessageCancelled(TypedDict):
    """mail.cancel."""

    message_id: str
    status: str  # "cancelled"


class MessageRescheduled(TypedDict):
    """mail.reschedule."""

    message_id: str
    status: str  # "scheduled"
    scheduled_at: str  # UTC, ending in "Z"


class MessageTemplate(TypedDict):
    """`template` of a message in mail.status (None there when sent without one)."""

    id: int
    alias: str
    version: int


class Template(TypedDict):
    """A template at one of its versions (`version`)."""

    id: int
    alias: str
    name: str
    version: int
    latest_version: int
    subject: str
    html: str  # "" when the template has none; so is text
    text: str
    defaults: dict[str, Any]
    variables: list[str]  # the names it uses at top level, sorted
    created_at: str
    updated_at: str


class TemplateVersion(TypedDict):
    version: int
    created_at: str


class TemplateCreated(TypedDict):
    """templates.create."""

    template: Template


class TemplateDetail(TemplateCreated):
    """templates.get and templates.update: the template and its versions, latest first."""

    versions: list[TemplateVersion]


class TemplatePage(TypedDict):
    """templates.list."""

    total: int
    page: int
    pages: int
    templates: list[Template]


class TemplateDeleted(TypedDict):
    """templates.delete."""

    id: int
    alias: str


class RenderedTemplate(TypedDict):
    """templates.render."""

    subject: str
    html: str  # "" when the template has none; so is text
    text: str
    version: int


class WebhookEndpoint(TypedDict):
    """A webhook endpoint, as every webhooks answer shows it."""

    id: int
    url: str
    description: str
    events: list[WebhookEventName]  # in WEBHOOK_EVENTS' order
    enabled: bool
    # None, "manual" (turned off by a person) or "failing" (by MailPass, after 5 days of
    # failed deliveries)
    disabled_reason: Literal["manual", "failing"] | None
    failing_since: str | None  # the first failed attempt since the last success
    created_at: str
    updated_at: str
    secret_rotated_at: str | None
    previous_secret_expires_at: str | None  # until then the old secret signs too


class WebhookDelivery(TypedDict):
    """One event on its way to one endpoint."""

    id: int
    event_id: str  # "msg_...": the webhook-id header, the same on every retry
    type: str  # "email.delivered", "webhook.test"...
    test: bool
    status: WebhookDeliveryStatus
    attempts: int
    created_at: str
    next_attempt_at: str | None
    last_attempt_at: str | None
    # Of the latest attempt; None before the first.
    response_code: int | None
    duration_ms: int | None
    error: str | None


class WebhookCreated(TypedDict):
    """webhooks.create and webhooks.rotate_secret: the endpoint and its secret
    ("whsec_..."), shown only in these two answers."""

    webhook: WebhookEndpoint
    secret: str


class WebhookDetail(TypedDict):
    """webhooks.get and webhooks.update."""

    webhook: WebhookEndpoint


class WebhookPage(TypedDict):
    """webhooks.list."""

    total: int
    page: int
    pages: int
    webhooks: list[WebhookEndpoint]


class WebhookDeleted(TypedDict):
    """webhooks.delete."""

    id: int


class WebhookDeliveryPage(TypedDict):
    """webhooks.deliveries."""

    total: int
    page: int
    pages: int
    deliveries: list[WebhookDelivery]


class WebhookDeliveryQueued(TypedDict):
    """webhooks.test and webhooks.retry_delivery (202): the delivery, status "pending"."""

    delivery: WebhookDelivery


class WebhookEvent(TypedDict):
    """What verify_webhook returns: the body of a request MailPass sent to an endpoint."""

    type: str  # "email.<event name>", or "webhook.test" for webhooks.test
    created_at: str
    test: bool  # sent with a test key (test mode)
    # message_id, to, from, subject, tags, metadata, status and details (by type); for
    # "webhook.test": webhook_id and message
    data: dict[str, Any]


# A sender domain's status, and each of its records': "pending" (not checked yet),
# "verified" (found as asked at the last check) or "failed" (missing or wrong then).
DomainStatus = Literal["pending", "verified", "failed"]


class _DomainRecord(TypedDict):
    purpose: Literal["dkim", "spf", "dmarc"]
    type: str  # "TXT"
    name: str  # where to publish it: "mp20261204._domainkey.example.com"
    value: str  # what to publish: "v=DKIM1; k=rsa; p=..."
    status: DomainStatus
    found: str | None  # the TXT text found in DNS at the last check; None when none
    detail: str  # why it failed, in English; "" otherwise


class DomainRecord(_DomainRecord, total=False):
    """One DNS record a domain needs. A "dkim" record (one per key in state "active" or
    "pending") also has its selector, algorithm and key state; an "spf" record is there
    only when the instance's operator asks for one."""

    selector: str  # "mp20261204" (RSA), "mp20261204e" (Ed25519)
    algorithm: Literal["rsa-sha256", "ed25519-sha256"]
    # "active": signs mail; "pending": made by domains.rotate, waiting for its record
    key_state: Literal["active", "pending"]


class Domain(TypedDict):
    """A sender domain, as every domains answer shows it."""

    id: int
    name: str
    status: DomainStatus  # "failed": a required record was missing or wrong at the last check
    ed25519: bool
    signing: bool  # mail from it is DKIM-signed now (verified, with an active key)
    created_at: str
    checked_at: str | None  # None until the first check
    next_check_at: str | None
    verified_at: str | None
    records: list[DomainRecord]


class DomainDetail(TypedDict):
    """domains.create, domains.get, domains.verify and domains.rotate."""

    domain: Domain


class DomainDeleted(TypedDict):
    """domains.delete."""

    id: int
    name: str


class DomainPage(TypedDict):
    """domains.list."""

    total: int
    page: int
    pages: int
    domains: list[Domain]
