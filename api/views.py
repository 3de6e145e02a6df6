import base64
import datetime as dt
import hmac
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import mailpass
from api import idempotency, metrics, selectors, services, tracking, webhooks
from api import unsubscribe as unsubscribe_links
from api.authentication import api_key_of
from api.envelope import success
from api.errors import ApiError, RecipientSuppressedError, ServiceUnavailableError, error_of
from api.models import (
    Message,
    Permission,
    Template,
    TemplateVersion,
    WebhookDelivery,
    WebhookEndpoint,
)
from api.responses import (
    BatchResultSerializer,
    DomainDetailSerializer,
    DomainListSerializer,
    DomainSerializer,
    HealthSerializer,
    MessageEventSerializer,
    MessageScheduleSerializer,
    MessageStatusSerializer,
    SendResultSerializer,
    StatusResultSerializer,
    SuppressionAddedSerializer,
    SuppressionListSerializer,
    SuppressionSerializer,
    TemplateDetailSerializer,
    TemplateListSerializer,
    TemplateRenderedSerializer,
    TemplateSerializer,
    WebhookDeliveryDetailSerializer,
    WebhookDeliveryListSerializer,
    WebhookDeliverySerializer,
    WebhookDetailSerializer,
    WebhookEndpointSerializer,
    WebhookListSerializer,
    WebhookWithSecretSerializer,
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
    DomainInputSerializer,
    DomainRotateInputSerializer,
    MessageInputSerializer,
    PageQuerySerializer,
    RescheduleInputSerializer,
    RotateSecretInputSerializer,
    StatusQuerySerializer,
    SuppressionInputSerializer,
    SuppressionListQuerySerializer,
    TemplateInputSerializer,
    TemplateQuerySerializer,
    TemplateRenderInputSerializer,
    WebhookDeliveryListQuerySerializer,
    WebhookInputSerializer,
)
from api.services import BatchItemResult
from mailpass.cache import cache_state
from providers import domains
from providers.dns import DnsUnavailableError
from providers.models import SenderDomain


def _batch_item(result: BatchItemResult) -> dict[str, Any]:
    if result.message is None:
        return {
            "to": result.to,
            "status": "failed",
            "error": error_of(
                result.errors
                if isinstance(result.errors, ApiError)
                else ValidationError(result.errors)
            ),
        }
    if not result.queued:  # recorded, but a recipient is suppressed
        error = RecipientSuppressedError(
            message_id=result.message.message_id, addresses=list(result.suppressed)
        )
        return {
            "to": result.to,
            "status": "failed",
            "queue_id": result.message.pk,
            "message_id": result.message.message_id,
            "error": error_of(error),
        }
    return {
        "to": result.to,
        "status": result.message.status,  # queued, or scheduled
        "queue_id": result.message.pk,
        "message_id": result.message.message_id,
        **_scheduled_at(result.message),
    }


def _scheduled_at(message: Message) -> dict[str, Any]:
    """{"scheduled_at": …} for a scheduled message, else nothing: answers about sending now
    keep the documented shape."""
    if message.status != Message.Status.SCHEDULED or message.scheduled_at is None:
        return {}
    return {"scheduled_at": serializers.DateTimeField().to_representation(message.scheduled_at)}


def _message_of(request: Request, message_id: str) -> Message:
    """The key's account's message, live or test as the key is; a 404 otherwise."""
    api_key = api_key_of(request)
    try:
        return selectors.message_get_for_account(
            account=api_key.account, message_id=message_id, test=api_key.test
        )
    except Message.DoesNotExist as err:
        raise NotFound() from err


# Every key-authenticated endpoint is throttled: these headers may be on any of its answers.
THROTTLED = [RETRY_AFTER, *RATE_LIMIT_HEADERS]
MESSAGE_ID = OpenApiParameter(
    "message_id",
    str,
    OpenApiParameter.PATH,
    description="The message_id, with or without angle brackets, URL-encoded or not.",
)
TEMPLATE_REFERENCE = OpenApiParameter(
    "reference",
    str,
    OpenApiParameter.PATH,
    description="The template's id, or its alias.",
)


