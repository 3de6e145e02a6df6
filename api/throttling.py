import math
from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key, at the rate in settings.MAILPASS_API_RATE_LIMIT ("1200/min").

    DRF's sliding window: the key's request times of the last period, kept in the default
    cache. Every answer to a request it counted carries the IETF RateLimit header fields
    (draft-ietf-httpapi-ratelimit-headers): RateLimit-Limit (requests per period),
    RateLimit-Remaining (left in the window, this request counted) and RateLimit-Reset
    (seconds until the oldest counted request leaves the window, so Remaining goes up
    again). A refused request is a 429 RATE_LIMITED whose Retry-After is that same wait.
    """

    scope = "api_key"
    # Set by SimpleRateThrottle.__init__ from parse_rate(get_rate()): ints, as get_rate
    # always gives a rate (DRF's stubs leave them out).
    num_requests: int
    duration: int

    def get_rate(self) -> str:
        return settings.MAILPASS_API_RATE_LIMIT

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiKey):
            return f"throttle:api_key:{request.auth.pk}"
        return None

    def allow_request(self, request: Any, view: Any) -> bool:
        allowed = super().allow_request(request, view)
        if getattr(self, "key", None) is not None:
            remaining = max(self.num_requests - len(self.history), 0)
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

    def wait(self) -> float:
        """Seconds until the window has room for one more request (0 when it has room).

        DRF's own wait() spreads the time over the requests still available and gives
        None when the history is longer than the rate (after the rate was lowered); a
        refused client must always get a Retry-After.
        """
        if not self.history:
            return 0.0
        # history is newest first; the entry that must leave for the window to have room:
        blocking = self.history[min(len(self.history), self.num_requests) - 1]
        return max(self.duration - (self.now - blocking), 0.0)


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
