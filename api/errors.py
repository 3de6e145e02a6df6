"""The one error envelope of the API, and the guarantee that /api/ only ever answers JSON.

Failure body: {"success": false, "error": {"code", "message", "details"}}. It is built
here and nowhere else: by the DRF exception handler for everything raised in API views,
and by the fallback handlers for what happens outside them (unknown paths, crashes).

Error codes (the contract, see DESIGN.md):
  VALIDATION_ERROR     400  missing/invalid fields, bad JSON, header injection, size limits
  UNAUTHORIZED         401  missing, malformed, unknown or revoked API key
  FORBIDDEN            403  the key lacks the permission the endpoint needs
  NOT_FOUND            404  unknown object or path, or an object of another account
  IDEMPOTENCY_CONFLICT 409  the Idempotency-Key was used for a different request
  MESSAGE_NOT_SCHEDULED 409 cancel or reschedule of a message that is not scheduled
  TEMPLATE_IN_USE      409  deleting a template that scheduled messages use
  WEBHOOK_DISABLED     409  a test event or retry for a disabled webhook endpoint
  PAYLOAD_TOO_LARGE    413  the request body is over MAILPASS_MAX_REQUEST_BYTES
  NO_SMTP_PROVIDER     422  the account has no default provider
  DOMAIN_NOT_VERIFIED  422  the From domain is not a verified sender domain of the account
  SEND_LIMIT_EXCEEDED  429  the provider's hourly/daily limit is reached (Retry-After)
  RATE_LIMITED         429  too many API requests for this key (Retry-After)
  SEND_FAILED          500  the provider refused or could not be reached
  UNAVAILABLE          503  /api/v1/health: the database is unreachable; a domain check:
                            the DNS could not be asked
  INTERNAL_ERROR       500  a bug on our side; logged with its traceback
Other DRF errors keep their status and use their default code upper-cased
(METHOD_NOT_ALLOWED, UNSUPPORTED_MEDIA_TYPE).
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with one of our documented codes. Subclasses set code and status."""

    code = "INTERNAL_ERROR"
    status_code = 500
    default_detail = "An unexpected error occurred."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        super().__init__(message or self.default_detail)
        self.details = details or {}


class NoProviderError(ApiError):
    code = "NO_SMTP_PROVIDER"
    status_code = 422
    default_detail = (
        "No default provider is configured for this account. Add an SMTP provider and set "
        "it as default in Dashboard > SMTP Settings."
    )


class SendLimitExceededError(ApiError):
    """A sending limit is reached. details.scope says whose: "provider" (the provider's
    hourly/daily limit) or "account" (the operator's daily quota of the account)."""

    code = "SEND_LIMIT_EXCEEDED"
    status_code = 429
    default_detail = "The provider's sending limit is reached."

    def __init__(self, *, retry_after: int, scope: str = "provider", message: str = ""):
        super().__init__(
            message or self.default_detail, details={"retry_after": retry_after, "scope": scope}
        )
        self.wait = retry_after  # DRF's handler turns this into the Retry-After header


class SendFailedError(ApiError):
    code = "SEND_FAILED"
    status_code = 500
    default_detail = "The provider did not accept the message."

    def __init__(self, *, message_id: str, provider_error: str):
        super().__init__(
            f"{self.default_detail} {provider_error}".strip(),
            details={"message_id": message_id, "provider_error": provider_error},
        )


class RecipientSuppressedError(ApiError):
    code = "RECIPIENT_SUPPRESSED"
    status_code = 422
    default_detail = "A recipient is on this account's suppression list; nothing was sent."

    def __init__(self, *, message_id: str, addresses: list[str]):
        super().__init__(
            f"{self.default_detail} Suppressed: {', '.join(addresses)}.",
            details={"message_id": message_id, "suppressed": addresses},
        )


class MessageNotScheduledError(ApiError):
    code = "MESSAGE_NOT_SCHEDULED"
    status_code = 409

    def __init__(self, *, message_id: str, status: str):
        super().__init__(
            f"Only a scheduled message can be cancelled or moved; this one is {status}.",
            details={"message_id": message_id, "status": status},
        )


