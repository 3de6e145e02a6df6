from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser

from api.errors import PayloadTooLargeError

# The deepest valid request is a batch item's cc list: object > list > object > list.
# Anything much deeper is an attack on the recursive code (json, DRF, our own) that
# walks it, which would end in a RecursionError, i.e. a 500.
MAX_JSON_DEPTH = 32
_CONTAINERS: frozenset[type] = frozenset({dict, list})


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether `data` nests objects/arrays more than `limit` levels, found without recursion.

    Level by level; a container holding scalars only is skipped at C speed (map/isdisjoint),
    so a flat array of millions of numbers costs a fraction of parsing it.
    """
    level = [data]
    for _ in range(limit):
        below: list[Any] = []
        for value in level:
            children = value.values() if type(value) is dict else value
            if not _CONTAINERS.isdisjoint(map(type, children)):
                below += [child for child in children if type(child) in _CONTAINERS]
        if not below:
            return False
        level = below
    return True


class LimitedJSONParser(BaseParser):
    """JSON parser that refuses bodies over MAILPASS_MAX_REQUEST_BYTES before reading them,
    and bodies nested deeper than MAX_JSON_DEPTH.

    DRF reads the request stream itself, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE never
    applies to API requests; this is the limit that does. It is not a JSONParser subclass on
    purpose: DRF reads request.body in full before it calls a JSONParser (or FormParser), so
    a JSONParser's size check would come after the read, and Django's own check in
    request.body raises RequestDataTooBig there, which is no APIException: a 500.
    """

    media_type = JSONParser.media_type
    renderer_class = JSONParser.renderer_class
    _json = JSONParser()

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
        try:
            data = self._json.parse(stream, media_type, parser_context)
        except RecursionError as err:
            raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.") from err
        if isinstance(data, dict | list) and _deeper_than(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.")
        return data
