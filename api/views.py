import base64
import hmac
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import selectors, services, tracking, webhooks
from api.envelope import success
from api.errors import (
    RecipientSuppressedError,
    SendFailedError,
    ServiceUnavailableError,
    error_body,
    validation_error,
)
from api.idempotency import (
    MAX_KEY_LENGTH,
    Replay,
    fingerprint,
    idempotency_abandon,
    idempotency_begin,
    idempotency_finish,
)
from api.models import Message, Permission
from api.negotiation import JsonOnlyNegotiation
from api.responses import (
    BatchResultSerializer,
    HealthSerializer,
    MessageEventSerializer,
    MessageStatusSerializer,
    SendResultSerializer,
    StatusResultSerializer,
    SuppressionAddedSerializer,
    SuppressionListSerializer,
    SuppressionSerializer,
)
from api.schema import (
    IDEMPOTENCY_KEY,
    RATE_LIMIT_HEADERS,
    RETRY_AFTER,
    envelope,
    error_responses,
    idempotent_replayed,
)
from api.serializers import (
    BatchInputSerializer,
    MessageInputSerializer,
    SuppressionInputSerializer,
)
from api.services import BatchItemResult, InvalidItem


def _validate_items(
    raws: list[Any], defaults: dict[str, Any]
) -> list[dict[str, Any] | InvalidItem]:
    """Each batch item on its own, so one bad item does not sink the rest.

    One serializer instance validates them all, as DRF's ListSerializer does with its
    child: building a serializer deep-copies its fields, which was most of the cost of a
    100-item batch.
    """
    validator = MessageInputSerializer()
    items: list[dict[str, Any] | InvalidItem] = []
    for raw in raws:
        if not isinstance(raw, dict):
            errors = {"non_field_errors": ["Each message must be an object."]}
            items.append(InvalidItem(to=None, errors=errors))
            continue
        try:
            items.append(validator.run_validation({**defaults, **raw}))
        except ValidationError as err:
            to = raw.get("to") if isinstance(raw.get("to"), str) else None
            items.append(InvalidItem(to=_without_nul(to), errors=_without_nul(err.detail)))
    return items


def _without_nul(echo: Any) -> Any:
    """`echo`, client input that an answer repeats, with each NUL shown as U+FFFD.

    The answer is kept for the Idempotency-Key, and PostgreSQL's jsonb cannot hold \u0000:
    storing it was a 500, after the batch's valid items were queued.
    """
    if isinstance(echo, str):
        return echo.replace("\x00", "\ufffd")
    if isinstance(echo, dict):
        return {_without_nul(key): _without_nul(value) for key, value in echo.items()}
    if isinstance(echo, list):
        return [_without_nul(value) for value in echo]
    return echo


def _batch_item(result: BatchItemResult) -> dict[str, Any]:
    if result.message is None:
        return {"to": result.to, "status": "failed", "error": validation_error(result.errors)}
    if not result.queued:  # recorded, but a recipient is suppressed
        error = RecipientSuppressedError(
            message_id=result.message.message_id, addresses=list(result.suppressed)
        )
        return {
            "to": result.to,
            "status": "failed",
            "queue_id": result.message.pk,
            "message_id": result.message.message_id,
            "error": {"code": error.code, "message": str(error.detail), "details": error.details},
        }
    return {
        "to": result.to,
        "status": Message.Status.QUEUED,
        "queue_id": result.message.pk,
        "message_id": result.message.message_id,
    }


# Every key-authenticated endpoint is throttled: these headers may be on any of its answers.
THROTTLED = [RETRY_AFTER, *RATE_LIMIT_HEADERS]


