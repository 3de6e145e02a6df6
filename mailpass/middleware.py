from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

# Machine-facing routes: their answers are a contract, so they never follow Accept-Language.
ENGLISH_ONLY_PREFIXES = ("/api/", "/t/", "/webhooks/")


def english_outside_dashboard(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Undo LocaleMiddleware's choice of language for the API, tracking and webhook routes."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path.startswith(ENGLISH_ONLY_PREFIXES):
            translation.activate("en")
            request.LANGUAGE_CODE = "en"
        return get_response(request)

    return middleware


def _policy(*directives: str) -> str:
    return "; ".join(directives)


# What a dashboard page may load and do: only this site's own scripts, styles, images and
# frames (the message preview), nothing may frame it, and forms post only here. So text
# that slipped through escaping still could not run a script or send a form elsewhere.
DASHBOARD_CSP = _policy(
    "default-src 'self'",
    "script-src 'self'",
    # The usage meters are sized with a style attribute (dashboard/provider_usage.html):
    # styles may be inline, scripts may not.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "frame-src 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
)
# drf-spectacular's Swagger UI page starts itself with an inline script and style that
# carry a per-request CSRF token, so no hash can name them. The page shows the schema
# only, no account data; everything else stays as strict as the dashboard's.
API_DOCS_CSP = DASHBOARD_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
API_DOCS_VIEW = "api:docs"


def content_security_policy(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Give every response a Content-Security-Policy, unless its view set one of its own
    (the sandboxed message preview does)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        match = getattr(request, "resolver_match", None)
        docs = match is not None and match.view_name == API_DOCS_VIEW
        response.setdefault("Content-Security-Policy", API_DOCS_CSP if docs else DASHBOARD_CSP)
        return response

    return middleware
