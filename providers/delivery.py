"""Sending prepared messages over an open connection and classifying what happened.

Providers never raise API errors: every message gets a DeliveryResult, and the caller
decides what a failure means for the API or the queue.
"""

import contextlib
import enum
import logging
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions
import requests
from anymail.exceptions import (
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
)
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from urllib3.exceptions import NewConnectionError

from providers import deadline
from providers.connections import open_for
from providers.crypto import CredentialsUnreadableError
from providers.hosts import HostNotAllowedError
from providers.kinds import KINDS
from providers.models import Provider

logger = logging.getLogger(__name__)

# How much of a provider's text a log record quotes.
LOGGED_TEXT_LIMIT = 300


def loggable(text: str) -> str:
    """Provider-supplied text (a server's reply, an ESP's error) as it may go into a log
    record: repr()'d, so a CR or LF in it cannot start a forged log line, and cut to
    LOGGED_TEXT_LIMIT characters. Log every provider text through this."""
    cut = "…" if len(text) > LOGGED_TEXT_LIMIT else ""
    return repr(text[:LOGGED_TEXT_LIMIT]) + cut


class Outcome(enum.StrEnum):
    SENT = "sent"  # the provider accepted the message
    RETRY = "retry"  # temporary: try again later (4xx, connection trouble, timeouts)
    FAILED = "failed"  # permanent: retrying will not help (5xx, rejected, misconfigured)


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    provider_message_id: str = ""
    error_text: str = ""
    # The provider certainly did not take the message (refused connection, a refusal of
    # the envelope, an ESP's 429/5xx…), so another provider may be tried without risking
    # a second copy. False whenever it might have been accepted (e.g. a timeout after the
    # message content went out).
    not_accepted: bool = False
    # No server answered: the connection was refused, reset or timed out, or TLS failed.
    # An SMTP reply or an ESP's HTTP answer comes from a server that is up (see Trouble).
    connection_failed: bool = False


def _smtp_reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip()


def esp_error_message(body: Any) -> str:
    """The ESP's own words in a parsed error body, or "" when it has none we know.

    SendGrid: {"errors": [{"message"}]}; Postmark and AWS: {"Message"}; Mailgun, Resend,
    Brevo and AWS REST-JSON: {"message"}.
    """
    if not isinstance(body, dict):
        return ""
    errors = body.get("errors")
    if isinstance(errors, list):
        texts = [str(e["message"]) for e in errors if isinstance(e, dict) and e.get("message")]
        if texts:
            return "; ".join(texts)
    for key in ("message", "Message", "error"):
        if isinstance(body.get(key), str) and body[key]:
            return body[key]
    return ""


def http_error_text(response: requests.Response) -> str:
    """An ESP's error message from an HTTP response: its JSON message, else the raw text."""
    try:
        text = esp_error_message(response.json())
    except ValueError:
        text = ""
    return text or response.text.strip()[:500] or response.reason or ""


def _anymail_status_and_text(exc: AnymailError) -> tuple[int | None, str]:
    # requests-based backends keep the requests.Response; the SES backend keeps boto3's
    # parsed error dict (ClientError.response) and no status_code.
    response = exc.response
    if isinstance(response, requests.Response):
        return response.status_code, http_error_text(response)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        error = response.get("Error", {})
        return status, str(error.get("Message") or error.get("Code") or "")
    return None, ""


def _is_network_error(exc: BaseException) -> bool:
    # anymail re-raises a requests failure as a class deriving from both its own error and
    # the requests exception; the SES backend chains botocore's error as the cause.
    network = (
        requests.ConnectionError,
        requests.Timeout,
        botocore.exceptions.ConnectionError,
        botocore.exceptions.HTTPClientError,
    )
    return isinstance(exc, network) or isinstance(exc.__cause__, network)


def _never_connected(error: BaseException) -> bool:
    # A request that never reached the ESP carried nothing; a read timeout or a connection
    # dropped mid-answer might have come after the ESP took the message.
    if isinstance(
        error,
        requests.ConnectTimeout
        | botocore.exceptions.EndpointConnectionError
        | botocore.exceptions.ConnectTimeoutError,
    ):
        return True
    if isinstance(error, requests.ConnectionError) and error.args:
        return isinstance(getattr(error.args[0], "reason", None), NewConnectionError)
    return False


