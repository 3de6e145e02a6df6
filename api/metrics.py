"""Prometheus metrics: what the instance accepted and delivered, how its queue and webhook
backlog stand, and how long requests take.

Counters and histograms live in the process that counts them. gunicorn runs several: with
PROMETHEUS_MULTIPROC_DIR set (an empty directory, emptied when gunicorn starts), each
writes its values there and /metrics adds them up. Queue depth and webhook backlog are
read from the database at scrape time, so any one process answers for the whole
instance. Workers (process_mail_queue, process_webhooks) serve their own counters on
MAILPASS_WORKER_METRICS_ADDRESS.

Label values are bounded: provider kinds, outcomes, URL patterns; never an account,
address or free text.
"""

import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from api import selectors, tracking
from api.models import Message, WebhookDelivery
from providers import delivery

ACCEPTED = Counter(
    "mailpass_messages_accepted_total",
    "Messages the API accepted, by endpoint.",
    ["endpoint"],
)
DELIVERIES = Counter(
    "mailpass_deliveries_total",
    "Delivery attempts recorded, by the provider kind of the last attempt and the "
    "message's status after it (sent, retried, failed, expired).",
    ["provider", "outcome"],
)
DELIVERY_LATENCY = Histogram(
    "mailpass_delivery_latency_seconds",
    "From joining the queue (accepted, or its scheduled time) to the provider taking it.",
    ["provider"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
)
PROVIDER_ERRORS = Counter(
    "mailpass_provider_errors_total",
    "Provider attempts that did not send: connection (no server answered), temporary "
    "(try again later) or permanent.",
    ["provider", "error_class"],
)
HTTP_LATENCY = Histogram(
    "mailpass_http_request_duration_seconds",
    "Time to answer HTTP requests, by URL pattern, method and status.",
    ["route", "method", "status"],
)
STATUS_OUTCOME: dict[str, str] = {Message.Status.QUEUED: "retried"}
# Any other method token is "other": a client must not be able to mint label values.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def count_accepted(endpoint: str, messages: int = 1) -> None:
    if messages:
        ACCEPTED.labels(endpoint).inc(messages)


def count_delivery(message: Message, attempts: list[delivery.Attempt], status: str) -> None:
    """What api.queue.record_attempts committed for one message (the queue and /send)."""
    final = attempts[-1]
    kind = final.provider.kind
    DELIVERIES.labels(kind, STATUS_OUTCOME.get(status, status)).inc()
    for attempt in attempts:
        result = attempt.result
        if result.outcome is not delivery.Outcome.SENT:
            error_class = (
                "connection"
                if result.connection_failed
                else "temporary"
                if result.outcome is delivery.Outcome.RETRY
                else "permanent"
            )
            PROVIDER_ERRORS.labels(attempt.provider.kind, error_class).inc()
    if status == Message.Status.SENT:
        # queued_at: when it was accepted, or when its scheduled time made it join the queue
        # (a requeued failure starts again); loaded with every message the queue claims.
        waited = time.time() - message.queued_at.timestamp()
        DELIVERY_LATENCY.labels(kind).observe(max(waited, 0.0))


class DatabaseCollector(Collector):
    """Queue depth, its lateness and the webhook backlog, read at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = selectors.queue_health()
        depth = GaugeMetricFamily(
            "mailpass_queue_messages",
            "Messages in the queue: queued (of which due now), sending (of which stuck "
            "past their lease).",
            labels=["status"],
        )
        for status in ("queued", "due", "sending", "stuck"):
            depth.add_metric([status], float(state[status] or 0))
        yield depth
        yield GaugeMetricFamily(
            "mailpass_queue_oldest_due_age_seconds",
            "How long the most overdue message has waited (0: none is due).",
            value=float(state["oldest_due_age_seconds"] or 0.0),
        )
        backlog = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).count()
        yield GaugeMetricFamily(
            "mailpass_webhook_backlog",
            "Webhook deliveries waiting to be posted.",
            value=float(backlog),
        )


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessCollector())
    registry.register(DatabaseCollector())
    return registry


class _ProcessCollector(Collector):
    """This process's own counters (what the default registry holds)."""

    def collect(self) -> Iterator:
        yield from REGISTRY.collect()


def _allowed(request: HttpRequest) -> bool | None:
    """True/False: the scraper may or may not read; None: metrics are not configured."""
    token = settings.MAILPASS_METRICS_TOKEN
    networks = settings.MAILPASS_METRICS_ALLOWED_IPS
    if not token and not networks:
        return None
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    client = tracking.client_ip(request.META)
    return client is not None and any(
        ipaddress.ip_address(client) in network for network in networks
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics for Prometheus: with MAILPASS_METRICS_TOKEN as a bearer token or from
    an address in MAILPASS_METRICS_ALLOWED_IPS; a 404 when neither is configured."""
    allowed = _allowed(request)
    if allowed is None:
        raise Http404
    if not allowed:
        return HttpResponse("Forbidden.", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)


def http_metrics(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Time every request, labelled by its URL pattern (not its path: bounded labels)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None else "unmatched"
        if route != "metrics":
            method = request.method if request.method in METHODS else "other"
            HTTP_LATENCY.labels(route, method, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response

    return middleware


def serve_worker_metrics(offset: int = 0) -> str | None:
    """Start the worker's metrics port from MAILPASS_WORKER_METRICS_ADDRESS ("host:port";
    the port plus `offset` for the Nth process of --workers); its address, or None."""
    address = settings.MAILPASS_WORKER_METRICS_ADDRESS
    if not address:
        return None
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    start_http_server(int(port) + offset, addr=host)
    return f"{host}:{int(port) + offset}"
