from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from api.errors import PayloadTooLargeError


class LimitedJSONParser(JSONParser):
    """JSON parser that refuses bodies over MAILPASS_MAX_REQUEST_BYTES before reading them.

    DRF reads the request stream itself, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE never
    applies to API requests; this is the limit that does.
    """

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: Mapping | None = None,
    ) -> Any:
        request = (parser_context or {}).get("request")
        limit = settings.MAILPASS_MAX_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
        except ValueError:
            length = 0
        if length > limit:
            raise PayloadTooLargeError(
                f"The request body is {length} bytes; the maximum is {limit} bytes."
            )
        return super().parse(stream, media_type, parser_context)
