"""The official Python client for the MailPass transactional email API."""

from ._attachments import attachment_from_bytes, attachment_from_path
from ._client import Client, Mail, Suppressions
from ._transport import VERSION as __version__
from .errors import (
    ApiError,
    ConfigurationError,
    ForbiddenError,
    IdempotencyConflictError,
    InternalServerError,
    MailPassError,
    NetworkError,
    NoSmtpProviderError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    RecipientSuppressedError,
    RequestTimeoutError,
    SendFailedError,
    SendLimitExceededError,
    UnauthorizedError,
    UnavailableError,
    ValidationError,
)
from .types import (
    Attachment,
    SendBatchParams,
    SendParams,
    SuppressionListParams,
    SuppressionParams,
)

__all__ = [
    "ApiError",
    "Attachment",
    "Client",
    "ConfigurationError",
    "ForbiddenError",
    "IdempotencyConflictError",
    "InternalServerError",
    "Mail",
    "MailPassError",
    "NetworkError",
    "NoSmtpProviderError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "RecipientSuppressedError",
    "RequestTimeoutError",
    "SendBatchParams",
    "SendFailedError",
    "SendLimitExceededError",
    "SendParams",
    "SuppressionListParams",
    "SuppressionParams",
    "Suppressions",
    "UnauthorizedError",
    "UnavailableError",
    "ValidationError",
    "__version__",
    "attachment_from_bytes",
    "attachment_from_path",
]