class WebhookDisabledError(ApiError):
    code = "WEBHOOK_DISABLED"
    status_code = 409

    def __init__(self) -> None:
        super().__init__("This webhook endpoint is disabled; enable it first.")


class DomainNotVerifiedError(ApiError):
    code = "DOMAIN_NOT_VERIFIED"
    status_code = 422

    def __init__(self, domain: str):
        super().__init__(
            f"{domain} is not a verified sender domain of this account: add it under "
            "Domains, publish its DNS records and verify it, or send from a verified one.",
            details={"domain": domain},
        )


class TemplateInUseError(ApiError):
    code = "TEMPLATE_IN_USE"
    status_code = 409

    def __init__(self, *, scheduled: int):
        super().__init__(
            f"{scheduled} scheduled message(s) use this template: cancel them, or wait until "
            "they are sent, before deleting it.",
            details={"scheduled": scheduled},
        )


class ServiceUnavailableError(ApiError):
    code = "UNAVAILABLE"
    status_code = 503
    default_detail = "The database is unreachable."


class PayloadTooLargeError(ApiError):
    code = "PAYLOAD_TOO_LARGE"
    status_code = 413
    default_detail = "The request body is too large."


def _envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "success": False,
        "error": {"code": code, "message": message, "details": details or {}},
    }


def _validation_message(detail: Any) -> str:
    if isinstance(detail, dict) and detail:
        return "Invalid request: " + ", ".join(str(field) for field in detail) + "."
    return "Invalid request."


def _describe(exc: exceptions.APIException) -> tuple[str, str, dict[str, Any]]:
    """(code, message, details) for an exception DRF's own handler accepts."""
    if isinstance(exc, ApiError):
        return exc.code, str(exc.detail), exc.details
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return "VALIDATION_ERROR", _validation_message(detail), detail
    if isinstance(exc, exceptions.ParseError):
        return "VALIDATION_ERROR", f"Malformed request body: {exc.detail}", {}
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return "UNAUTHORIZED", str(exc.detail), {}
    if isinstance(exc, exceptions.PermissionDenied):
        return "FORBIDDEN", str(exc.detail), {}
    if isinstance(exc, exceptions.NotFound):
        return "NOT_FOUND", "Not found.", {}
    if isinstance(exc, exceptions.Throttled):
        wait = exc.wait  # type: ignore[attr-defined]  # set in __init__, not in DRF's stubs
        return "RATE_LIMITED", str(exc.detail), {"retry_after": wait}
    return str(exc.default_code).upper(), str(exc.detail), {}


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    """The failure envelope for `exc`: what the exception handler answers, and what answers
    made outside it carry (a stored Idempotency-Key answer, a middleware's refusal)."""
    return _envelope(*_describe(exc))


def error_of(exc: exceptions.APIException) -> dict[str, Any]:
    """The envelope's `error` object for `exc` ({"code", "message", "details"}): how
    /send-batch reports each item it did not queue."""
    return error_body(exc)["error"]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF EXCEPTION_HANDLER: every error raised in an API view becomes the envelope."""
    # Imported here: rest_framework.views imports our parser and auth classes, which
    # import this module.
    from rest_framework import views as drf_views

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_views.exception_handler(exc, context)  # status, WWW-Authenticate, Retry-After
    if response is None or not isinstance(exc, exceptions.APIException):
        logger.exception("unhandled error in %s", context.get("view"), exc_info=exc)
        drf_views.set_rollback()
        return Response(error_body(ApiError()), status=500)
    response.data = error_body(exc)
    return response


# --- Fallbacks for what happens outside API views -------------------------------------


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


@csrf_exempt  # else a POST or DELETE to an unknown path got Django's HTML CSRF page (403)
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Catch-all route under /api/: an unknown path is a JSON 404, in DEBUG too, whatever
    the method."""
    return JsonResponse(_envelope("NOT_FOUND", "No such endpoint."), status=404)


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(_envelope("VALIDATION_ERROR", "Bad request."), status=400)
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(_envelope("FORBIDDEN", "Forbidden."), status=403)
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body(ApiError()), status=500)
    return defaults.server_error(request)