@extend_schema(tags=["Mail"])
class MailViewSet(viewsets.ViewSet):
    """The documented mail API: /api/v1/mail/send, /send-batch and /status/{message_id}."""

    required_permission = Permission.MAIL

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
        return idempotency.respond_once(request, "send", lambda: self._send(request))

    def _send(self, request: Request) -> Response:
        serializer = MessageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key = api_key_of(request)
        message = services.message_send(
            account=api_key.account, api_key=api_key, data=serializer.validated_data
        )
        metrics.count_accepted("send")
        return success(
            {
                "message_id": message.message_id,
                "status": message.status,
                "to": message.to_email,
                "from": message.from_email,
                **_scheduled_at(message),
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
        return idempotency.respond_once(request, "send-batch", lambda: self._send_batch(request))

    def _send_batch(self, request: Request) -> Response:
        serializer = BatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key = api_key_of(request)
        results = services.batch_enqueue(
            account=api_key.account, api_key=api_key, items=serializer.batch_items()
        )
        queued = sum(1 for result in results if result.queued)
        metrics.count_accepted("send_batch", queued)
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
            MESSAGE_ID,
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
        query = StatusQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        message = _message_of(request, message_id)
        events, following = selectors.message_events(
            message=message, after=query.validated_data.get("events_after")
        )
        return success(
            {
                "message": MessageStatusSerializer(message).data,
                "events": MessageEventSerializer(events, many=True).data,
                "events_next": None if following is None else str(following),
            }
        )

    @extend_schema(
        summary="Cancel a scheduled message",
        request=None,
        parameters=[MESSAGE_ID, *THROTTLED],
        responses={
            200: envelope("CancelResponse", MessageScheduleSerializer()),
            **error_responses(401, 403, 404, 409, 429),
        },
    )
    def cancel(self, request: Request, message_id: str) -> Response:
        message = services.message_cancel(message=_message_of(request, message_id))
        return success({"message_id": message.message_id, "status": message.status})

    @extend_schema(
        summary="Move a scheduled message to another time",
        request=RescheduleInputSerializer,
        parameters=[MESSAGE_ID, *THROTTLED],
        responses={
            200: envelope("RescheduleResponse", MessageScheduleSerializer()),
            **error_responses(400, 401, 403, 404, 409, 413, 415, 429),
        },
    )
    def reschedule(self, request: Request, message_id: str) -> Response:
        message = _message_of(request, message_id)
        serializer = RescheduleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.message_reschedule(
            message=message, scheduled_at=serializer.validated_data["scheduled_at"]
        )
        return success(
            {
                "message_id": message.message_id,
                "status": message.status,
                **_scheduled_at(message),
            }
        )


SUPPRESSIONS_PAGE_SIZE = 100
TEMPLATES_PAGE_SIZE = 100


def _page_parameter(size: int) -> OpenApiParameter:
    return OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1},
        description=f"{size} per page; past the last page is a 400.",
    )


