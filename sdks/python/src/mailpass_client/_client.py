from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ._transport import Transport
from .errors import ConfigurationError
from .types import SendBatchParams, SendParams, SuppressionListParams, SuppressionParams

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

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    def __repr__(self) -> str:
        return f"mailpass_client.Client(base_url={self.base_url!r}, api_key='[hidden]')"


class Mail:
    """/api/v1/mail: send, send a batch, ask for a message's status."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return "mailpass_client.Mail()"

    def send(
        self, params: SendParams | Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Envelope:
        """Send one message now; the answer holds its `message_id`."""
        return self._transport.request(
            "POST",
            "/api/v1/mail/send",
            body=params,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )

    def send_batch(
        self,
        params: SendBatchParams | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ) -> Envelope:
        """Queue 1 to 100 messages; invalid ones come back `failed` with their errors."""
        return self._transport.request(
            "POST",
            "/api/v1/mail/send-batch",
            body=params,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )

    def status(self, message_id: str, params: Mapping[str, Any] | None = None) -> Envelope:
        """A message and its events; `params={"events_after": n}` for the next page."""
        bare = message_id.strip().strip("<>")
        return self._transport.request(
            "GET", "/api/v1/mail/status/" + quote(bare, safe=""), query=params
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
