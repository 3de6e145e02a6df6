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
    SendBatchParams,
    SendParams,
    SuppressionListParams,
    SuppressionParams,
    TemplateParams,
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


def _message_segment(message_id: str) -> str:
    """A message id as one path segment: angle brackets optional, the rest URL-encoded."""
    return quote(message_id.strip().strip("<>"), safe="")


def _template_path(id_or_alias: int | str) -> str:
    segment = str(id_or_alias)
    if not segment:
        # "/api/v1/templates/" would be the list, not an error.
        raise ValueError("id_or_alias is empty: give a template's id or alias.")
    return "/api/v1/templates/" + quote(segment, safe="")


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