def _classify_anymail(exc: AnymailError) -> DeliveryResult:
    esp = exc.esp_name or "ESP"
    if _is_network_error(exc):
        # No answer came (anymail keeps no response for these).
        cause = exc.__cause__ or exc
        return DeliveryResult(
            Outcome.RETRY,
            error_text=f"cannot reach {esp}: {cause}",
            not_accepted=_never_connected(cause),
            connection_failed=True,
        )
    status, text = _anymail_status_and_text(exc)
    text = text or (str(exc.args[0]) if exc.args else type(exc).__name__)
    if status is None:
        # Raised before any request went out (bad address, unsupported feature…).
        return DeliveryResult(Outcome.FAILED, error_text=f"{esp}: {text}", not_accepted=True)
    # An answer: after a 429 or 5xx nothing was queued there.
    temporary = status == 429 or status >= 500
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        # Refused recipients (some ESPs answer 200 or 422 for them) fail whatever the status.
        return DeliveryResult(Outcome.FAILED, error_text=f"{esp}: {text}", not_accepted=temporary)
    return DeliveryResult(
        Outcome.RETRY if temporary else Outcome.FAILED,
        error_text=f"{esp} {status}: {text}",
        not_accepted=temporary,
    )


# SMTP replies that refuse in so many words, at connect, EHLO, login, MAIL or DATA (RCPT:
# SMTPRecipientsRefused), so the message was certainly not taken.
_SMTP_REFUSALS = (
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
)


def _connection_trouble(exc: OSError) -> tuple[Outcome, str]:
    # Order matters: smtplib's exceptions and ssl's are OSErrors too.
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        if "STARTTLS" in str(exc):
            # Raised before any login or message: the connection stays unencrypted, so
            # nothing more goes over it (fail closed).
            return (
                Outcome.FAILED,
                f"TLS error: the server does not offer STARTTLS, so nothing was sent ({exc})",
            )
        return Outcome.FAILED, f"SMTP server: {exc}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Outcome.RETRY, f"connection lost: {exc}"
    if isinstance(exc, smtplib.SMTPException):
        # e.g. "No suitable authentication method found."
        return Outcome.FAILED, f"SMTP error: {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        # Self-signed, expired, for another name…: retrying sends into the same wall.
        reason = getattr(exc, "verify_message", None) or exc
        return Outcome.FAILED, f"TLS error: certificate verify failed: {reason}; nothing was sent"
    if isinstance(exc, ssl.SSLError):
        # Protocol mismatch and the like: retrying sends into the same wall.
        return Outcome.FAILED, f"TLS error: {exc}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return Outcome.RETRY, "timed out talking to the provider"
    if isinstance(exc, socket.gaierror):
        return Outcome.RETRY, f"cannot resolve host: {exc}"
    return Outcome.RETRY, f"connection error: {exc}"


