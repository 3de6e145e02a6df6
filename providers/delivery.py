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


def _close_quietly(connection: BaseEmailBackend) -> None:
    # The connection is already broken; a failing QUIT changes nothing about the outcome.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        connection.close()


# A provider that fails this many connections in a row is treated as down for the rest of
# the call: a server that accepts TCP and then hangs would otherwise cost one full timeout
# per message, and a chunk could outlive its lease.
MAX_CONNECTION_FAILURES = 2


def _is_connection_failure(exc: BaseException) -> bool:
    # OSError covers refused/reset connections, timeouts and disconnects; an SMTP reply
    # (e.g. 451 at DATA) comes from a server that is up and talking.
    reply = smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused
    return isinstance(exc, OSError) and not isinstance(exc, reply)


def deliver(
    connection: BaseEmailBackend, email_messages: Iterable[EmailMessage]
) -> Iterator[DeliveryResult]:
    """Send each message over `connection`, yielding one DeliveryResult per message, in order.

    Results are yielded as soon as each is known, so the caller can commit every outcome
    before the next message goes out. The connection is opened once and reused; after a
    temporary failure it is reopened for the next message. After MAX_CONNECTION_FAILURES
    connection failures in a row, the remaining messages get the last retry result without
    another attempt. The connection is closed at the end.
    """
    is_open = False
    failures_in_a_row = 0
    down: DeliveryResult | None = None
    try:
        for email in email_messages:
            if down is not None:
                yield down
                continue
            try:
                if not is_open:
                    connection.open()
                    is_open = True
                sent = connection.send_messages([email])
            except Exception as exc:  # noqa: BLE001 - loop boundary: every message gets an outcome
                result = classify_error(exc)
                logger.warning("delivery %s: %s", result.outcome, result.error_text)
                if result.outcome is Outcome.RETRY:
                    _close_quietly(connection)
                    is_open = False
                failures_in_a_row = failures_in_a_row + 1 if _is_connection_failure(exc) else 0
                if failures_in_a_row >= MAX_CONNECTION_FAILURES:
                    down = result
                yield result
                continue
            failures_in_a_row = 0
            if sent:
                yield DeliveryResult(Outcome.SENT, provider_message_id=_provider_message_id(email))
            else:
                yield DeliveryResult(Outcome.FAILED, error_text="the message has no recipients")
    finally:
        if is_open:
            _close_quietly(connection)


def deliver_via(
    provider: Provider, email_messages: Iterable[EmailMessage]
) -> Iterator[DeliveryResult]:
    """deliver() over a new connection to `provider`: ONE connection for all the messages.

    A provider that cannot even be turned into a connection (private host, unreadable
    credentials, DNS failure) gives every message the same classified result.
    """
    try:
        connection = open_for(provider)
    except (HostNotAllowedError, CredentialsUnreadableError, ImproperlyConfigured, OSError) as exc:
        result = classify_error(exc)
        logger.warning("provider %s unusable: %s", provider.pk, result.error_text)
        for _ in email_messages:
            yield result
        return
    yield from deliver(connection, email_messages)
