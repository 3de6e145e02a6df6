import io
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse

from api.errors import PayloadTooLargeError, error_body


def chunked_body_limit(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Give a chunked API request (Transfer-Encoding: chunked, no Content-Length) its body.

    Django and DRF take a request without Content-Length to have no body at all, so a
    chunked /send would be refused as empty, and one over the limit would never be called
    too large. This reads at most MAILPASS_MAX_REQUEST_BYTES + 1 bytes of it: over the
    limit it is a 413 at once; otherwise the request carries the body and its length.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        meta = request.META
        chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not meta.get("CONTENT_LENGTH") and request.path.startswith("/api/"):
            limit = settings.MAILPASS_MAX_REQUEST_BYTES
            body = meta["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                refusal = PayloadTooLargeError(
                    f"The request body is over the maximum of {limit} bytes."
                )
                return JsonResponse(error_body(refusal), status=refusal.status_code)
            meta["CONTENT_LENGTH"] = str(len(body))
            # WSGIRequest reads the body through its private _stream (typed BinaryIO).
            stream = LimitedStream(io.BytesIO(body), len(body))
            request._stream = stream  # type: ignore[assignment]  # Django's own stream type
        return get_response(request)

    return middleware
