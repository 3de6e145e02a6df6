"""OpenAPI description helpers: the Bearer scheme, the envelopes around every response, the
headers we answer with, and the input rules the serializers enforce that drf-spectacular
cannot see (unknown fields, header-safe characters, "html or text", metadata's shape).

The schema is a contract that tests/security/test_fuzz.py holds the API to: every answer
must be documented here, and what the schema calls valid should be accepted.
"""

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    OpenApiWebhook,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers

from api import outbox
from api import serializers as limits
from api.idempotency import MAX_KEY_LENGTH
from providers.validators import HEADER_UNSAFE


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
    """The success envelope {"success": true, "data": …} around `data`.

    An envelope is one object even for a `list` action, which drf-spectacular would
    otherwise describe as an array of envelopes.
    """
    serializer = inline_serializer(name, {"success": serializers.BooleanField(), "data": data})
    extend_schema_serializer(many=False)(type(serializer))
    return serializer


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
    403: "FORBIDDEN: the API key lacks the permission (`mail`, `templates`, `webhooks` or "
    "`domains`) the call needs.",
    404: "NOT_FOUND: no such message, template, webhook endpoint, delivery, sender domain or "
    "address on the list, in this account (and this key's mode: live or test).",
    409: "IDEMPOTENCY_CONFLICT: the Idempotency-Key was used with another request, or its "
    "first request is still in progress. MESSAGE_NOT_SCHEDULED: cancel or reschedule of a "
    "message that is not scheduled (details.status). TEMPLATE_IN_USE: a template that "
    "scheduled messages use cannot be deleted. WEBHOOK_DISABLED: a test event or a retry for "
    "a disabled webhook endpoint.",
    413: "PAYLOAD_TOO_LARGE: the request body is over the maximum size.",
    415: "UNSUPPORTED_MEDIA_TYPE: the request body is not `application/json`.",
    422: "NO_SMTP_PROVIDER: the account has no default provider (never for a test key). "
    "DOMAIN_NOT_VERIFIED: the From address's domain is not a verified sender domain of the "
    "account, and the account, the operator or the operator's relay asks for one "
    "(details.domain; in /send-batch a failed item). /send also: "
    "RECIPIENT_SUPPRESSED, a recipient is on the suppression list (details.message_id, "
    "details.suppressed).",
    429: "SEND_LIMIT_EXCEEDED (a limit of the provider, or the account's daily quota: "
    "details.scope is `provider` or `account`) or RATE_LIMITED (API requests per key or per "
    "account); see Retry-After.",
    500: "SEND_FAILED: the provider refused the message or could not be reached; "
    "details.message_id names the recorded message. INTERNAL_ERROR: a fault of MailPass "
    "itself, logged with its traceback; nothing the request did.",
    503: "UNAVAILABLE: the database is unreachable; for a domain check, the DNS could not be "
    "asked (nothing changed).",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(ErrorEnvelope, description=_ERRORS[status]) for status in statuses
    }


# --- Response headers --------------------------------------------------------------

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    {"type": "integer", "minimum": 0},
    OpenApiParameter.HEADER,
    response=[429],
    required=True,
    description="Seconds to wait before trying again.",
)

# On every answer to a request the throttle counted (api.throttling): every key-authenticated
# endpoint, once the key is accepted.
RATE_LIMIT_HEADERS = [
    OpenApiParameter(
        name,
        {"type": "integer", "minimum": 0},
        OpenApiParameter.HEADER,
        response=True,
        description=description,
    )
    for name, description in (
        ("RateLimit-Limit", "Requests this API key may make per window."),
        ("RateLimit-Remaining", "Requests left in the window, this one counted."),
        ("RateLimit-Reset", "Seconds until Remaining goes up again."),
    )
]

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        # Printable characters; WSGI hands header values over as Latin-1.
        "pattern": r"^[\x20-\x7e\xa1-\xac\xae-\xff]*$",
    },
    OpenApiParameter.HEADER,
    description=(
        f"1 to {MAX_KEY_LENGTH} printable characters, remembered 24 h per account. A repeat "
        "with the same body gets the first answer (with `Idempotent-Replayed: true`) and "
        "sends nothing; another body is a 409 IDEMPOTENCY_CONFLICT."
    ),
)


def idempotent_replayed(*statuses: int) -> OpenApiParameter:
    """The header on answers replayed for a repeated Idempotency-Key."""
    return OpenApiParameter(
        "Idempotent-Replayed",
        {"type": "string", "enum": ["true"]},
        OpenApiParameter.HEADER,
        response=list(statuses),
        description="Present when this is the stored answer to an earlier request with the "
        "same Idempotency-Key.",
    )


# --- Input rules the field classes alone do not show ---------------------------------

# What a header field must not hold: HEADER_UNSAFE itself, one character class whose \xNN
# and \uNNNN escapes read the same in ECMA-262. As `not: {pattern}` rather than a pattern of
# the allowed characters: the same rule, and schemathesis draws boundary values for it in no
# time (an anchored, negated class over all of Unicode cost it seconds per field).
# "type" inside the "not": a pattern passes anything that is no string, so without it the
# "not" would refuse null, which the optional fields accept.
HEADER_SAFE = {"not": {"type": "string", "pattern": HEADER_UNSAFE.pattern}}


