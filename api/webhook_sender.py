"""Posting webhook deliveries to customers' endpoints: claim, sign, POST, record, retry.

The queue discipline is the mail queue's: a claim stamps due deliveries with a token and
pushes their next_attempt_at a lease ahead (FOR UPDATE SKIP LOCKED on PostgreSQL, so
senders on several machines never take the same one); a sender that dies leaves them due
again when the lease runs out, and an outcome is written only by the claim's holder. So
delivery is at least once: a receiver deduplicates by the webhook-id header.

Every POST goes where the SMTP providers' rules allow (providers.hosts): the endpoint's
host is resolved once, every address is checked, and the connection goes to a checked
address, so DNS answering differently between the check and the connection (rebinding)
changes nothing. Redirects are not followed (a 3xx is a failure), at most RESPONSE_BYTES
of the answer are read, and the whole exchange has ATTEMPT_SECONDS.

Only the claiming thread touches the database; the POSTs run on a thread pool.
"""

import datetime as dt
import functools
import http.client
import logging
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from api.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from providers.crypto import CredentialsUnreadableError, decrypt_json
from providers.hosts import HostNotAllowedError, resolve

logger = logging.getLogger(__name__)

ATTEMPT_SECONDS = 15.0
RESPONSE_BYTES = 4096  # read of an answer, at most; the log keeps EXCERPT_CHARS
EXCERPT_CHARS = 1000
LEASE = dt.timedelta(seconds=60)  # > ATTEMPT_SECONDS with room for recording
# After the 1st, 2nd… failed attempt; then RETRY_DELAYS[-1] until MAX_AGE after the event.
RETRY_DELAYS = tuple(
    dt.timedelta(seconds=seconds) for seconds in (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
)
MAX_AGE = dt.timedelta(days=3)
DISABLE_AFTER = dt.timedelta(days=5)  # of failures in a row, with no success between
THREADS = 16
USER_AGENT = "MailPass-Webhooks/1.0"


def signature_header(endpoint: WebhookEndpoint, event_id: str, at: dt.datetime, body: str) -> str:
    """The webhook-signature value: v1 signatures with the endpoint's current secret and,
    while a rotation's overlap lasts, its previous one (Standard Webhooks, by its library)."""
    keys = decrypt_json(endpoint.secrets)
    secrets = [keys["current"]]
    if keys.get("previous") and endpoint.previous_secret_expires_at:
        if endpoint.previous_secret_expires_at > timezone.now():
            secrets.append(keys["previous"])
    return " ".join(Webhook(secret).sign(event_id, at, body) for secret in secrets)


@dataclass(frozen=True)
class Request:
    """One POST, ready for the wire: no database needed to send it."""

    delivery_id: int
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int | None  # the HTTP status, None when none came
    duration_ms: int
    error: str  # "" for a 2xx
    excerpt: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def prepare(delivery: WebhookDelivery) -> Request:
    """Sign `delivery` (with its event and endpoint loaded) for sending now."""
    event, endpoint = delivery.event, delivery.endpoint
    now = timezone.now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event.event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature_header(endpoint, event.event_id, now, event.body),
    }
    return Request(delivery.pk, endpoint.url, headers, event.body.encode())


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to an address checked beforehand, not to a new lookup of the name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # One for the process: loading the CA certificates costs milliseconds each time.
    return ssl.create_default_context()


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address; the certificate is verified against the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=_tls_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        context: ssl.SSLContext = self._context  # type: ignore[attr-defined]  # set by __init__
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


