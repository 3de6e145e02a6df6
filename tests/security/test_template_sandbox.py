"""Suite 12, template sandbox: a template is written by one of the account's people and
filled by its API calls; neither may make MailPass run code, read a file, a setting or
the database, or spend unbounded time or memory.

Hostile templates are sent to the API (create, then render with variables an attacker
chooses): each is refused with a 400 when saved or rendered, or renders to text that holds
none of the secrets the attempts go after (SECRET_KEY, a file's content, an object's repr).
The output budget and the nesting limit are checked directly on the renderer as well.
"""

import time

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from api import templating
from api.models import Permission
from tests import factories
from tests.security import figures

pytestmark = pytest.mark.django_db

SUITE = "12 template sandbox"


# What an attempt would put in the output if it got anywhere.
def _leaks(text: str) -> list[str]:
    found = []
    for marker in (
        settings.SECRET_KEY,
        "root:x:0:0",
        "<class",
        "<function",
        "<bound",
        "object at 0x",
    ):
        if marker in text:
            found.append(marker)
    return found


ATTRIBUTE_NAMES = [
    "__class__",
    "__class__.__mro__",
    "__class__.__base__.__subclasses__",
    "__init__.__globals__",
    "__dict__",
    "__len__",
    "upper",
    "pop",
    "keys",
    "items",
    "copy",
    "__getitem__",
    "format",
    "real",
    "bit_length",
]
SOURCES = [
    "{{> /etc/passwd}}",
    "{{>../../mailpass/settings.py}}",
    "{{=<% %>=}}<% name %>",
    "{{settings.SECRET_KEY}}",
    "{{SECRET_KEY}}",
    "{{#settings}}{{SECRET_KEY}}{{/settings}}",
    "{{ request.user.password }}",
    "{% load static %}{{ name|safe }}",
    "{% include '/etc/passwd' %}",
    "{{name|upper}}",
    "{{name()}}",
    "{{name[0]}}",
    "{{__import__('os').system('id')}}",
    "{{&name.__class__}}",
    "{{{name.__class__.__mro__}}}",
    "{{#name}}{{__class__}}{{/name}}",
    "{{#lines}}{{__class__}}{{/lines}}",
    "{{#lines}}{{.}}{{/lines}}",
    "{{#lines}}{{#.}}{{pop}}{{/.}}{{/lines}}",
    "{{! {{> /etc/passwd}} }}",
    "{{#a}}" * (templating.MAX_NESTING + 1) + "x" + "{{/a}}" * (templating.MAX_NESTING + 1),
    "{{#a}}{{#a}}x{{/a}}",
    "{{/a}}{{#a}}",
    "{{",
    "}}{{",
    "{{{name}}",
    "{{ }}",
    "{{\x00}}",
    "{{name\r\n}}",
]
VARIABLES = [
    {},
    {"name": "Ann", "lines": [1, "two", [3], {"x": 4}], "a": True, "settings": {"k": "v"}},
    {"name": "{{settings.SECRET_KEY}}", "lines": ["{{> /etc/passwd}}"]},
    {"name": ["a", "b"], "lines": {"__class__": "shadowed"}},
]


@pytest.fixture
def editor(account):
    _, secret = factories.make_api_key(account, permissions=[Permission.TEMPLATES, Permission.MAIL])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _attempts():
    for number, source in enumerate(SOURCES):
        yield f"s{number}", source
    for number, name in enumerate(ATTRIBUTE_NAMES):
        yield (
            f"a{number}",
            f"{{{{name.{name}}}}} {{{{lines.{name}}}}} {{{{#lines}}}}{{{{{name}}}}}{{{{/lines}}}}",
        )


def test_hostile_templates_are_refused_or_render_nothing_they_should_not(editor):
    failures = []
    cases = 0
    for alias, source in _attempts():
        for field in ("subject", "html", "text"):
            body = {"name": "x", "alias": f"{alias}-{field}", "subject": "s", "text": "t"}
            body[field] = source
            created = editor.post("/api/v1/templates", body, format="json")
            cases += 1
            if created.status_code == 400:
                continue
            if created.status_code != 201:
                failures.append(f"{source!r} in {field}: create answered {created.status_code}")
                continue
            for variables in VARIABLES:
                cases += 1
                rendered = editor.post(
                    f"/api/v1/templates/{alias}-{field}/render",
                    {"variables": variables},
                    format="json",
                )
                if rendered.status_code == 400:
                    continue
                if rendered.status_code != 200:
                    failures.append(f"{source!r} in {field}: render {rendered.status_code}")
                    continue
                output = rendered.content.decode()
                if leaks := _leaks(output):
                    failures.append(f"{source!r} in {field} with {variables}: leaked {leaks}")
    figures.check(SUITE, cases=cases, failures=failures)


def test_attribute_names_find_nothing_on_strings_lists_and_numbers():
    for name in ATTRIBUTE_NAMES:
        for value in ("Ann", [1, 2], 7, 1.5, True):
            with pytest.raises(templating.MissingVariablesError):
                templating.render_part(f"{{{{v.{name}}}}}", {"v": value}, escape_html=True)
    figures.record(SUITE, cases=len(ATTRIBUTE_NAMES) * 5, failures=0)


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        # Nested sections over one long list: 1000^4 passes if nothing stopped it.
        ("{{#l}}{{#l}}{{#l}}{{#l}}x{{/l}}{{/l}}{{/l}}{{/l}}", {"l": list(range(1000))}),
        # A big value printed many times.
        ("{{#l}}{{big}}{{big}}{{/l}}", {"l": list(range(10_000)), "big": "y" * 60_000}),
        # Escaping multiplies: each & becomes &amp;.
        ("{{#l}}{{amp}}{{/l}}", {"l": list(range(5_000)), "amp": "&" * 60_000}),
    ],
)
def test_output_is_bounded_and_stops_early(source, variables):
    started = time.monotonic()

    with pytest.raises(templating.TemplateError, match="longer than"):
        templating.render_part(source, variables, escape_html=True)

    # Stopping at the budget, not after building gigabytes: well under a second here; the
    # bound is loose because shared machines stall.
    assert time.monotonic() - started < 10
    figures.record(SUITE, cases=1, failures=0)


def test_output_just_under_the_budget_renders():
    source = "{{#l}}{{v}}{{/l}}"
    count = 50
    value = "z" * ((templating.OUTPUT_LIMIT - len(source)) // count - len(source))

    output = templating.render_part(
        source, {"l": list(range(count)), "v": value}, escape_html=False
    )

    assert len(output) == count * len(value)


def test_sections_nest_at_most_the_limit_and_never_recurse_without_end():
    deep = "{{#a}}" * templating.MAX_NESTING + "x" + "{{/a}}" * templating.MAX_NESTING
    too_deep = "{{#a}}" + deep + "{{/a}}"

    assert templating.render_part(deep, {"a": True}, escape_html=False) == "x"
    with pytest.raises(templating.TemplateError, match="nest"):
        templating.compile_template(too_deep)
    figures.record(SUITE, cases=2, failures=0)
