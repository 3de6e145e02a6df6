from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key, at the rate in settings.MAILPASS_API_RATE_LIMIT ("1200/min")."""

    scope = "api_key"

    def get_rate(self) -> str:
        return settings.MAILPASS_API_RATE_LIMIT

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            return f"throttle:api_key:{request.auth.pk}"
        return None