def _idempotent(request: Request, endpoint: str, handle: Callable[[], Response]) -> Response:
    """Run `handle` once per Idempotency-Key; repeats get the first answer back."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return handle()
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(
            {"Idempotency-Key": [f"Must be 1 to {MAX_KEY_LENGTH} printable characters."]}
        )
    outcome = idempotency_begin(
        account=request.auth.account,
        key=key,
        request_fingerprint=fingerprint(endpoint, request.data),
    )
    if isinstance(outcome, Replay):
        return Response(
            outcome.body, status=outcome.status_code, headers={"Idempotent-Replayed": "true"}
        )
    try:
        response = handle()
    except (SendFailedError, RecipientSuppressedError) as err:
        # The message was recorded (failed, suppressed): a repeat must answer the same.
        body = error_body(err.code, str(err.detail), err.details)
        idempotency_finish(record=outcome, status_code=err.status_code, body=body)
        raise
    except BaseException:
        idempotency_abandon(record=outcome)
        raise
    idempotency_finish(record=outcome, status_code=response.status_code, body=response.data)
    return response


@extend_schema(tags=["Mail"])
class MailViewSet(viewsets.ViewSet):
    """The documented mail API: /api/v1/mail/send, /send-batch and /status/{message_id}."""

    required_permission = Permission.MAIL
    content_negotiation_class = JsonOnlyNegotiation
    metadata_class = None  # OPTIONS is a 405 like any undocumented method, not DRF's metadata

    @extend_schema(
        summary="Send one email now",
        request=MessageInputSerializer,
        parameters=[IDEMPOTENCY_KEY, *THROTTLED, idempotent_replayed(200, 422, 500)],
        responses={
            200: envelope("SendResponse", SendResultSerializer()),
            **error_responses(400, 401, 403, 409, 413, 415, 422, 429, 500),
        },
    )
    def send(self, request: Request) -> Response:
        return _idempotent(request, "send", lambda: self._send(request))

    def _send(self, request: Request) -> Response:
        serializer = MessageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.message_send(
            account=request.auth.account, api_key=request.auth, data=serializer.validated_data
        )
        return success(
            {
                "message_id": message.message_id,
                "status": message.status,
                "to": message.to_email,
                "from": message.from_email,
            }
        )

    @extend_schema(
        summary="Queue up to 100 emails",
        request=BatchInputSerializer,
        parameters=[IDEMPOTENCY_KEY, *THROTTLED, idempotent_replayed(200)],
        responses={
            200: envelope("BatchResponse", BatchResultSerializer()),
            **error_responses(400, 401, 403, 409, 413, 415, 422, 429),
        },
    )
    def send_batch(self, request: Request) -> Response:
        return _idempotent(request, "send-batch", lambda: self._send_batch(request))

    def _send_batch(self, request: Request) -> Response:
        serializer = BatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        defaults = {
            name: serializer.validated_data[name]
            for name in ("from_email", "from_name")
            if serializer.validated_data.get(name) is not None
        }
        items = _validate_items(serializer.validated_data["messages"], defaults)
        results = services.batch_enqueue(
            account=request.auth.account, api_key=request.auth, items=items
        )
        queued = sum(1 for result in results if result.queued)
        return success(
            {
                "total": len(results),
                "queued": queued,
                "failed": len(results) - queued,
                "messages": [_batch_item(result) for result in results],
            }
        )

    @extend_schema(
        summary="Status and events of a message",
        parameters=[
            OpenApiParameter(
                "message_id",
                str,
                OpenApiParameter.PATH,
                description="The message_id, with or without angle brackets, URL-encoded or not.",
            ),
            OpenApiParameter(
                "events_after",
                str,
                description="The events_next of the previous answer: the next page of events.",
            ),
            *THROTTLED,
        ],
        responses={
            200: envelope("StatusResponse", StatusResultSerializer()),
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def status(self, request: Request, message_id: str) -> Response:
        after = request.query_params.get("events_after")
        # isdecimal, not isdigit: int() refuses "²"; and no more digits than a pk has.
        if after is not None and not (after.isdecimal() and len(after) <= 18):
            raise ValidationError({"events_after": ["Must be the events_next of an answer."]})
        try:
            message = selectors.message_get_for_account(
                account=request.auth.account, message_id=message_id
            )
        except Message.DoesNotExist as err:
            raise NotFound() from err
        events, following = selectors.message_events(
            message=message, after=int(after) if after is not None else None
        )
        return success(
            {
                "message": MessageStatusSerializer(message).data,
                "events": MessageEventSerializer(events, many=True).data,
                "events_next": None if following is None else str(following),
            }
        )


SUPPRESSIONS_PAGE_SIZE = 100


@extend_schema(tags=["Suppressions"])
class SuppressionViewSet(viewsets.ViewSet):
    """The account's suppression list: addresses that hard-bounced, complained,
    unsubscribed or were added by hand. Mail to them is never handed to a provider."""

    required_permission = Permission.MAIL
    content_negotiation_class = JsonOnlyNegotiation
    metadata_class = None  # OPTIONS is a 405 like any undocumented method, not DRF's metadata

    @extend_schema(
        summary="List suppressed addresses, newest first",
        parameters=[
            OpenApiParameter("email", str, description="Only this address."),
            OpenApiParameter(
                "page",
                {"type": "integer", "minimum": 1},
                description=f"{SUPPRESSIONS_PAGE_SIZE} per page; past the last page is a 400.",
            ),
            *THROTTLED,
        ],
        responses={
            200: envelope("SuppressionListResponse", SuppressionListSerializer()),
            **error_responses(400, 401, 403, 429),
        },
    )
    def list(self, request: Request) -> Response:
        email = request.query_params.get("email")
        if email is not None and "\x00" in email:  # PostgreSQL refuses NUL in a query: a 500
            raise ValidationError({"email": ["Must not contain NUL characters."]})
        entries = selectors.suppression_list(account=request.auth.account, email=email)
        paginator = Paginator(entries.select_related("message"), SUPPRESSIONS_PAGE_SIZE)
        number = request.query_params.get("page", "1")
        pages = max(paginator.num_pages, 1)
        # isdecimal, not isdigit: int() refuses "²"; and no more digits than int() reads.
        if not (number.isdecimal() and len(number) <= 9 and 1 <= int(number) <= pages):
            raise ValidationError({"page": [f"Must be 1 to {pages}."]})
        page = paginator.page(int(number))
        return success(
            {
                "total": paginator.count,
                "page": page.number,
                "pages": paginator.num_pages,
                "suppressions": SuppressionSerializer(page.object_list, many=True).data,
            }
        )

    @extend_schema(
        summary="Add an address to the suppression list",
        request=SuppressionInputSerializer,
        parameters=THROTTLED,
        responses={
            201: envelope("SuppressionAddedResponse", SuppressionAddedSerializer()),
            200: envelope("SuppressionExistsResponse", SuppressionAddedSerializer()),
            **error_responses(400, 401, 403, 413, 415, 429),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = SuppressionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry, created = services.suppression_add(
            account=request.auth.account, **serializer.validated_data
        )
        return success(
            {"created": created, "suppression": SuppressionSerializer(entry).data},
            status=201 if created else 200,
        )

    @extend_schema(
        summary="Remove an address from the suppression list",
        parameters=THROTTLED,
        responses={
            200: envelope(
                "SuppressionRemovedResponse",
                inline_serializer("SuppressionRemoved", {"email": serializers.EmailField()}),
            ),
            **error_responses(401, 403, 404, 429),
        },
    )
    def destroy(self, request: Request, email: str) -> Response:
        # No listed address holds a NUL, and PostgreSQL refuses one in a query (a 500).
        if "\x00" in email or not services.suppression_remove(
            account=request.auth.account, email=email
        ):
            raise NotFound("This address is not on the suppression list.")
        return success({"email": email.strip().lower()})


@extend_schema(tags=["Operations"])
class HealthView(APIView):
    """For load balancers and monitoring: no key needed, no throttling. Anyone learns
    whether the database answers; the queue's figures (across every account) only a
    request with the operator's MAILPASS_HEALTH_TOKEN."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    content_negotiation_class = JsonOnlyNegotiation
    metadata_class = None

    @extend_schema(
        summary="Database reachability, and queue depth for the operator",
        parameters=[
            OpenApiParameter(
                "Authorization",
                str,
                OpenApiParameter.HEADER,
                description="Bearer <MAILPASS_HEALTH_TOKEN>: adds the queue's figures.",
            )
        ],
        responses={
            200: envelope("HealthResponse", HealthSerializer()),
            503: error_responses(503)[503],
        },
    )
    def get(self, request: Request) -> Response:
        try:
            if not _has_health_token(request):
                selectors.database_ping()
                return success({"database": "ok"})
            queue_state = selectors.queue_health()
        except DatabaseError as err:
            raise ServiceUnavailableError() from err
        return success({"database": "ok", "queue": queue_state})


