from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ._transport import Transport
from .errors import ConfigurationError
from .types import (
    DateTimeLike,
    DomainParams,
    SendBatchParams,
    SendParams,
    SuppressionListParams,
    SuppressionParams,
    TemplateParams,
    WebhookDeliveryStatus,
    WebhookParams,
)

BASE_URL_ENV = "MAILPASS_BASE_URL"
Envelope = dict[str, Any]


class Client:
    """A MailPass API client.

    >>> client = Client("mp_live_...", base_url="https://mail.example.com")
    >>> client.mail.send({"to": "a@example.com", "subject": "Hi", "text": "Hello"})

    `base_url` defaults to the MAILPASS_BASE_URL environment variable. `timeout` is in
    seconds per attempt; `max_retries` counts attempts after the first (0: none);
    `retry_on_send_limit` also retries SEND_LIMIT_EXCEEDED. `backoff` is the first pause
    between attempts in seconds, doubled each time; it exists for tests.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 2,
        retry_on_send_limit: bool = False,
        backoff: float = 0.5,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigurationError(
                "The MailPass API key is empty: pass the key from Dashboard > API Keys."
            )
        url = (base_url or os.environ.get(BASE_URL_ENV) or "").strip().rstrip("/")
        if not url:
            raise ConfigurationError(
                "No MailPass base URL: pass base_url= (e.g. https://mail.example.com) "
                f"or set the {BASE_URL_ENV} environment variable."
            )
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"The MailPass base URL {url!r} is not an http(s) URL.")
        if not timeout or timeout <= 0:
            raise ConfigurationError("timeout must be a number of seconds above 0.")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError("max_retries must be an integer, 0 or more.")
        self._transport = Transport(
            api_key.strip(),
            url,
            timeout=float(timeout),
            max_retries=max_retries,
            retry_on_send_limit=bool(retry_on_send_limit),
            backoff=float(backoff),
        )
        self.mail = Mail(self._transport)
        self.suppressions = Suppressions(self._transport)
        self.templates = Templates(self._transport)
        self.webhooks = Webhooks(self._transport)
        self.domains = Domains(self._transport)

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def __repr__(self) -> str:
        return f"mailpass_client.Client(base_url={self.base_url!r}, api_key='[hidden]')"


class Mail:
    """/api/v1/mail: send, send a batch, ask for a message's status, cancel or move a
    scheduled message."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return "mailpass_client.Mail()"

    def send(
        self, params: SendParams | Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Envelope:
        """Send one message now, or at `scheduled_at`; the answer holds its `message_id`."""
        return self._transport.request(
            "POST",
            "/api/v1/mail/send",
            body=_with_iso_scheduled_at(params, "scheduled_at"),
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )

    def send_batch(
        self,
        params: SendBatchParams | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Envelope:
        """Queue 1 to 100 messages; invalid ones come back `failed` with their errors."""
        body: Mapping[str, Any] = params
        messages = params.get("messages")
        if isinstance(messages, list):
            body = {
                **params,
                "messages": [
                    _with_iso_scheduled_at(message, f"messages[{index}].scheduled_at")
                    for index, message in enumerate(messages)
                ],
            }
        return self._transport.request(
            "POST",
            "/api/v1/mail/send-batch",
            body=body,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )

    def status(self, message_id: str, params: Mapping[str, Any] | None = None) -> Envelope:
        """A message and its events; `params={"events_after": n}` for the next page."""
        return self._transport.request(
            "GET", "/api/v1/mail/status/" + _message_segment(message_id), query=params
        )

    def cancel(self, message_id: str) -> Envelope:
        """Cancel a scheduled message (again: the same answer). MessageNotScheduledError
        once it has left `scheduled` for the queue."""
        return self._transport.request(
            "POST", f"/api/v1/mail/{_message_segment(message_id)}/cancel"
        )

    def reschedule(self, message_id: str, scheduled_at: DateTimeLike) -> Envelope:
        """Move a scheduled message to `scheduled_at` (an aware datetime or an ISO 8601
        string with an offset). MessageNotScheduledError when it is no longer scheduled."""
        return self._transport.request(
            "PATCH",
            "/api/v1/mail/" + _message_segment(message_id),
            body={"scheduled_at": _iso(scheduled_at, "scheduled_at")},
        )


class Suppressions:
    """/api/v1/suppressions: addresses this account never sends to."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return "mailpass_client.Suppressions()"

    def list(self, params: SuppressionListParams | Mapping[str, Any] | None = None) -> Envelope:
        """One page of the list, newest first; `{"email": ..., "page": n}` to filter/page."""
        return self._transport.request("GET", "/api/v1/suppressions", query=params)

    def add(self, params: SuppressionParams | Mapping[str, Any] | str) -> Envelope:
        """Put an address on the list: `{"email", "reason"?, "description"?}` or the address."""
        body = {"email": params} if isinstance(params, str) else params
        return self._transport.request("POST", "/api/v1/suppressions", body=body)

    def remove(self, email: str) -> Envelope:
        """Take an address off the list (NotFoundError if it was not on it)."""
        return self._transport.request("DELETE", "/api/v1/suppressions/" + quote(email, safe=""))


class Templates:
    """/api/v1/templates: messages kept on the server, sent with `"template": {...}`.
    `id_or_alias` is a template's id (int) or its alias (str)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return "mailpass_client.Templates()"

    def list(self, page: int | None = None) -> Envelope:
        """One page of the account's templates (100 a page, newest first)."""
        query = {"page": page} if page is not None else None
        return self._transport.request("GET", "/api/v1/templates", query=query)

    def create(self, params: TemplateParams | Mapping[str, Any]) -> Envelope:
        """A new template, `{"name", "alias", "subject", "html"?, "text"?, "defaults"?}`,
        at version 1."""
        return self._transport.request("POST", "/api/v1/templates", body=params)

    def get(self, id_or_alias: int | str, version: int | None = None) -> Envelope:
        """A template with its list of versions; its latest content, or `version`'s."""
        query = {"version": version} if version is not None else None
        return self._transport.request("GET", _template_path(id_or_alias), query=query)

    def update(
        self, id_or_alias: int | str, params: TemplateParams | Mapping[str, Any]
    ) -> Envelope:
        """Change a template: a new subject, html, text or defaults makes a new version."""
        return self._transport.request("PATCH", _template_path(id_or_alias), body=params)

    def delete(self, id_or_alias: int | str) -> Envelope:
        """Delete a template and its versions (TemplateInUseError while scheduled
        messages use it)."""
        return self._transport.request("DELETE", _template_path(id_or_alias))

    def render(
        self,
        id_or_alias: int | str,
        variables: Mapping[str, Any] | None = None,
        version: int | None = None,
    ) -> Envelope:
        """The subject, html and text a send with these variables would have; sends nothing."""
        body: dict[str, Any] = {}
        if variables is not None:
            body["variables"] = variables
        if version is not None:
            body["version"] = version
        return self._transport.request("POST", _template_path(id_or_alias) + "/render", body=body)


# The event kinds an endpoint can ask for; an event's `type` is "email.<kind>".
WEBHOOK_EVENTS = (
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
)


class Webhooks:
    """/api/v1/webhooks: URLs of your application that MailPass POSTs a signed event to
    when something happens to a message, and the log of those deliveries. Every call needs
    a key with the `webhooks` permission; check what arrives with verify_webhook().
    `webhook_id` and `delivery_id` are ints."""

    EVENTS = WEBHOOK_EVENTS

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return "mailpass_client.Webhooks()"

    def list(self, page: int | None = None) -> Envelope:
        """One page of the account's endpoints (100 a page, newest first)."""
        query = {"page": page} if page is not None else None
        return self._transport.request("GET", "/api/v1/webhooks", query=query)

    def create(self, params: WebhookParams | Mapping[str, Any]) -> Envelope:
        """A new endpoint, `{"url", "description"?, "events"?, "enabled"?}` (events: all
        of WEBHOOK_EVENTS unless given). The answer's `secret` ("whsec_...") is shown only
        here and by rotate_secret: keep it for your receiver."""
        return self._transport.request("POST", "/api/v1/webhooks", body=params)

    def get(self, webhook_id: int) -> Envelope:
        """One endpoint (NotFoundError for an id that is not one of the account's)."""
        return self._transport.request("GET", _webhook_path(webhook_id))

    def update(self, webhook_id: int, params: WebhookParams | Mapping[str, Any]) -> Envelope:
        """Change any of url, description, events and enabled. `"enabled": False` turns it
        off (`disabled_reason` "manual"); `True` turns it on and clears its failures."""
        return self._transport.request("PATCH", _webhook_path(webhook_id), body=params)

    def delete(self, webhook_id: int) -> Envelope:
        """Delete an endpoint and its deliveries."""
        return self._transport.request("DELETE", _webhook_path(webhook_id))

    def rotate_secret(self, webhook_id: int, overlap_hours: int | None = None) -> Envelope:
        """A new signing secret, in the answer this once. For `overlap_hours` (0 to 168;
        None: the server's default, 24) the old secret signs too, next to the new one."""
        body = {"overlap_hours": overlap_hours} if overlap_hours is not None else None
        return self._transport.request(
            "POST", _webhook_path(webhook_id) + "/rotate-secret", body=body
        )

    def deliveries(
        self,
        webhook_id: int,
        page: int | None = None,
        status: WebhookDeliveryStatus | None = None,
    ) -> Envelope:
        """One page of the endpoint's deliveries (50 a page, newest first), optionally
        only those `status` "pending", "succeeded" or "failed". A live key sees live
        deliveries, a test key test ones."""
        query: dict[str, Any] = {}
        if page is not None:
            query["page"] = page
        if status is not None:
            query["status"] = status
        return self._transport.request(
            "GET", _webhook_path(webhook_id) + "/deliveries", query=query or None
        )

    def retry_delivery(self, webhook_id: int, delivery_id: int) -> Envelope:
        """Send a delivery again now: "pending" again, the same `event_id`.
        WebhookDisabledError while the endpoint is turned off."""
        path = f"{_webhook_path(webhook_id)}/deliveries/{_id(delivery_id, 'delivery_id')}/retry"
        return self._transport.request("POST", path)

    def test(self, webhook_id: int) -> Envelope:
        """Queue a signed "webhook.test" event for the endpoint; the answer is its pending
        delivery. WebhookDisabledError while the endpoint is turned off."""
        return self._transport.request("POST", _webhook_path(webhook_id) + "/test")


class Domains:
    """/api/v1/domains: the account's sender domains, the DNS records (DKIM, SPF, DMARC)
    that prove them, and their checks. Every call needs a key with the `domains`
    permission. `id_or_name` is a domain's id (int) or its name (str, "example.com")."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return "mailpass_client.Domains()"

    def list(self, page: int | None = None) -> Envelope:
        """One page of the account's domains, newest first."""
        query = {"page": page} if page is not None else None
        return self._transport.request("GET", "/api/v1/domains", query=query)

    def create(self, params: DomainParams | Mapping[str, Any] | str) -> Envelope:
        """A new domain, `{"name", "ed25519"?}` or just the name, status "pending": its
        answer lists the records to publish. ValidationError for a name that is not a
        domain, or one the account already has."""
        body = {"name": params} if isinstance(params, str) else params
        return self._transport.request("POST", "/api/v1/domains", body=body)

    def get(self, id_or_name: int | str) -> Envelope:
        """One domain and its records (NotFoundError if it is not one of the account's)."""
        return self._transport.request("GET", _domain_path(id_or_name))

    def delete(self, id_or_name: int | str) -> Envelope:
        """Delete a domain and its keys; the answer's data is its `{"id", "name"}` (None
        from a server that answers 204, No Content)."""
        return self._transport.request("DELETE", _domain_path(id_or_name))

    def verify(self, id_or_name: int | str) -> Envelope:
        """Check the domain's records in DNS now; the answer is the domain after the check,
        each record with its `status`, what was `found` and, if it failed, the `detail`.
        UnavailableError (503) when MailPass could not ask the DNS: nothing changed."""
        return self._transport.request("POST", _domain_path(id_or_name) + "/verify")

    def rotate(self, id_or_name: int | str, ed25519: bool | None = None) -> Envelope:
        """New DKIM keys under a new selector, "pending" until their records are found in
        DNS; then they sign and the old ones retire. Again while a rotation is pending: the
        same pending keys. `ed25519` True or False adds or drops the Ed25519 key from now
        on; None keeps the domain's choice."""
        body = {"ed25519": ed25519} if ed25519 is not None else None
        return self._transport.request("POST", _domain_path(id_or_name) + "/rotate", body=body)


def _message_segment(message_id: str) -> str:
    """A message id as one path segment: angle brackets optional, the rest URL-encoded."""
    return quote(message_id.strip().strip("<>"), safe="")


def _template_path(id_or_alias: int | str) -> str:
    segment = str(id_or_alias)
    if not segment:
        # "/api/v1/templates/" would be the list, not an error.
        raise ValueError("id_or_alias is empty: give a template's id or alias.")
    return "/api/v1/templates/" + quote(segment, safe="")


def _domain_path(id_or_name: int | str) -> str:
    if isinstance(id_or_name, bool) or not isinstance(id_or_name, (int, str)):
        raise TypeError(f"id_or_name must be an int or a str, not {type(id_or_name).__name__}")
    segment = str(id_or_name)
    if not segment:
        # "/api/v1/domains/" would be the list, not an error.
        raise ValueError("id_or_name is empty: give a domain's id or name.")
    return "/api/v1/domains/" + quote(segment, safe="")


def _webhook_path(webhook_id: int) -> str:
    return f"/api/v1/webhooks/{_id(webhook_id, 'webhook_id')}"


def _id(value: int, name: str) -> int:
    """An endpoint's or a delivery's id: an int, 1 or more (checked before any request)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be 1 or more, not {value}.")
    return value


def _iso(value: DateTimeLike, field: str) -> str:
    """A datetime as ISO 8601 with its offset; a string as it is (the server checks it)."""
    if not isinstance(value, datetime):
        return value
    if value.utcoffset() is None:
        raise ValueError(
            f"{field} is a naive datetime: it needs a time zone offset, e.g. "
            "datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc), or .astimezone() for local time."
        )
    return value.isoformat()


def _with_iso_scheduled_at(message: Any, field: str) -> Any:
    """`message` with a datetime `scheduled_at` as its ISO 8601 string (a copy: the
    caller's dict is left alone)."""
    if isinstance(message, Mapping) and isinstance(message.get("scheduled_at"), datetime):
        return {**message, "scheduled_at": _iso(message["scheduled_at"], field)}
    return message
