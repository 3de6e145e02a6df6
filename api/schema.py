"""OpenAPI description helpers: the Bearer scheme, and the envelopes around every response."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "mp_live_…",
            "description": "An API key from the dashboard: `Authorization: Bearer mp_live_…`.",
        }


def envelope(name: str, data: serializers.Field) -> serializers.Serializer:
    """The success envelope {"success": true, "data": …} around `data`."""
    return inline_serializer(name, {"success": serializers.BooleanField(), "data": data})


ErrorEnvelope = inline_serializer(
    "ErrorEnvelope",
    {
        "success": serializers.BooleanField(),
        "error": inline_serializer(
            "Error",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
            },
        ),
    },
)

_ERRORS = {
    400: "VALIDATION_ERROR: missing or invalid fields, malformed JSON, unknown fields.",
    401: "UNAUTHORIZED: missing, malformed, unknown or revoked API key.",
    403: "FORBIDDEN: the API key lacks the `mail` permission.",
    404: "NOT_FOUND: no such message in this account.",
    409: "IDEMPOTENCY_CONFLICT: the Idempotency-Key was used with another request, or its "
    "first request is still in progress.",
    413: "PAYLOAD_TOO_LARGE: the request body is over the maximum size.",
    422: "NO_SMTP_PROVIDER: the account has no default provider.",
    429: "SEND_LIMIT_EXCEEDED (provider limit) or RATE_LIMITED (API requests); see Retry-After.",
    500: "SEND_FAILED: the provider refused the message or could not be reached; "
    "details.message_id names the recorded message.",
    503: "UNAVAILABLE: the database is unreachable.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(ErrorEnvelope, description=_ERRORS[status]) for status in statuses
    }
