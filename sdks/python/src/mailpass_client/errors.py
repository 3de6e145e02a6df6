"""Everything the client raises. All of it derives from MailPassError.

ApiError: the API answered with an error; `code` picks the subclass (not the HTTP status:
429 carries two codes, 422 three). NetworkError: no answer at all.
WebhookVerificationError: verify_webhook refused a request that claims to come from
MailPass.
"""

from __future__ import annotations

from typing import Any

UNEXPECTED_RESPONSE = "UNEXPECTED_RESPONSE"


class MailPassError(Exception):
    """The root of every error this library raises."""


class ConfigurationError(MailPassError, ValueError):
    """The client was built wrong: no key, no base URL, a bad option; or verify_webhook
    was given a secret that is not a `whsec_` one, or a negative tolerance."""


class NetworkError(MailPassError):
    """No answer: the connection was refused, reset or dropped."""


class RequestTimeoutError(NetworkError):
    """No answer within the client's timeout."""


class WebhookVerificationError(MailPassError):
    """verify_webhook refused a request: a webhook header is missing or malformed, the
    timestamp is outside the tolerance, no `v1` signature matches the body with the secret,
    or the signed body is not a JSON object. Answer such a request with a 400; no API call
    is involved."""


class ApiError(MailPassError):
    """The API answered with an error envelope (or with something that was not JSON)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details: dict[str, Any] = details or {}
        self.retry_after = retry_after

    @property
    def message_id(self) -> str | None:
        """The message the error is about, where the API names one."""
        value = self.details.get("message_id")
        return value if isinstance(value, str) else None

    def __str__(self) -> str:
        return f"{self.code} ({self.status}): {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status})"


class ValidationError(ApiError):
    """400 VALIDATION_ERROR: a field is missing, invalid or over a limit; see `details`."""


class UnauthorizedError(ApiError):
    """401 UNAUTHORIZED: the API key is missing, unknown or revoked."""


class ForbiddenError(ApiError):
    """403 FORBIDDEN: the key lacks the permission the endpoint needs."""


class NotFoundError(ApiError):
    """404 NOT_FOUND: no such message or template (or address on the suppression list)."""


class IdempotencyConflictError(ApiError):
    """409 IDEMPOTENCY_CONFLICT: the Idempotency-Key was used for another request."""


class MessageNotScheduledError(ApiError):
    """409 MESSAGE_NOT_SCHEDULED: cancel or reschedule of a message that is no longer
    scheduled; `details["status"]` is its status now."""


class TemplateInUseError(ApiError):
    """409 TEMPLATE_IN_USE: scheduled messages use the template (`details["scheduled"]`
    of them); cancel them or wait until they are sent."""


class WebhookDisabledError(ApiError):
    """409 WEBHOOK_DISABLED: webhooks.test or webhooks.retry_delivery of an endpoint that
    is turned off; `webhooks.update(id, {"enabled": True})` first."""


class PayloadTooLargeError(ApiError):
    """413 PAYLOAD_TOO_LARGE: the request body is over the instance's limit."""


class NoSmtpProviderError(ApiError):
    """422 NO_SMTP_PROVIDER: the account has no default provider."""


class RecipientSuppressedError(ApiError):
    """422 RECIPIENT_SUPPRESSED: a recipient is on the suppression list."""


class DomainNotVerifiedError(ApiError):
    """422 DOMAIN_NOT_VERIFIED: the From address's domain is not a verified sender domain
    of the account (`details["domain"]`), and the account, the instance or the provider
    requires one; nothing was stored or sent."""


class SendLimitExceededError(ApiError):
    """429 SEND_LIMIT_EXCEEDED: a provider limit or the account's daily quota is reached
    (`details["scope"]` says which); `retry_after` says when it frees up."""


class RateLimitedError(ApiError):
    """429 RATE_LIMITED: too many requests; `retry_after` seconds to wait."""


class SendFailedError(ApiError):
    """500 SEND_FAILED: the provider refused the message or could not be reached."""


class InternalServerError(ApiError):
    """500 INTERNAL_ERROR: a fault on the server's side."""


class UnavailableError(ApiError):
    """503 UNAVAILABLE: the server cannot reach its database."""


ERRORS_BY_CODE: dict[str, type[ApiError]] = {
    "VALIDATION_ERROR": ValidationError,
    "UNAUTHORIZED": UnauthorizedError,
    "FORBIDDEN": ForbiddenError,
    "NOT_FOUND": NotFoundError,
    "IDEMPOTENCY_CONFLICT": IdempotencyConflictError,
    "MESSAGE_NOT_SCHEDULED": MessageNotScheduledError,
    "TEMPLATE_IN_USE": TemplateInUseError,
    "WEBHOOK_DISABLED": WebhookDisabledError,
    "PAYLOAD_TOO_LARGE": PayloadTooLargeError,
    "NO_SMTP_PROVIDER": NoSmtpProviderError,
    "RECIPIENT_SUPPRESSED": RecipientSuppressedError,
    "DOMAIN_NOT_VERIFIED": DomainNotVerifiedError,
    "SEND_LIMIT_EXCEEDED": SendLimitExceededError,
    "RATE_LIMITED": RateLimitedError,
    "SEND_FAILED": SendFailedError,
    "INTERNAL_ERROR": InternalServerError,
    "UNAVAILABLE": UnavailableError,
}