def classify_error(exc: BaseException, *, in_data: bool = False) -> DeliveryResult:
    """The whole DeliveryResult for an exception raised while connecting or sending.

    The single place that reads these exceptions. The outcome: SMTP 4xx replies,
    disconnects, timeouts and network errors, ESP 429 and 5xx answers retry; SMTP 5xx
    replies, refused recipients, ESP 4xx answers, invalid addresses, authentication and TLS
    failures and configuration errors fail at once. error_text carries the provider's own
    words. not_accepted says whether the provider certainly did not take the message (what
    failover relies on), connection_failed whether no server answered at all (Trouble).

    `in_data`: the SMTP DATA phase had begun (providers.backends._QuickAddresses.in_data),
    so a lost or timed-out connection may come after the server took the message.
    """
    if isinstance(exc, AnymailError):
        # Before the SMTP and OSError rules: anymail's HTTP errors are requests
        # exceptions, which are OSErrors, yet most of them are permanent.
        return _classify_anymail(exc)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        text = "; ".join(
            f"{addr}: {_smtp_reply_text(code, msg)}" for addr, (code, msg) in exc.recipients.items()
        )
        temporary = bool(replies) and all(400 <= code < 500 for code, _ in replies)
        return DeliveryResult(
            Outcome.RETRY if temporary else Outcome.FAILED, error_text=text, not_accepted=True
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        # A reply, so the server is up. Any other reply than a refusal (to RSET, QUIT…)
        # proves nothing once the content may have gone out.
        temporary = 400 <= exc.smtp_code < 500
        return DeliveryResult(
            Outcome.RETRY if temporary else Outcome.FAILED,
            error_text=_smtp_reply_text(exc.smtp_code, exc.smtp_error),
            not_accepted=isinstance(exc, _SMTP_REFUSALS) or not in_data,
        )
    if isinstance(exc, OSError):
        # Refused, reset, timed out, TLS trouble: no proof unless the content had not gone
        # out yet.
        outcome, text = _connection_trouble(exc)
        return DeliveryResult(
            outcome, error_text=text, not_accepted=not in_data, connection_failed=True
        )
    if isinstance(exc, HostNotAllowedError | CredentialsUnreadableError | ImproperlyConfigured):
        # Found before anything was sent.
        return DeliveryResult(
            Outcome.FAILED, error_text=f"provider misconfigured: {exc}", not_accepted=True
        )
    return DeliveryResult(Outcome.FAILED, error_text=f"{type(exc).__name__}: {exc}")


def _provider_message_id(email: EmailMessage) -> str:
    # ESP backends (django-anymail) report the ESP's own id, which its webhooks quote. SMTP
    # relays have none of their own beyond our Message-ID (stored anyway), so "" is kept:
    # the index webhooks look ids up in then costs an SMTP delivery nothing.
    status = getattr(email, "anymail_status", None)
    if status is not None and status.message_id:
        return str(status.message_id)
    return ""


# A provider that fails this many connections in a row is treated as down: a server that
# accepts TCP and then hangs would otherwise cost one full timeout per message, and a chunk
# could outlive its lease.
MAX_CONNECTION_FAILURES = 2


class Trouble:
    """Connection failures in a row to one provider, shared by the channels sending to it.

    After MAX_CONNECTION_FAILURES (on any of them, no success in between) the provider is
    `down`: every channel answers further messages with that retry result, untried.
    Updated from several threads without a lock: a lost increment only delays `down`.
    """

    def __init__(self) -> None:
        self.in_a_row = 0
        self.down: DeliveryResult | None = None

    def failed(self, result: DeliveryResult) -> None:
        self.in_a_row = self.in_a_row + 1 if result.connection_failed else 0
        if self.in_a_row >= MAX_CONNECTION_FAILURES:
            self.down = result

    def succeeded(self) -> None:
        self.in_a_row = 0


class Channel:
    """One connection to a provider: opened on first use, reopened after a temporary
    failure, kept open between messages until close().

    send() never raises: every message gets a DeliveryResult, within `timeout` seconds
    from connecting (when needed) to the provider's final reply (providers.deadline).
    """

    def __init__(
        self,
        connection: BaseEmailBackend | None,
        *,
        timeout: float,
        unusable: DeliveryResult | None = None,
    ) -> None:
        self.connection = connection
        self.timeout = timeout
        self.is_open = False
        self.trouble = Trouble()  # replaced by one shared with the provider's other channels
        self.unusable = unusable  # for a provider that cannot be used at all

    def send(self, email: EmailMessage) -> DeliveryResult:
        if (refusal := self.unusable or self.trouble.down) is not None:
            return refusal
        with deadline.within(self.timeout):
            kept_open = self.is_open
            result = self._send(email)
            if kept_open and result.connection_failed and result.not_accepted:
                # The server closed the kept connection while it was idle (relays drop idle
                # clients): nothing went out, so the same message goes on a new one.
                self.close()
                result = self._send(email)
        if result.outcome is not Outcome.SENT:
            logger.warning("delivery %s: %s", result.outcome, loggable(result.error_text))
            self.trouble.failed(result)
        else:
            self.trouble.succeeded()
        return result

    def _send(self, email: EmailMessage) -> DeliveryResult:
        connection = self.connection
        assert connection is not None  # only an unusable channel has none
        try:
            if not self.is_open:
                connection.open()
                self.is_open = True
            sent = connection.send_messages([email])
        except Exception as exc:  # noqa: BLE001 - boundary: every message gets an outcome
            # Our SMTP clients note whether DATA had begun (providers.backends).
            client = getattr(connection, "connection", None)
            result = classify_error(exc, in_data=getattr(client, "in_data", False))
            if result.outcome is Outcome.RETRY:
                self.close()
            return result
        if not sent:
            return DeliveryResult(Outcome.FAILED, error_text="the message has no recipients")
        return DeliveryResult(Outcome.SENT, provider_message_id=_provider_message_id(email))

    def close(self) -> None:
        if self.is_open and self.connection is not None:
            self.is_open = False
            # Closing is tidying up: a failing QUIT changes nothing about any outcome.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.close()


def channel_to(provider: Provider) -> Channel:
    """A Channel to `provider`, not yet connected.

    A provider that cannot even be turned into a connection (private host, unreadable
    credentials, DNS failure) gets a channel that gives every message that classified result.
    """
    timeout = deadline.timeout_for(provider)
    try:
        return Channel(open_for(provider), timeout=timeout)
    except (HostNotAllowedError, CredentialsUnreadableError, ImproperlyConfigured, OSError) as exc:
        result = classify_error(exc)  # nothing was sent: not_accepted
        logger.warning("provider %s unusable: %s", provider.pk, loggable(result.error_text))
        return Channel(None, timeout=timeout, unusable=result)


@dataclass(frozen=True)
class Attempt:
    provider: Provider
    result: DeliveryResult


@dataclass(frozen=True)
class Needs:
    """What a message asks of a provider beyond plain mail, for cannot_take()."""

    size: int = 0  # about how many bytes it takes as sent, attachments encoded
    inline_files: bool = False  # attachments with a Content-ID (cid: images)
    non_ascii_headers: bool = False  # caller's headers with characters beyond ASCII
    unverified_from: bool = False  # its From domain is not a verified sender domain


def cannot_take(provider: Provider, needs: Needs) -> str | None:
    """Why `provider` would refuse a message with these `needs`, or None if it takes it:
    what its kind's row says its API accepts (KindSpec)."""
    spec = KINDS[provider.kind]
    kind = provider.get_kind_display()
    limit = spec.max_message_bytes
    if limit is not None and needs.size > limit:
        # In decimal megabytes, as the ESPs state their limits.
        return (
            f"The message takes about {needs.size / 1e6:.1f} MB as sent, attachments "
            f"encoded; {kind} accepts at most {limit / 1e6:g} MB."
        )
    if needs.inline_files and not spec.inline_files:
        return f"{kind} cannot send inline attachments (a content_id): attach them normally."
    if needs.non_ascii_headers and not spec.non_ascii_headers:
        return f"{kind} cannot send headers with characters beyond ASCII."
    if needs.unverified_from and spec.verified_domains_only:
        return f"{kind} carries mail only from verified sender domains."
    return None


def send_with_failover(
    email: EmailMessage,
    providers: list[Provider],
    channel_for: Callable[[Provider], Channel],
    *,
    may_use: Callable[[Provider], bool] = lambda provider: True,
    needs: Needs = Needs(),
) -> list[Attempt]:
    """Send `email` through providers[0]; while a provider certainly did not take it
    (DeliveryResult.not_accepted), try the next one that `may_use` allows. Return every
    attempt, the last one being the outcome. A message that may have been accepted is
    never offered to another provider, so it cannot go out twice through two of them.
    A provider that cannot take what the message `needs` (too small, no inline files…) is
    not contacted: its attempt fails for good, and the next provider is tried.
    """
    attempts: list[Attempt] = []
    for index, provider in enumerate(providers):
        refusal = cannot_take(provider, needs)
        if index and (refusal or not may_use(provider)):
            continue
        if refusal:
            refused = DeliveryResult(Outcome.FAILED, error_text=refusal, not_accepted=True)
            attempts.append(Attempt(provider, refused))
            continue
        result = channel_for(provider).send(email)
        attempts.append(Attempt(provider, result))
        if result.outcome is Outcome.SENT or not result.not_accepted:
            break
    return attempts