@extend_schema(tags=["Suppressions"])
class SuppressionViewSet(viewsets.ViewSet):
    """The account's suppression list: addresses that hard-bounced, complained,
    unsubscribed or were added by hand. Mail to them is never handed to a provider."""

    required_permission = Permission.MAIL

    @extend_schema(
        summary="List suppressed addresses, newest first",
        parameters=[
            OpenApiParameter("email", str, description="Only this address."),
            _page_parameter(SUPPRESSIONS_PAGE_SIZE),
            *THROTTLED,
        ],
        responses={
            200: envelope("SuppressionListResponse", SuppressionListSerializer()),
            **error_responses(400, 401, 403, 429),
        },
    )
    def list(self, request: Request) -> Response:
        query = SuppressionListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        api_key = api_key_of(request)
        entries = selectors.suppression_list(
            account=api_key.account, email=query.validated_data.get("email"), test=api_key.test
        )
        paginator, page = _page(query, entries.select_related("message"), SUPPRESSIONS_PAGE_SIZE)
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
        api_key = api_key_of(request)
        entry, created = services.suppression_add(
            account=api_key.account, test=api_key.test, **serializer.validated_data
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
        api_key = api_key_of(request)
        if not services.suppression_remove(account=api_key.account, email=email, test=api_key.test):
            raise NotFound("This address is not on the suppression list.")
        return success({"email": email.strip().lower()})


def _page(query: PageQuerySerializer, items: Any, size: int) -> tuple[Paginator, Any]:
    paginator = Paginator(items, size)
    return paginator, query.page_of(paginator)


@extend_schema(tags=["Templates"], parameters=THROTTLED)
class TemplateViewSet(viewsets.ViewSet):
    """The account's templates: what /send renders with `template`. Reading and rendering
    needs the `mail` or the `templates` permission; changing needs `templates`."""

    @property
    def required_permission(self) -> tuple[Permission, ...]:
        if self.action in ("list", "retrieve", "render"):
            return (Permission.MAIL, Permission.TEMPLATES)
        return (Permission.TEMPLATES,)

    def _template(self, request: Request, reference: str) -> Template:
        try:
            return selectors.template_get_for_account(
                account=api_key_of(request).account, reference=reference
            )
        except Template.DoesNotExist as err:
            raise NotFound() from err

    def _version(self, template: Template, number: int | None) -> TemplateVersion:
        try:
            return services.template_version_get(template=template, number=number)
        except TemplateVersion.DoesNotExist as err:
            raise ValidationError({"version": [f"The template has no version {number}."]}) from err

    def _detail(self, template: Template, number: int | None = None) -> dict[str, Any]:
        return TemplateDetailSerializer(
            {
                "template": self._version(template, number),
                "versions": selectors.template_versions(template=template),
            }
        ).data

    @extend_schema(
        summary="List templates, newest first",
        parameters=[_page_parameter(TEMPLATES_PAGE_SIZE)],
        responses={
            200: envelope("TemplateListResponse", TemplateListSerializer()),
            **error_responses(400, 401, 403, 429),
        },
    )
    def list(self, request: Request) -> Response:
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        templates = selectors.template_list(account=api_key_of(request).account)
        paginator, page = _page(query, templates, TEMPLATES_PAGE_SIZE)
        versions = selectors.template_latest_versions(page.object_list)
        return success(
            {
                "total": paginator.count,
                "page": page.number,
                "pages": paginator.num_pages,
                "templates": TemplateSerializer(versions, many=True).data,
            }
        )

    @extend_schema(
        summary="Create a template (its version 1)",
        request=TemplateInputSerializer,
        responses={
            201: envelope("TemplateCreatedResponse", TemplateDetailSerializer()),
            **error_responses(400, 401, 403, 413, 415, 429),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = TemplateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.template_create(
            account=api_key_of(request).account, data=serializer.validated_data
        )
        return success(self._detail(template), status=201)

    @extend_schema(
        summary="A template, at its latest version or ?version=",
        parameters=[
            TEMPLATE_REFERENCE,
            OpenApiParameter(
                "version", {"type": "integer", "minimum": 1}, description="Show this version."
            ),
        ],
        responses={
            200: envelope("TemplateResponse", TemplateDetailSerializer()),
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def retrieve(self, request: Request, reference: str) -> Response:
        query = TemplateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        template = self._template(request, reference)
        return success(self._detail(template, query.validated_data.get("version")))

    @extend_schema(
        summary="Change a template (a new version when subject, bodies or defaults change)",
        request=TemplateInputSerializer(partial=True),
        parameters=[TEMPLATE_REFERENCE],
        responses={
            200: envelope("TemplateUpdatedResponse", TemplateDetailSerializer()),
            **error_responses(400, 401, 403, 404, 413, 415, 429),
        },
    )
    def partial_update(self, request: Request, reference: str) -> Response:
        template = self._template(request, reference)
        serializer = TemplateInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        template = services.template_update(template=template, data=serializer.validated_data)
        return success(self._detail(template))

    @extend_schema(
        summary="Delete a template and its versions",
        parameters=[TEMPLATE_REFERENCE],
        responses={
            200: envelope(
                "TemplateDeletedResponse",
                inline_serializer(
                    "TemplateDeleted",
                    {"id": serializers.IntegerField(), "alias": serializers.CharField()},
                ),
            ),
            **error_responses(401, 403, 404, 409, 429),
        },
    )
    def destroy(self, request: Request, reference: str) -> Response:
        template = self._template(request, reference)
        deleted = {"id": template.pk, "alias": template.alias}
        services.template_delete(template=template)
        return success(deleted)

    @extend_schema(
        summary="Render a template without sending",
        request=TemplateRenderInputSerializer,
        parameters=[TEMPLATE_REFERENCE],
        responses={
            200: envelope("TemplateRenderResponse", TemplateRenderedSerializer()),
            **error_responses(400, 401, 403, 404, 413, 415, 429),
        },
    )
    def render(self, request: Request, reference: str) -> Response:
        template = self._template(request, reference)
        serializer = TemplateRenderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = self._version(template, serializer.validated_data.get("version"))
        rendered = services.template_render(
            version=version, variables=serializer.validated_data.get("variables", {})
        )
        return success(
            {
                "subject": rendered.subject,
                "html": rendered.html,
                "text": rendered.text,
                "version": version.number,
            }
        )


WEBHOOKS_PAGE_SIZE = 100
DELIVERIES_PAGE_SIZE = 50
WEBHOOK_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The endpoint's id.")


@extend_schema(tags=["Webhooks"], parameters=THROTTLED)
class WebhookViewSet(viewsets.ViewSet):
    """The account's webhook endpoints, and the deliveries of events to them. Deliveries
    are seen in the key's mode: a test key sees those of test events only."""

    required_permission = Permission.WEBHOOKS

    def _endpoint(self, request: Request, id: str) -> WebhookEndpoint:
        try:
            return selectors.webhook_get_for_account(
                account=api_key_of(request).account, reference=id
            )
        except WebhookEndpoint.DoesNotExist as err:
            raise NotFound("No webhook endpoint with this id.") from err

    @extend_schema(
        summary="List webhook endpoints, newest first",
        parameters=[_page_parameter(WEBHOOKS_PAGE_SIZE)],
        responses={
            200: envelope("WebhookListResponse", WebhookListSerializer()),
            **error_responses(400, 401, 403, 429),
        },
    )
    def list(self, request: Request) -> Response:
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        endpoints = selectors.webhook_list(account=api_key_of(request).account)
        paginator, page = _page(query, endpoints, WEBHOOKS_PAGE_SIZE)
        return success(
            {
                "total": paginator.count,
                "page": page.number,
                "pages": paginator.num_pages,
                "webhooks": WebhookEndpointSerializer(page.object_list, many=True).data,
            }
        )

    @extend_schema(
        summary="Add a webhook endpoint",
        request=WebhookInputSerializer,
        responses={
            201: envelope("WebhookCreatedResponse", WebhookWithSecretSerializer()),
            **error_responses(400, 401, 403, 413, 415, 429),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = WebhookInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_create(
            account=api_key_of(request).account, **serializer.validated_data
        )
        return success(
            {"webhook": WebhookEndpointSerializer(endpoint).data, "secret": secret}, status=201
        )

    @extend_schema(
        summary="A webhook endpoint",
        parameters=[WEBHOOK_ID],
        responses={
            200: envelope("WebhookResponse", WebhookDetailSerializer()),
            **error_responses(401, 403, 404, 429),
        },
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return success({"webhook": WebhookEndpointSerializer(self._endpoint(request, id)).data})

    @extend_schema(
        summary="Change a webhook endpoint",
        request=WebhookInputSerializer(partial=True),
        parameters=[WEBHOOK_ID],
        responses={
            200: envelope("WebhookUpdatedResponse", WebhookDetailSerializer()),
            **error_responses(400, 401, 403, 404, 413, 415, 429),
        },
    )
    def partial_update(self, request: Request, id: str) -> Response:
        endpoint = self._endpoint(request, id)
        serializer = WebhookInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_update(endpoint=endpoint, **serializer.validated_data)
        return success({"webhook": WebhookEndpointSerializer(endpoint).data})

    @extend_schema(
        summary="Delete a webhook endpoint and its deliveries",
        parameters=[WEBHOOK_ID],
        responses={
            200: envelope(
                "WebhookDeletedResponse",
                inline_serializer("WebhookDeleted", {"id": serializers.IntegerField()}),
            ),
            **error_responses(401, 403, 404, 429),
        },
    )
    def destroy(self, request: Request, id: str) -> Response:
        endpoint = self._endpoint(request, id)
        deleted = {"id": endpoint.pk}
        services.webhook_delete(endpoint=endpoint)
        return success(deleted)

    @extend_schema(
        summary="Give a webhook endpoint a new signing secret",
        request=RotateSecretInputSerializer,
        parameters=[WEBHOOK_ID],
        responses={
            200: envelope("WebhookSecretResponse", WebhookWithSecretSerializer()),
            **error_responses(400, 401, 403, 404, 413, 415, 429),
        },
    )
    def rotate_secret(self, request: Request, id: str) -> Response:
        endpoint = self._endpoint(request, id)
        serializer = RotateSecretInputSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        overlap = dt.timedelta(hours=serializer.validated_data["overlap_hours"])
        secret = services.webhook_rotate_secret(endpoint=endpoint, overlap=overlap)
        return success({"webhook": WebhookEndpointSerializer(endpoint).data, "secret": secret})

    @extend_schema(
        summary="Send a signed test event to a webhook endpoint",
        request=None,
        parameters=[WEBHOOK_ID],
        responses={
            202: envelope("WebhookTestResponse", WebhookDeliveryDetailSerializer()),
            **error_responses(401, 403, 404, 409, 429),
        },
    )
    def test(self, request: Request, id: str) -> Response:
        endpoint = self._endpoint(request, id)
        delivery = services.webhook_send_test(endpoint=endpoint, test=api_key_of(request).test)
        return success({"delivery": WebhookDeliverySerializer(delivery).data}, status=202)

    @extend_schema(
        summary="Deliveries of events to a webhook endpoint, newest first",
        parameters=[
            WEBHOOK_ID,
            OpenApiParameter("status", str, enum=["pending", "succeeded", "failed"]),
            _page_parameter(DELIVERIES_PAGE_SIZE),
        ],
        responses={
            200: envelope("WebhookDeliveryListResponse", WebhookDeliveryListSerializer()),
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def deliveries(self, request: Request, id: str) -> Response:
        endpoint = self._endpoint(request, id)
        query = WebhookDeliveryListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        deliveries = selectors.webhook_deliveries(
            endpoint=endpoint,
            test=api_key_of(request).test,
            status=query.validated_data.get("status"),
        )
        paginator, page = _page(query, deliveries, DELIVERIES_PAGE_SIZE)
        return success(
            {
                "total": paginator.count,
                "page": page.number,
                "pages": paginator.num_pages,
                "deliveries": WebhookDeliverySerializer(page.object_list, many=True).data,
            }
        )

    @extend_schema(
        summary="Try a delivery again now",
        request=None,
        parameters=[
            WEBHOOK_ID,
            OpenApiParameter("delivery_id", int, OpenApiParameter.PATH),
        ],
        responses={
            202: envelope("WebhookRetryResponse", WebhookDeliveryDetailSerializer()),
            **error_responses(401, 403, 404, 409, 429),
        },
    )
    def retry(self, request: Request, id: str, delivery_id: str) -> Response:
        endpoint = self._endpoint(request, id)
        try:
            delivery = selectors.webhook_delivery_get(
                endpoint=endpoint, test=api_key_of(request).test, reference=delivery_id
            )
        except WebhookDelivery.DoesNotExist as err:
            raise NotFound("No delivery with this id for this endpoint.") from err
        delivery = services.webhook_delivery_retry(delivery=delivery)
        return success({"delivery": WebhookDeliverySerializer(delivery).data}, status=202)


DOMAINS_PAGE_SIZE = 100
DOMAIN_ID = OpenApiParameter(
    "id", str, OpenApiParameter.PATH, description="The domain's id, or its name."
)


@extend_schema(tags=["Domains"], parameters=THROTTLED)
class DomainViewSet(viewsets.ViewSet):
    """The account's sender domains: the DNS records each must publish, their checks, and
    DKIM key rotation."""

    required_permission = Permission.DOMAINS

    def _domain(self, request: Request, id: str) -> SenderDomain:
        try:
            return domains.domain_get(api_key_of(request).account, id)
        except SenderDomain.DoesNotExist as err:
            raise NotFound("No sender domain with this id or name.") from err

    @staticmethod
    def _answer(domain: SenderDomain, status: int = 200) -> Response:
        return success({"domain": DomainSerializer(domain).data}, status=status)

    @extend_schema(
        summary="List sender domains, newest first",
        parameters=[_page_parameter(DOMAINS_PAGE_SIZE)],
        responses={
            200: envelope("DomainListResponse", DomainListSerializer()),
            **error_responses(400, 401, 403, 429),
        },
    )
    def list(self, request: Request) -> Response:
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = domains.domain_list(api_key_of(request).account)
        paginator, page = _page(query, found, DOMAINS_PAGE_SIZE)
        return success(
            {
                "total": paginator.count,
                "page": page.number,
                "pages": paginator.num_pages,
                "domains": DomainSerializer(page.object_list, many=True).data,
            }
        )

    @extend_schema(
        summary="Add a sender domain (and make its DKIM keys)",
        request=DomainInputSerializer,
        responses={
            201: envelope("DomainCreatedResponse", DomainDetailSerializer()),
            **error_responses(400, 401, 403, 413, 415, 429),
        },
    )
    def create(self, request: Request) -> Response:
        serializer = DomainInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            domain = domains.domain_create(
                account=api_key_of(request).account, **serializer.validated_data
            )
        except DjangoValidationError as err:
            raise ValidationError(err.message_dict) from err
        return self._answer(domain, status=201)

    @extend_schema(
        summary="A sender domain and the DNS records it must publish",
        parameters=[DOMAIN_ID],
        responses={
            200: envelope("DomainResponse", DomainDetailSerializer()),
            **error_responses(401, 403, 404, 429),
        },
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return self._answer(self._domain(request, id))

    @extend_schema(
        summary="Delete a sender domain and its keys",
        parameters=[DOMAIN_ID],
        responses={
            200: envelope(
                "DomainDeletedResponse",
                inline_serializer(
                    "DomainDeleted",
                    {"id": serializers.IntegerField(), "name": serializers.CharField()},
                ),
            ),
            **error_responses(401, 403, 404, 429),
        },
    )
    def destroy(self, request: Request, id: str) -> Response:
        domain = self._domain(request, id)
        deleted = {"id": domain.pk, "name": domain.name}
        domains.domain_delete(domain)
        return success(deleted)

    @extend_schema(
        summary="Check a sender domain's DNS records now",
        request=None,
        parameters=[DOMAIN_ID],
        responses={
            200: envelope("DomainVerifiedResponse", DomainDetailSerializer()),
            **error_responses(401, 403, 404, 429, 503),
        },
    )
    def verify(self, request: Request, id: str) -> Response:
        domain = self._domain(request, id)
        try:
            return self._answer(domains.domain_verify(domain))
        except DnsUnavailableError as err:
            raise ServiceUnavailableError(
                f"The DNS could not be asked ({err}); nothing changed. Try again shortly."
            ) from err

    @extend_schema(
        summary="Start a DKIM key rotation: new keys under a new selector",
        request=DomainRotateInputSerializer,
        parameters=[DOMAIN_ID],
        responses={
            200: envelope("DomainRotatedResponse", DomainDetailSerializer()),
            **error_responses(400, 401, 403, 404, 413, 415, 429),
        },
    )
    def rotate(self, request: Request, id: str) -> Response:
        domain = self._domain(request, id)
        serializer = DomainRotateInputSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        try:
            domain = domains.domain_rotate(domain, ed25519=serializer.validated_data["ed25519"])
        except DjangoValidationError as err:
            raise ValidationError({"non_field_errors": err.messages}) from err
        return self._answer(domain)


@extend_schema(tags=["Operations"])
class HealthView(APIView):
    """For load balancers and monitoring: no key needed, no throttling, plain HTTP allowed
    (no redirect to https). Anyone learns whether the database and the shared cache answer
    and the release; the queue's figures (across every account) only a request with the
    operator's MAILPASS_HEALTH_TOKEN."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        summary="Database and cache reachability, the release, and queue depth for the operator",
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
            if _has_health_token(request):
                queue_state = {"queue": selectors.queue_health()}
            else:
                selectors.database_ping()
                queue_state = {}
        except DatabaseError as err:
            raise ServiceUnavailableError() from err
        # Still 200 when only the cache is down: every host shares it, and a 503 would
        # take them all out of the load balancer while they can serve.
        state = {"database": "ok", "cache": cache_state(), "version": mailpass.__version__}
        return success({**state, **queue_state})


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
    # /t/ is a plain Django view; the throttle reads only request.META, no DRF request/view.
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
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """A message's one-click unsubscribe URL (api.unsubscribe). POST, what mailbox providers
    send (RFC 8058) and what the page's button sends, unsubscribes the recipient; GET only
    shows that button. Without CSRF protection: a mailbox provider's POST carries no token,
    and whoever holds the URL may unsubscribe its recipient anyway."""
    if (refusal := _tracking_throttled(request)) is not None:
        return refusal
    message_pk = unsubscribe_links.read_unsubscribe_token(token)
    if message_pk is None:
        return _not_found()
    if request.method != "POST":
        if not selectors.message_exists(pk=message_pk):
            return _not_found()
        return render(request, "api/unsubscribe_confirm.html")
    message = services.message_unsubscribe(
        message_pk=message_pk,
        ip_address=tracking.client_ip(request.META),
        user_agent=request.headers.get("User-Agent", ""),
    )
    if message is None:
        return _not_found()
    return render(request, "api/unsubscribe_done.html", {"email": message.to_email})


@csrf_exempt
def provider_webhook(request: HttpRequest, token: str) -> HttpResponseBase:
    """An ESP's events for one provider (see api.webhooks); an unknown token is a 404."""
    provider = webhooks.provider_for_token(token)
    if provider is None:
        return _not_found()
    return webhooks.receive(request, provider)
