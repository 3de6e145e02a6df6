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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from providers.connections import open_for
from providers.crypto import CredentialsUnreadableError
from providers.models import Provider
from providers.network import HostNotAllowedError

logger = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    SENT = "sent"  # the provider accepted the message
    RETRY = "retry"  # temporary: try again later (4xx, connection trouble, timeouts)
    FAILED = "failed"  # permanent: retrying will not help (5xx, rejected, misconfigured)


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    provider_message_id: str = ""
    error_text: str = ""


def _smtp_reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip()


def classify_error(exc: BaseException) -> DeliveryResult:
    """Map an exception raised while connecting or sending to a retry or failed result.

    The single place that decides what is temporary: SMTP 4xx replies, disconnects,
    timeouts and network errors retry; SMTP 5xx replies, refused recipients,
    authentication and TLS failures and configuration errors fail at once.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        text = "; ".join(
            f"{addr}: {_smtp_reply_text(code, msg)}" for addr, (code, msg) in exc.recipients.items()
        )
        temporary = bool(replies) and all(400 <= code < 500 for code, _ in replies)
        return DeliveryResult(Outcome.RETRY if temporary else Outcome.FAILED, error_text=text)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = _smtp_reply_text(exc.smtp_code, exc.smtp_error)
        temporary = 400 <= exc.smtp_code < 500
        return DeliveryResult(Outcome.RETRY if temporary else Outcome.FAILED, error_text=text)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryResult(Outcome.FAILED, error_text=f"SMTP server: {exc}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryResult(Outcome.RETRY, error_text=f"connection lost: {exc}")
    if isinstance(exc, smtplib.SMTPException):
        # Before OSError, its base class: e.g. "No suitable authentication method found."
        return DeliveryResult(Outcome.FAILED, error_text=f"SMTP error: {exc}")
    if isinstance(exc, ssl.SSLError):
        # Bad certificate or protocol mismatch: retrying sends into the same wall.
        return DeliveryResult(Outcome.FAILED, error_text=f"TLS error: {exc}")
    if isinstance(exc, socket.timeout | TimeoutError):
        return DeliveryResult(Outcome.RETRY, error_text="timed out talking to the provider")
    if isinstance(exc, socket.gaierror):
        return DeliveryResult(Outcome.RETRY, error_text=f"cannot resolve host: {exc}")
    if isinstance(exc, OSError):
        return DeliveryResult(Outcome.RETRY, error_text=f"connection error: {exc}")
    if isinstance(exc, HostNotAllowedError | CredentialsUnreadableError | ImproperlyConfigured):
        return DeliveryResult(Outcome.FAILED, error_text=f"provider misconfigured: {exc}")
    return DeliveryResult(Outcome.FAILED, error_text=f"{type(exc).__name__}: {exc}")


def _provider_message_id(email: EmailMessage) -> str:
    # ESP backends (django-anymail) report the ESP's id; over SMTP our Message-ID is the id.
    status = getattr(email, "anymail_status", None)
    if status is not None and status.message_id:
        return str(status.message_id)
    return str(email.extra_headers.get("Message-ID", ""))


# A provider that fails this many connections in a row is treated as down: a server that
# accepts TCP and then hangs would otherwise cost one full timeout per message, and a chunk
# could outlive its lease.
MAX_CONNECTION_FAILURES = 2


def _is_connection_failure(exc: BaseException) -> bool:
    # OSError covers refused/reset connections, timeouts and disconnects; an SMTP reply
    # (e.g. 451 at DATA) comes from a server that is up and talking.
    reply = smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused
    return isinstance(exc, OSError) and not isinstance(exc, reply)


class Trouble:
    """Connection failures in a row to one provider, shared by the channels sending to it.

    After MAX_CONNECTION_FAILURES (on any of them, no success in between) the provider is
    `down`: every channel answers further messages with that retry result, untried.
    Updated from several threads without a lock: a lost increment only delays `down`.
    """

    def __init__(self) -> None:
        self.in_a_row = 0
        self.down: DeliveryResult | None = None

    def failed(self, result: DeliveryResult, *, connection_failure: bool) -> None:
        self.in_a_row = self.in_a_row + 1 if connection_failure else 0
        if self.in_a_row >= MAX_CONNECTION_FAILURES:
            self.down = result

    def succeeded(self) -> None:
        self.in_a_row = 0


class Channel:
    """One connection to a provider: opened on first use, reopened after a temporary
    failure, kept open between messages until close().

    send() never raises: every message gets a DeliveryResult.
    """

    def __init__(
        self,
        connection: BaseEmailBackend | None,
        *,
        unusable: DeliveryResult | None = None,
    ) -> None:
        self.connection = connection
        self.is_open = False
        self.trouble = Trouble()  # replaced by one shared with the provider's other channels
        self.unusable = unusable  # for a provider that cannot be used at all

    def send(self, email: EmailMessage) -> DeliveryResult:
        if (refusal := self.unusable or self.trouble.down) is not None:
            return refusal
        try:
            if not self.is_open:
                self.connection.open()
                self.is_open = True
            sent = self.connection.send_messages([email])
        except Exception as exc:  # noqa: BLE001 - boundary: every message gets an outcome
            result = classify_error(exc)
            logger.warning("delivery %s: %s", result.outcome, result.error_text)
            if result.outcome is Outcome.RETRY:
                self.close()
            self.trouble.failed(result, connection_failure=_is_connection_failure(exc))
            return result
        self.trouble.succeeded()
        if not sent:
            return DeliveryResult(Outcome.FAILED, error_text="the message has no recipients")
        return DeliveryResult(Outcome.SENT, provider_message_id=_provider_message_id(email))

    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            # Closing is tidying up: a failing QUIT changes nothing about any outcome.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.close()


def channel_to(provider: Provider) -> Channel:
    """A Channel to `provider`, not yet connected.

    A provider that cannot even be turned into a connection (private host, unreadable
    credentials, DNS failure) gets a channel that gives every message that classified result.
    """
    try:
        return Channel(open_for(provider))
    except (HostNotAllowedError, CredentialsUnreadableError, ImproperlyConfigured, OSError) as exc:
        result = classify_error(exc)
        logger.warning("provider %s unusable: %s", provider.pk, result.error_text)
        return Channel(None, unusable=result)


def deliver(
    connection: BaseEmailBackend, email_messages: Iterable[EmailMessage]
) -> Iterator[DeliveryResult]:
    """Send each message over `connection`, yielding one DeliveryResult per message, in order.

    Results are yielded as soon as each is known, so the caller can commit every outcome
    before the next message goes out. The connection is closed at the end.
    """
    yield from _deliver(Channel(connection), email_messages)


def deliver_via(
    provider: Provider, email_messages: Iterable[EmailMessage]
) -> Iterator[DeliveryResult]:
    """deliver() over a new connection to `provider`: ONE connection for all the messages."""
    yield from _deliver(channel_to(provider), email_messages)


def _deliver(channel: Channel, email_messages: Iterable[EmailMessage]) -> Iterator[DeliveryResult]:
    try:
        for email in email_messages:
            yield channel.send(email)
    finally:
        channel.close()
