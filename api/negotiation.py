from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """Always answer with the view's first renderer (JSON), whatever Accept says.

    A browser or a client sending `Accept: text/html` gets JSON, not a 406.
    """

    def select_renderer(
        self, request: Any, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, first.media_type