def post(request: Request, *, timeout: float = ATTEMPT_SECONDS) -> Answer:
    """POST `request` within `timeout` seconds in all; never raises."""
    started = time.monotonic()

    def answer(status: int | None, error: str, excerpt: str = "") -> Answer:
        duration = int((time.monotonic() - started) * 1000)
        return Answer(status, duration, error, excerpt)

    parts = urlsplit(request.url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    host = parts.hostname or ""
    try:
        addresses = resolve(host, port)
    except HostNotAllowedError as err:
        return answer(None, f"Refused: {err}")
    except OSError as err:
        return answer(None, f"DNS: {host} does not resolve ({err})")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    error = ""
    for address in addresses:  # as a browser does: the next address may answer
        left = timeout - (time.monotonic() - started)
        if left <= 0:
            break
        kind = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
        connection = kind(host, port, address, timeout=left)
        try:
            return _exchange(connection, path, request, started, timeout, answer)
        except ssl.SSLError as err:
            return answer(None, f"TLS: {err}")
        except TimeoutError:
            return answer(None, f"Timed out after {timeout:.0f} s")
        except (OSError, http.client.HTTPException) as err:
            error = f"Connection: {err or type(err).__name__}"
        finally:
            connection.close()
    return answer(None, error or f"Timed out after {timeout:.0f} s")


def _exchange(
    connection: http.client.HTTPConnection,
    path: str,
    request: Request,
    started: float,
    timeout: float,
    answer: Callable[..., Answer],
) -> Answer:
    connection.connect()
    # One deadline for the whole exchange, however slowly the receiver trickles bytes:
    # shutting the socket down ends any read that is still waiting.
    sock = connection.sock
    timer = threading.Timer(max(timeout - (time.monotonic() - started), 0), _shut, [sock])
    timer.start()
    try:
        connection.request("POST", path, body=request.body, headers=request.headers)
        response = connection.getresponse()
        excerpt = response.read(RESPONSE_BYTES).decode("utf-8", "replace")[:EXCERPT_CHARS]
    except OSError:
        if time.monotonic() - started >= timeout:
            raise TimeoutError from None
        raise
    finally:
        timer.cancel()
    status = response.status
    if 200 <= status < 300:
        return answer(status, "", excerpt)
    if 300 <= status < 400:
        where = response.getheader("Location", "")[:200]
        return answer(status, f"HTTP {status}: redirects are not followed ({where})", excerpt)
    return answer(status, f"HTTP {status}", excerpt)


def _shut(sock: Any) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


# --- The queue of deliveries ---------------------------------------------------------------


def claim_due(*, batch_size: int) -> list[WebhookDelivery]:
    """Claim up to `batch_size` due deliveries of enabled endpoints, oldest first, with
    their events and endpoints. Commits before returning."""
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic(durable=True):
        ids = list(
            # of=("self",): the join must not lock the endpoint's row too, or every other
            # sender would skip all of that endpoint's deliveries while this claim lasts.
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .filter(endpoint__enabled=True)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return []
        WebhookDelivery.objects.filter(
            id__in=ids, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        ).update(claim_token=token, next_attempt_at=now + LEASE, lease_expires_at=now + LEASE)
    return list(
        WebhookDelivery.objects.filter(id__in=ids, claim_token=token)
        .select_related("event", "endpoint")
        .order_by("id")
    )


def retry_at(delivery: WebhookDelivery, now: dt.datetime) -> dt.datetime | None:
    """When a delivery that has just failed its `attempts`-th attempt is tried again, or
    None when that would be more than MAX_AGE after its event."""
    delay = RETRY_DELAYS[min(delivery.attempts, len(RETRY_DELAYS)) - 1]
    following = now + delay
    return following if following <= delivery.event.created_at + MAX_AGE else None


def record(delivery: WebhookDelivery, answer: Answer) -> None:
    """Write what an attempt of a claimed delivery got: the attempt, the delivery's new
    state, and the endpoint's run of failures (disabling it after DISABLE_AFTER)."""
    now = timezone.now()
    delivery.attempts += 1
    following = None if answer.ok else retry_at(delivery, now)
    if answer.ok:
        status = WebhookDelivery.Status.SUCCEEDED
    else:
        status = WebhookDelivery.Status.PENDING if following else WebhookDelivery.Status.FAILED
    with transaction.atomic():
        updated = WebhookDelivery.objects.filter(
            pk=delivery.pk, claim_token=delivery.claim_token
        ).update(
            status=status,
            attempts=delivery.attempts,
            next_attempt_at=following,
            claim_token=None,
            lease_expires_at=None,
            last_attempt_at=now,
            response_code=answer.status,
            duration_ms=answer.duration_ms,
            error=answer.error or None,
        )
        if not updated:
            # Claimed again after the lease ran out, or failed when its endpoint was disabled.
            logger.info("webhook delivery %s is no longer ours; outcome dropped", delivery.pk)
            return
        WebhookAttempt.objects.create(
            delivery_id=delivery.pk,
            attempted_at=now,
            response_code=answer.status,
            duration_ms=answer.duration_ms,
            error=answer.error,
            response_excerpt=answer.excerpt,
        )
        endpoint = delivery.endpoint
        if answer.ok:
            if endpoint.failing_since is not None:  # as claimed: most successes skip this
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
            return
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
            failing_since=now
        )
        endpoint.refresh_from_db(fields=["failing_since", "enabled"])
        if (
            endpoint.enabled
            and endpoint.failing_since
            and now - endpoint.failing_since >= (DISABLE_AFTER)
        ):
            disable(endpoint, reason=WebhookEndpoint.DisabledReason.FAILING)


def disable(endpoint: WebhookEndpoint, *, reason: str) -> None:
    """Turn `endpoint` off: nothing more is posted to it, and what waited for it fails."""
    now = timezone.now()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            enabled=False, disabled_reason=reason, updated_at=now
        )
        WebhookDelivery.objects.filter(
            endpoint=endpoint, status=WebhookDelivery.Status.PENDING
        ).update(
            status=WebhookDelivery.Status.FAILED,
            next_attempt_at=None,
            claim_token=None,
            lease_expires_at=None,
            error="The endpoint was disabled.",
        )
    endpoint.enabled, endpoint.disabled_reason = False, reason


@dataclass
class SenderStats:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0


def _never() -> bool:
    return False


def process_due(
    *,
    threads: int = THREADS,
    limit: int | None = None,
    should_stop: Callable[[], bool] = _never,
) -> SenderStats:
    """Post due deliveries until none is due, `limit` were claimed, or `should_stop`;
    up to `threads` POSTs at once. Returns what happened."""
    stats = SenderStats()
    claimed = 0
    in_flight: dict[Future[Answer], WebhookDelivery] = {}
    with ThreadPoolExecutor(threads, thread_name_prefix="webhook") as pool:
        while True:
            room = threads - len(in_flight)
            wanted = not should_stop() and (limit is None or claimed < limit)
            if wanted and room:
                size = room if limit is None else min(room, limit - claimed)
                for delivery in claim_due(batch_size=size):
                    claimed += 1
                    in_flight[pool.submit(_attempt, delivery)] = delivery
            if not in_flight:
                return stats
            done, _ = wait(in_flight, timeout=1.0, return_when=FIRST_COMPLETED)
            with transaction.atomic():  # what came back meanwhile, in one commit
                for future in done:
                    delivery = in_flight.pop(future)
                    answer = future.result()
                    record(delivery, answer)
                    stats.attempted += 1
                    if answer.ok:
                        stats.succeeded += 1
                    else:
                        stats.failed += 1


def _attempt(delivery: WebhookDelivery) -> Answer:
    try:
        request = prepare(delivery)
    except CredentialsUnreadableError as err:
        return Answer(None, 0, f"The endpoint's secret cannot be read: {err}", "")
    return post(request)
