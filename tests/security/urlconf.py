"""Every route of the site, read from the URLconf, so that a sweep over "every route" takes
in a new one without anybody adding it to a list."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    prefix: str  # what the includes above it put in front: "api/v1/", "admin/"
    pattern: URLPattern
    namespace: str  # "dashboard", "api", "admin" ("" outside any include with one)
    parameters: frozenset[str]  # every name it captures, its includes' too

    @property
    def route(self) -> str:
        """The whole route as written in the URLconf: api/v1/mail/status/<str:message_id>."""
        return self.prefix + str(self.pattern.pattern)

    @property
    def name(self) -> str | None:
        """The name reverse() takes, namespace included: dashboard:provider-list."""
        if not self.pattern.name:
            return None
        return f"{self.namespace}:{self.pattern.name}" if self.namespace else self.pattern.name


def every_route() -> list[Route]:
    """Every route of the root URLconf, in the order Django tries them."""
    return list(_walk(get_resolver().url_patterns, "", "", frozenset()))


def _walk(
    patterns: list, prefix: str, namespace: str, parameters: frozenset[str]
) -> Iterator[Route]:
    for pattern in patterns:
        captured = parameters | set(pattern.pattern.regex.groupindex)
        captured |= set(getattr(pattern.pattern, "converters", {}))
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, (namespace, pattern.namespace)))
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner, captured)
        else:
            assert isinstance(pattern, URLPattern)
            yield Route(prefix, pattern, namespace, captured)
