import math
from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiKey
from mailpass.cache import Window, count_in_window


class WindowThrottle(SimpleRateThrottle):
    """DRF's rate syntax and sliding window, counted atomically in the shared cache
    (mailpass.cache.count_in_window): with Redis, every process and host counts against
    one window; DRF's own read-modify-write of the history lets requests that arrive at
    once through several processes all pass."""

    # Set by SimpleRateThrottle.__init__ from parse_rate(get_rate()): ints, as get_rate
    # always gives a rate (DRF's stubs leave them out).
    num_requests: int
    duration: int
    window: Window | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.window = count_in_window(self.key, limit=self.num_requests, seconds=self.duration)
        return self.window.allowed

    def wait(self) -> float:
        """Seconds until the window has room for one more request; while it has room, until
        its oldest request leaves (what RateLimit-Reset says). A refused client always gets
        a Retry-After from it."""
        return self.window.wait if self.window else 0.0


class ApiKeyRateThrottle(WindowThrottle):
    """Requests per API key, at the rate in settings.MAILPASS_API_RATE_LIMIT ("1200/min").

    Every answer to a request it counted carries the IETF RateLimit header fields
    (draft-ietf-httpapi-ratelimit-headers): RateLimit-Limit (requests per period),
    RateLimit-Remaining (left in the window, this request counted) and RateLimit-Reset
    (seconds until the oldest counted request leaves the window, so Remaining goes up
    again). A refused request is a 429 RATE_LIMITED whose Retry-After is that same wait.
    """

    scope = "api_key"

    def get_rate(self) -> str:
        return settings.MAILPASS_API_RATE_LIMIT

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            return f"throttle:api_key:{request.auth.pk}"
        return None

    def allow_request(self, request: Any, view: Any) -> bool:
        allowed = super().allow_request(request, view)
        if self.window is not None:
            remaining = max(self.num_requests - self.window.count, 0)
            shown = view.headers.get("RateLimit-Remaining")
            # Two throttles count each request (the key's, the account's): the headers
            # describe the one with the least room left.
            if shown is None or remaining < int(shown):
                # APIView.finalize_response copies view.headers onto the answer, errors too.
                view.headers.update(
                    {
                        "RateLimit-Limit": str(self.num_requests),
                        "RateLimit-Remaining": str(remaining),
                        "RateLimit-Reset": str(math.ceil(self.wait())),
                    }
                )
        return allowed


class AccountRateThrottle(ApiKeyRateThrottle):
    """Requests per account over all of its keys (MAILPASS_ACCOUNT_RATE_LIMIT): an account
    cannot multiply its rate by creating keys."""

    scope = "account"

    def get_rate(self) -> str:
        return settings.MAILPASS_ACCOUNT_RATE_LIMIT

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            return f"throttle:account:{request.auth.account_id}"
        return None
