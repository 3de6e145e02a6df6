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