class HeaderSafeFieldScheme(OpenApiSerializerFieldExtension):
    """Header fields refuse line breaks and control characters."""

    target_class = "api.serializers._HeaderSafe"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, **HEADER_SAFE}


class MetadataFieldScheme(OpenApiSerializerFieldExtension):
    """Metadata is a flat object of scalars (api.serializers.MetadataField)."""

    target_class = "api.serializers.MetadataField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {
            **schema,
            "maxProperties": limits.MAX_METADATA_KEYS,
            "additionalProperties": {
                "nullable": True,
                "anyOf": [
                    {
                        "type": "string",
                        "maxLength": limits.MAX_METADATA_VALUE_CHARS,
                        "pattern": r"^[^\x00]*$",
                    },
                    {"type": "number"},
                    {"type": "boolean"},
                ],
            },
        }


class StrictSerializerScheme(OpenApiSerializerExtension):
    """StrictSerializer refuses unknown fields; MessageInputSerializer needs html or text;
    a batch's items are each shaped like a /send request."""

    target_class = "api.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction != "request":
            return schema
        schema["additionalProperties"] = False
        if isinstance(self.target, limits.MessageInputSerializer):
            # null and "" count as absent (MessageInputSerializer.validate).
            schema["anyOf"] = [
                {"required": [body], "properties": {body: {"type": "string", "minLength": 1}}}
                for body in ("html", "text")
            ]
        if isinstance(self.target, limits.BatchInputSerializer):
            # Items stay raw JSON in the serializer (each is validated on its own, and an
            # invalid one is reported in the 200 answer); what succeeds is a /send body.
            item = auto_schema.resolve_serializer(limits.MessageInputSerializer, direction)
            schema["properties"]["messages"]["items"] = item.ref
        return schema


def subject_or_template(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: a message has a subject (and html or text) or
    a template, never both; a rule that serializer fields cannot state."""
    schemas = result.get("components", {}).get("schemas", {})
    if "MessageInputRequest" in schemas:
        own_content = [{"required": [name]} for name in ("subject", "html", "text")]
        schemas["MessageInputRequest"]["oneOf"] = [
            {"required": ["subject"], "not": {"required": ["template"]}},
            {"required": ["template"], "not": {"anyOf": own_content}},
        ]
    return result


class _WebhookEventDataSerializer(serializers.Serializer):
    message_id = serializers.CharField()
    to = serializers.EmailField()
    # "from" is a Python keyword: declared below, after the class.
    subject = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    metadata = serializers.DictField(child=serializers.CharField())
    status = serializers.CharField(help_text="The message's status when the event was made.")
    details = serializers.DictField(
        help_text="By type: sent {provider}; delivered, bounced, complained, unsubscribed "
        "{description}; failed {reason, error}; opened {user_agent, ip_address}; clicked "
        "{url, user_agent, ip_address}; suppressed {addresses}; scheduled {scheduled_at}; "
        "cancelled {}."
    )


_WebhookEventDataSerializer._declared_fields["from"] = serializers.EmailField()


class WebhookEventSerializer(serializers.Serializer):
    """The body MailPass posts to a webhook endpoint, signed per Standard Webhooks."""

    type = serializers.ChoiceField(
        choices=[f"email.{name}" for name in outbox.EVENT_NAMES] + [outbox.TEST_EVENT_TYPE]
    )
    created_at = serializers.DateTimeField()
    test = serializers.BooleanField(help_text="Made in test mode (a test key's message).")


# Field names that a Serializer attribute cannot have: "data" is its own property.
WebhookEventSerializer._declared_fields["data"] = _WebhookEventDataSerializer()


_SIGNATURE_HEADERS = [
    OpenApiParameter(
        "webhook-id",
        str,
        OpenApiParameter.HEADER,
        required=True,
        description="The event's id (msg_…): the same on every retry; deduplicate by it.",
    ),
    OpenApiParameter(
        "webhook-timestamp",
        int,
        OpenApiParameter.HEADER,
        required=True,
        description="Unix seconds of this attempt; refuse one more than 5 minutes off.",
    ),
    OpenApiParameter(
        "webhook-signature",
        str,
        OpenApiParameter.HEADER,
        required=True,
        description="v1,<base64 HMAC-SHA256 of '<id>.<timestamp>.<body>'> with the secret "
        "after whsec_ base64-decoded; two, space-separated, while a rotation overlaps.",
    ),
]

MESSAGE_EVENT_WEBHOOK = OpenApiWebhook(
    name="messageEvent",
    decorator=extend_schema(
        summary="Something happened to a message (posted to your endpoint)",
        description="Retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and then every 10 h "
        "for about three days until the endpoint answers 2xx within 15 s; redirects are not "
        "followed.",
        request=WebhookEventSerializer,
        parameters=_SIGNATURE_HEADERS,
        responses={200: None},
    ),
)
