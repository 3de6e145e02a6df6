"""The template language: a strict subset of Mustache, rendered with pystache.

Templates are written by an account's people and filled with variables from its API
calls, so the language may not run code or reach anything but those variables. Mustache
is logic-less by design; pystache (maintained, spec-conformant) parses it, and renders
with a RenderEngine whose lookups, escaping and output budget are ours:

- Variables are JSON (dicts, lists, strings, numbers, booleans, null). pystache looks up
  attributes only on objects that are not of a built-in type, so `{{name.__class__}}` finds
  nothing, and no JSON value is callable, so Mustache lambdas cannot occur.
- Partials (`{{> name}}`, which pystache would load from files) and delimiter changes are
  refused when a template is saved, as are names that are not plain dotted words. Without
  partials there is no recursion; sections nest at most MAX_NESTING deep.
- Output is bounded as it is produced: each variable's text is counted, and each pass
  through a section is charged the length of that section's source (an upper bound of the
  text it adds). A template over OUTPUT_LIMIT fails with TemplateError, it never exhausts
  memory: `{{#l}}{{#l}}{{#l}}…` over a long list stops within the budget.
"""

import functools
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pystache
from pystache.common import PystacheError
from pystache.context import ContextStack, KeyNotFoundError
from pystache.parsed import ParsedTemplate
from pystache.renderengine import RenderEngine

from providers.validators import HEADER_UNSAFE, HEADER_UNSAFE_MESSAGE, MAX_SUBJECT_CHARS

MAX_NESTING = 20
OUTPUT_LIMIT = 5 * 1024 * 1024  # characters per rendered part, the API's body limit

# {{name}}, {{{name}}}, {{&name}}, {{#name}}, {{^name}}, {{/name}}, {{!comment}},
# {{>partial}}, {{=<% %>=}}: the tag kinds of Mustache, read as pystache reads them.
_TAG = re.compile(r"\{\{(?P<kind>[{!#^/&>=]?)(?P<body>.*?)\}\}(?P<brace>\})?", re.S)
_NAME = re.compile(r"\.|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")


class TemplateError(ValueError):
    """A template that cannot be saved or rendered; the message says why, for the author."""


class MissingVariablesError(TemplateError):
    def __init__(self, names: Iterable[str]):
        self.names = sorted(set(names))
        super().__init__("Missing: " + ", ".join(self.names))


@dataclass(frozen=True)
class Compiled:
    """A checked template: pystache's parse, the names it needs from outside any section,
    and what one pass through each section may add to the output (its source length)."""

    parsed: ParsedTemplate
    top_level_names: frozenset[str]
    section_cost: dict[str, int]


@functools.lru_cache(maxsize=512)
def compile_template(source: str) -> Compiled:
    """Check `source` against the subset and parse it; TemplateError says what is wrong.
    Cached by source: a batch of a hundred messages with one template parses it once."""
    top_level: set[str] = set()
    cost: dict[str, int] = {}
    open_sections: list[tuple[str, int]] = []
    for tag in _TAG.finditer(source):
        kind, name = tag["kind"], tag["body"].strip()
        if kind == "!":
            continue
        if kind == ">":
            raise TemplateError(f"Partials ({tag[0]}) are not supported.")
        if kind == "=":
            raise TemplateError(f"Changing the delimiters ({tag[0]}) is not supported.")
        if kind == "{":
            if not tag["brace"]:
                raise TemplateError(f"{tag[0]} is not closed with }}}}}}.")
            name = name.strip()
        if not _NAME.fullmatch(name):
            raise TemplateError(
                f"{tag[0]}: a name is letters, digits, _ and -, parts separated by dots."
            )
        if kind in ("#", "^"):
            if len(open_sections) >= MAX_NESTING:
                raise TemplateError(f"Sections nest at most {MAX_NESTING} deep.")
            open_sections.append((name, tag.end()))
        elif kind == "/":
            if not open_sections:
                raise TemplateError(f"{tag[0]} closes no open section.")
            if open_sections[-1][0] != name:
                raise TemplateError(f"{tag[0]} cannot close {{{{#{open_sections[-1][0]}}}}}.")
            opened, start = open_sections.pop()
            cost[opened] = max(cost.get(opened, 0), tag.start() - start)
        elif not open_sections:
            top_level.add(name)
    if open_sections:
        raise TemplateError(f"{{{{#{open_sections[-1][0]}}}}} is never closed.")
    try:
        parsed = pystache.parse(source)
    except PystacheError as err:  # what the scan above let through, pystache did not
        raise TemplateError(str(err)) from err
    return Compiled(parsed, frozenset(top_level), cost)