def _has_health_token(request: Request) -> bool:
    token = settings.MAILPASS_HEALTH_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


# A transparent 1x1 GIF: what a tracking pixel answers.
_PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _not_found() -> HttpResponse:
    return HttpResponse("Not found.", status=404, content_type="text/plain")


def _tracking_throttled(request: HttpRequest) -> HttpResponse | None:
    """A 429 (text, Retry-After) for a client over MAILPASS_TRACKING_RATE_LIMIT, else None."""
    throttle = tracking.TrackingThrottle()
    if throttle.allow_request(request, None):
        return None
    response = HttpResponse("Too many requests.", status=429, content_type="text/plain")
    response["Retry-After"] = str(max(1, math.ceil(throttle.wait() or 1)))
    return response


@require_safe
def tracking_open(request: HttpRequest, token: str) -> HttpResponse:
    """The open pixel: records an `open` event, answers a GIF that is never cached."""
    if (refusal := _tracking_throttled(request)) is not None:
        return refusal
    message_pk = tracking.read_open_token(token)
    if message_pk is None or not services.event_record_open(
        message_pk=message_pk,
        ip_address=tracking.client_ip(request.META),
        user_agent=request.headers.get("User-Agent", ""),
    ):
        return _not_found()
    response = HttpResponse(_PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store, max-age=0"
    return response


@require_safe
def tracking_click(request: HttpRequest, token: str) -> HttpResponse:
    """A tracked link: records a `click` event and redirects (302) to the link as it was in
    the message. A token we did not sign redirects nowhere."""
    if (refusal := _tracking_throttled(request)) is not None:
        return refusal
    click = tracking.read_click_token(token)
    target = click and services.event_record_click(
        message_pk=click.message_pk,
        link_index=click.link_index,
        ip_address=tracking.client_ip(request.META),
        user_agent=request.headers.get("User-Agent", ""),
    )
    if not target:
        return _not_found()
    response = HttpResponseRedirect(target)
    response["Cache-Control"] = "no-store, max-age=0"
    return response


@csrf_exempt
def provider_webhook(request: HttpRequest, token: str) -> HttpResponse:
    """An ESP's events for one provider (see api.webhooks); an unknown token is a 404."""
    provider = webhooks.provider_for_token(token)
    if provider is None:
        return _not_found()
    return webhooks.receive(request, provider)