def names_used(*sources: str) -> list[str]:
    """The variables the sources use outside any section, sorted: what a request must give
    (or the template's defaults)."""
    return sorted(set().union(*(compile_template(source).top_level_names for source in sources)))


def _lookup(value: Any, name: str) -> Any:
    """`name` (dotted) in the JSON `value`, or KeyError."""
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(name)
        value = value[part]
    return value


def missing_variables(sources: Iterable[str], variables: dict[str, Any]) -> list[str]:
    """The names the sources use outside any section that `variables` does not hold."""
    missing = []
    for name in names_used(*sources):
        if name == ".":
            continue
        try:
            _lookup(variables, name)
        except KeyError:
            missing.append(name)
    return missing


def _as_text(value: Any) -> str:
    # JSON's own spelling: true, not True; null is empty, as Mustache has it.
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


class _Engine(RenderEngine):
    """pystache's engine with our lookups and a budget for the output."""

    def __init__(self, compiled: Compiled, *, escape_html: bool) -> None:
        super().__init__(
            literal=self._emit,
            escape=self._escape if escape_html else self._emit,
            resolve_context=self._lenient,
            resolve_partial=self._no_partial,
            to_str=_as_text,
        )
        self.cost = compiled.section_cost
        self.left = OUTPUT_LIMIT

    def _charge(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise TemplateError(f"The result is longer than {OUTPUT_LIMIT} characters.")

    def _emit(self, text: str) -> str:
        self._charge(len(text))
        return text

    def _escape(self, text: str) -> str:
        return self._emit(html.escape(text, quote=True))

    @staticmethod
    def _lenient(stack: ContextStack, name: str) -> Any:
        # Sections and inverted sections: a missing name is false (an optional block).
        try:
            return stack.get(name)
        except KeyNotFoundError:
            return None

    @staticmethod
    def _no_partial(name: str) -> str:
        raise TemplateError("Partials are not supported.")  # refused at compile already

    def fetch_string(self, context: ContextStack, name: str) -> str:
        try:
            value = context.get(name)
        except KeyNotFoundError as err:
            raise MissingVariablesError([name]) from err
        return _as_text(value)

    def fetch_section_data(self, context: ContextStack, name: str) -> list[Any]:
        data = super().fetch_section_data(context, name)
        self._charge(len(data) * self.cost.get(name, 0))
        return data


def render_part(source: str, variables: dict[str, Any], *, escape_html: bool) -> str:
    """`source` filled with `variables`: HTML-escaped where `escape_html`, as-is elsewhere.
    Raises TemplateError (MissingVariablesError for a name nothing gives)."""
    compiled = compile_template(source)
    engine = _Engine(compiled, escape_html=escape_html)
    engine._charge(len(source))
    try:
        return str(compiled.parsed.render(engine, ContextStack(variables)))
    except RecursionError as err:  # not reachable within MAX_NESTING; never a 500
        raise TemplateError("The template nests too deeply.") from err


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def render(
    *, subject: str, html_body: str, text: str, defaults: dict[str, Any], variables: dict[str, Any]
) -> Rendered:
    """A template's parts filled with `variables` over its `defaults`. Raises
    MissingVariablesError listing every top-level name neither gives, TemplateError else."""
    values = {**defaults, **variables}
    missing = missing_variables([subject, html_body, text], values)
    if missing:
        raise MissingVariablesError(missing)
    return Rendered(
        subject=render_part(subject, values, escape_html=False),
        html=render_part(html_body, values, escape_html=True) if html_body else "",
        text=render_part(text, values, escape_html=False) if text else "",
    )


def subject_problem(subject: str) -> str | None:
    """Why a rendered subject cannot be sent, or None: the checks of the API's subject
    field, applied after the variables are in (a variable may bring a line break)."""
    if HEADER_UNSAFE.search(subject):
        return HEADER_UNSAFE_MESSAGE
    if not subject.strip():
        return "The subject came out empty."
    if len(subject) > MAX_SUBJECT_CHARS:
        return f"The subject came out longer than {MAX_SUBJECT_CHARS} characters."
    return None
