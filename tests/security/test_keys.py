"""Suite 3, keys and permissions: every API endpoint, with every method, refuses every
credential that is not a valid key with the `mail` permission, in the documented envelope
and never with a 5xx; a revoked key stops on the very next request; the full key is in no
table, log record, e-mail or page after the answer that created it; keys are looked up by
prefix and compared by digest with hmac.compare_digest.

The endpoints come from the URLconf (and must match the OpenAPI schema); an endpoint that
needs no key must be one of PUBLIC, so a new public endpoint fails here until it is listed.
A case counts once per request (or, for the secrecy test, once per place searched).
"""

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

from api import selectors
from api.keys import KEY_SCHEME, PREFIX_LENGTH, key_digest
from api.models import ApiKey, Message, Permission, Suppression, Template, WebhookDelivery
from api.services import (
    api_key_create,
    api_key_revoke,
    template_create,
    webhook_create,
    webhook_send_test,
)
from providers import domains
from providers.models import SenderDomain
from tests import factories
from tests.security import figures
from tests.security.database import table_rows
from tests.security.urlconf import every_route

pytestmark = pytest.mark.django_db

SUITE = "03 keys and permissions"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Open by design: monitoring, and the API's own description.
PUBLIC = {"api:health", "api:schema", "api:docs"}
CHALLENGE = 'Bearer realm="api"'
SECRET_SHAPE = re.compile(r"mp_live_[A-Za-z0-9_-]{43}")
SEND = {"to": "user@example.com", "subject": "Hello", "text": "Hi"}
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


# --- the endpoints ------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str  # api:mail-send
    route: str  # api/v1/mail/status/<str:message_id>
    methods: tuple[str, ...]  # the methods it serves
    public: bool

    @property
    def path(self) -> str:
        """A concrete path: parameters get a value that names nothing."""
        return "/" + PARAMETER.sub("nobody@example.com", self.route)

    @property
    def schema_path(self) -> str:
        return "/" + PARAMETER.sub(r"{\1}", self.route)


def api_endpoints() -> list[Endpoint]:
    """Every DRF view under /api/, with the methods it serves and whether it needs a key."""
    endpoints = []
    for route in every_route():
        callback = route.pattern.callback
        view = getattr(callback, "cls", None)
        if not route.route.startswith("api/") or view is None:
            continue  # the JSON 404 catch-all is a plain function
        actions = getattr(callback, "actions", None)
        # HEAD and OPTIONS come with GET and with every view; DRF adds "head" to a
        # viewset's actions on its first request.
        served = actions or [m for m in view.http_method_names if hasattr(view, m)]
        methods = [m.upper() for m in served if m not in ("head", "options")]
        initkwargs = getattr(callback, "initkwargs", {})
        authentication = initkwargs.get("authentication_classes", view.authentication_classes)
        permissions = initkwargs.get("permission_classes", view.permission_classes)
        public = not authentication or any(issubclass(p, AllowAny) for p in permissions)
        endpoints.append(Endpoint(route.name or "", route.route, tuple(sorted(methods)), public))
    return endpoints


def protected() -> list[Endpoint]:
    return [endpoint for endpoint in api_endpoints() if not endpoint.public]


# --- credentials --------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    valid: str  # an active key with every permission (`mail`, `templates`)
    revoked: str
    no_mail: str  # active, no permissions
    unknown: str  # the right shape, never issued


def latin1(text: str) -> str:
    """`text` as a WSGI server hands a UTF-8 header to Django: its bytes read as latin-1."""
    return text.encode().decode("latin-1")


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


# name -> the Authorization header (None: no header), for the valid, revoked… keys.
REFUSED: dict[str, Callable[[Keys], str | None]] = {
    "no key": lambda k: None,
    "empty header": lambda k: "",
    "unknown key": lambda k: f"Bearer {k.unknown}",
    "revoked key": lambda k: f"Bearer {k.revoked}",
    "Basic user:password": lambda k: basic("user:password"),
    "Basic with the key": lambda k: basic(f"{k.valid}:"),
    "Basic with the key as the credentials": lambda k: f"Basic {k.valid}",
    "Token scheme": lambda k: f"Token {k.valid}",
    "no scheme": lambda k: k.valid,
    "Bearer alone": lambda k: "Bearer",
    "Bearer and a space": lambda k: "Bearer ",
    "two spaces, unknown key": lambda k: f"Bearer  {k.unknown}",
    "lower-case bearer, unknown key": lambda k: f"bearer {k.unknown}",
    "unknown key with a trailing newline": lambda k: f"Bearer {k.unknown}\n",
    "key and more": lambda k: f"Bearer {k.valid} {k.valid}",
    "two headers folded": lambda k: f"Bearer {k.valid}, Bearer {k.valid}",
    "key with a newline inside": lambda k: f"Bearer {k.valid[:20]}\n{k.valid[20:]}",
    "key with a NUL": lambda k: f"Bearer {k.valid}\x00",
    "key without its last character": lambda k: f"Bearer {k.valid[:-1]}",
    "key with one more character": lambda k: f"Bearer {k.valid}A",
    "key with the last character changed": lambda k: (
        f"Bearer {k.valid[:-1]}{'B' if k.valid[-1] == 'A' else 'A'}"
    ),
    "key in upper case": lambda k: f"Bearer {k.valid.upper()}",
    "the prefix alone": lambda k: f"Bearer {k.valid[:PREFIX_LENGTH]}",
    "another scheme's prefix": lambda k: f"Bearer mp_test_{k.valid[len(KEY_SCHEME) :]}",
    "10 KB of A": lambda k: "Bearer " + "A" * 10_240,
    "the key and 10 KB": lambda k: f"Bearer {k.valid}" + "A" * 10_240,
    "10 KB of spaces and the key": lambda k: "Bearer" + " " * 10_240 + "x " + k.valid,
    "non-ASCII (UTF-8)": lambda k: latin1(f"Bearer {KEY_SCHEME}ключ-{k.valid[8:]}"),
    "non-ASCII after the key": lambda k: latin1(f"Bearer {k.valid}é"),
    "latin-1 scheme": lambda k: latin1(f"Beärer {k.valid}"),
    "control characters": lambda k: f"Bearer {KEY_SCHEME}\x01\x02\x7f{k.valid[8:]}",
    "SQL in the key": lambda k: f"Bearer {KEY_SCHEME}' OR '1'='1",
    "LIKE wildcards for the prefix": lambda k: f"Bearer {KEY_SCHEME}%%%%%%%%_{k.valid[17:]}",
}
FORBIDDEN = {"key without mail": lambda k: f"Bearer {k.no_mail}"}


@pytest.fixture
def keys(account) -> Keys:
    _, valid = factories.make_api_key(account, permissions=list(Permission))
    revoked_key, revoked = factories.make_api_key(account)
    api_key_revoke(api_key=revoked_key)
    _, no_mail = factories.make_api_key(account, permissions=[])
    return Keys(valid, revoked, no_mail, KEY_SCHEME + secrets.token_urlsafe(32))


# One client for all: each new one builds the middleware again, and WhiteNoise then walks
# every static file (~0.1 s a client).
_CLIENT = APIClient()


def call(header: str | None, method: str, path: str) -> Any:
    """One request with `header` as its Authorization (None: none at all)."""
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    if method in ("POST", "PUT", "PATCH"):
        return _CLIENT.generic(
            method, path, json.dumps(SEND), content_type="application/json", **extra
        )
    return _CLIENT.generic(method, path, **extra)


def client_with(header: str) -> APIClient:
    """A client that sends `header` with every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


def envelope_problems(response: Any, method: str, status: int, code: str, header: str) -> list:
    """How `response` differs from the documented refusal; [] when it is exactly that."""
    problems = []
    if response.status_code != status:
        return [f"status {response.status_code}, expected {status}: {response.content[:200]!r}"]
    challenge = response.get("WWW-Authenticate")
    if status == 401 and challenge != CHALLENGE:
        problems.append(f"WWW-Authenticate {challenge!r}, expected {CHALLENGE!r}")
    if status == 403 and challenge is not None:
        problems.append(f"a 403 with WWW-Authenticate {challenge!r}")
    # A credential (or a part of one) must never be echoed back.
    token = header.split()[-1] if header and header.split() else ""
    if len(token) >= 12 and (
        token.encode("latin-1") in response.content
        or any(token in str(value) for value in response.headers.values())
    ):
        problems.append("the answer repeats the credential")
    if method == "HEAD":
        return problems  # no body
    if not response.get("Content-Type", "").startswith("application/json"):
        problems.append(f"Content-Type {response.get('Content-Type')!r}")
        return problems
    body = json.loads(response.content)
    expected_shape = {"success": False, "error": {"code": code, "details": {}}}
    error = body.get("error") if isinstance(body, dict) else None
    if (
        not isinstance(error, dict)
        or set(body) != {"success", "error"}
        or set(error) != {"code", "message", "details"}
        or body["success"] is not False
        or error["code"] != code
        or error["details"] != {}
        or not isinstance(error["message"], str)
        or not error["message"]
    ):
        problems.append(f"body {body!r}, expected {expected_shape!r} with a message")
    return problems


# --- the tests ----------------------------------------------------------------------------


def test_the_endpoints_from_the_urlconf_are_those_of_the_openapi_schema_and_few_are_public():
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    open_paths = {endpoint.schema_path for endpoint in api_endpoints() if endpoint.public}
    documented = {
        (path, method.upper())
        for path, operations in schema["paths"].items()
        for method in operations
        if path not in open_paths
    }
    routed = {
        (endpoint.schema_path, method) for endpoint in protected() for method in endpoint.methods
    }
    public = {endpoint.name for endpoint in api_endpoints() if endpoint.public}

    figures.record(SUITE, cases=0, failures=int(documented != routed) + int(public != PUBLIC))
    assert routed == documented
    assert public == PUBLIC, "a new endpoint without a key must be added to PUBLIC on purpose"


def test_every_endpoint_and_method_refuses_every_bad_credential_with_the_envelope(
    keys, provider, sink
):
    failures, tried = [], 0
    expectations = [(REFUSED, 401, "UNAUTHORIZED"), (FORBIDDEN, 403, "FORBIDDEN")]
    for endpoint in protected():
        for method in METHODS:
            for variants, status, code in expectations:
                for name, make_header in variants.items():
                    header = make_header(keys)
                    response = call(header, method, endpoint.path)
                    tried += 1
                    for problem in envelope_problems(response, method, status, code, header or ""):
                        failures.append(f"{method} {endpoint.route} with {name}: {problem}")

    # Refused requests do nothing: no message, no suppression, nothing handed to the sink.
    if Message.objects.exists() or Suppression.objects.exists() or sink.received:
        failures.append("a refused request sent or recorded something")
    figures.check(SUITE, cases=tried, failures=failures)


@pytest.mark.parametrize(
    "spelling",
    [
        "Bearer {key}",
        "bearer {key}",  # RFC 9110 11.1: the scheme is case-insensitive
        "BEARER {key}",
        "Bearer  {key}",  # RFC 6750 2.1: credentials = "Bearer" 1*SP b64token
        "Bearer {key} ",  # RFC 9110 5.5: surrounding whitespace is not part of the value
        "Bearer {key}\n",  # ...which an HTTP server strips before Django sees the header
    ],
    ids=["canonical", "lower-case", "upper-case", "two-spaces", "trailing-space", "newline"],
)
def test_a_valid_key_in_any_rfc_spelling_of_the_header_gets_through(keys, spelling):
    response = call(spelling.format(key=keys.valid), "GET", "/api/v1/suppressions")

    figures.record(SUITE, cases=1, failures=int(response.status_code != 200))
    assert response.status_code == 200, response.content


def test_the_valid_key_gets_past_authentication_on_every_endpoint_and_method(keys, provider):
    """The positive control of the refusal matrix: same requests, the right key."""
    failures, tried = [], 0
    for endpoint in protected():
        for method in METHODS:
            response = call(f"Bearer {keys.valid}", method, endpoint.path)
            tried += 1
            if response.status_code in (401, 403) or response.status_code >= 500:
                failures.append(f"{method} {endpoint.route}: {response.status_code}")

    figures.check(SUITE, cases=tried, failures=failures)


def _revoke_from_dashboard(user: Any) -> Callable[[ApiKey], None]:
    """Revoking as `user` does it: the confirmation page, then its form (CSRF checked)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    def revoke(api_key: ApiKey) -> None:
        url = reverse("dashboard:key-revoke", args=[api_key.pk])
        assert client.get(url).status_code == 200
        token = client.cookies["csrftoken"].value
        response = client.post(url, {"csrfmiddlewaretoken": token})
        assert response.status_code == 302, response.content

    return revoke


def _revoke_with_sql(api_key: ApiKey) -> None:
    """Behind the application's back: a cache of keys would not notice this."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ApiKey._meta.db_table} SET revoked_at = %s WHERE id = %s",
            [api_key.created_at, api_key.pk],
        )


def test_a_revoked_key_stops_working_on_the_very_next_request(account, owner, teammate):
    revokers = {
        "the service": lambda api_key: api_key_revoke(api_key=api_key),
        "the owner's dashboard": _revoke_from_dashboard(owner),
        "the teammate's dashboard": _revoke_from_dashboard(teammate),
        "an SQL UPDATE": _revoke_with_sql,
    }
    failures, tried = [], 0
    for how, revoke in revokers.items():
        for path in ("/api/v1/suppressions", "/api/v1/mail/status/x@example.com"):
            api_key, secret = factories.make_api_key(account)
            header = f"Bearer {secret}"
            warm = [call(header, "GET", path).status_code for _ in range(3)]  # used, counted
            revoke(api_key)
            after = [call(header, "GET", path), call(header, "GET", path)]
            tried += len(warm) + len(after)
            if any(status in (401, 403) for status in warm):
                failures.append(f"{how}, {path}: the key did not work before: {warm}")
            for response in after:
                for problem in envelope_problems(
                    response, "GET", 401, "UNAUTHORIZED", f"Bearer {secret}"
                ):
                    failures.append(f"revoked by {how}, {path}: {problem}")

    figures.check(SUITE, cases=tried, failures=failures)


# --- the full key is shown once, and kept nowhere ------------------------------------------


@contextmanager
def every_log_record(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """Every record of every logger at DEBUG, SQL statements with their parameters too."""
    names = [
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    ]
    caplog.set_level(logging.DEBUG)
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
    detached = [logging.getLogger(name) for name in names if not logging.getLogger(name).propagate]
    for logger in detached:
        logger.addHandler(caplog.handler)
    debug_cursor, connection.force_debug_cursor = connection.force_debug_cursor, True
    try:
        yield caplog.records
    finally:
        connection.force_debug_cursor = debug_cursor
        for logger in detached:
            logger.removeHandler(caplog.handler)


def record_text(record: logging.LogRecord) -> str:
    """All a handler could write for `record`: message, arguments, traceback, extras."""
    parts = [record.getMessage(), repr(record.args), repr(vars(record))]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def table_dump() -> dict[str, str]:
    return {table: "\n".join(rows) for table, rows in table_rows().items()}


def cookie_text(client: Client) -> str:
    """A client's cookies, the messages cookie decoded (it is signed, not encrypted)."""
    text = [client.cookies.output()]
    if "messages" in client.cookies:
        decoded = CookieStorage(HttpRequest())._decode(client.cookies["messages"].value)
        text.append(repr([str(note) for note in decoded or []]))
    return "\n".join(text)


def dashboard_pages(
    client: Client,
    api_key: ApiKey,
    message: Message,
    template: Template,
    delivery: WebhookDelivery,
    domain: SenderDomain,
) -> dict[str, str]:
    """Every dashboard page that answers GET, ids filled with the account's objects."""
    ids = {"key-revoke": api_key.pk, "message-detail": message.pk, "message-html": message.pk}
    provider_id = message.provider_id
    pages = {}
    for route in every_route():
        if route.namespace != "dashboard":
            continue
        names = PARAMETER.findall(route.route)
        if names == ["token"]:
            continue  # a page behind a mailed link, for someone who is not logged in
        if route.pattern.name == "message-attachment":
            continue  # a file to download, not a page; the messages sent here carry none
        if route.pattern.name.startswith("template-") and names:
            # A template's pages; a version's, of its first version.
            url = reverse(route.name, args=[template.pk, 1][: len(names)])
        elif route.pattern.name.startswith("webhook-") and names:
            # An endpoint's pages; a delivery's, of the endpoint's delivery.
            url = reverse(route.name, args=[delivery.endpoint_id, delivery.pk][: len(names)])
        elif route.pattern.name.startswith("domain-") and names:
            url = reverse(route.name, args=[domain.pk])
        elif names:
            url = reverse(route.name, args=[ids.get(route.pattern.name, provider_id)])
        else:
            url = reverse(route.name)
        response = client.get(url)
        if response.status_code == 405:
            continue  # a POST-only route: nothing to render
        assert response.status_code in (200, 302), (url, response.status_code)
        pages[url] = response.content.decode()
    assert len(pages) >= 10
    return pages


def test_the_full_key_is_never_stored_logged_or_rendered_after_creation(
    caplog, settings, monkeypatch, owner, teammate, account, provider, sink, signup_open
):
    settings.ADMINS = [("Operator", "ops@example.com")]  # error mail would carry a request
    owner_client, teammate_client = Client(), Client()
    owner_client.force_login(owner)
    teammate_client.force_login(teammate)
    answers: list[str] = []  # API answers and command output after each creation
    with every_log_record(caplog) as records:
        # Created three ways: the service, the dashboard, the command.
        _, by_service = api_key_create(account=account, name="service", created_by=owner)
        created = owner_client.post("/keys/", {"name": "dashboard", "permissions": ["mail"]})
        by_dashboard = SECRET_SHAPE.findall(created.content.decode())[0]
        out, err = StringIO(), StringIO()
        call_command("create_api_key", "owner", "--name", "command", stdout=out, stderr=err)
        by_command = out.getvalue().split()[-1]
        answers.append(err.getvalue())
        secrets_made = [by_service, by_dashboard, by_command]

        # Each is used: sent, queued, looked up, refused, and crashed with.
        for secret in secrets_made:
            api = client_with(f"Bearer {secret}")
            sent = api.post("/api/v1/mail/send", SEND, format="json")
            assert sent.status_code == 200, sent.content
            message_id = sent.json()["data"]["message_id"]
            replies = [
                sent,
                api.post("/api/v1/mail/send", SEND, format="json", HTTP_IDEMPOTENCY_KEY="order-1"),
                api.post("/api/v1/mail/send-batch", {"messages": [SEND, {}]}, format="json"),
                api.get(f"/api/v1/mail/status/{message_id}"),
                api.get("/api/v1/mail/status/unknown@example.com"),
                api.post("/api/v1/suppressions", {"email": "gone@example.com"}, format="json"),
                api.get("/api/v1/suppressions"),
                api.delete("/api/v1/suppressions/gone@example.com"),
                api.post("/api/v1/mail/send", {"to": "bad"}, format="json"),
                call(f"Bearer {secret}x", "GET", "/api/v1/suppressions"),
                call(f"bearer  {secret}", "GET", "/api/v1/suppressions"),
            ]
            with monkeypatch.context() as crash:
                crash.setattr(selectors, "suppression_list", _explode)
                replies.append(api.get("/api/v1/suppressions"))
            assert replies[-1].status_code == 500
            answers += [reply.content.decode("latin-1") + str(reply.headers) for reply in replies]
        _revoke_from_dashboard(teammate)(ApiKey.objects.get(name="dashboard"))

        # Then every page there is, for the owner and the teammate, and the operator's.
        api_key = ApiKey.objects.get(name="command")
        message = Message.objects.filter(account=account).first()
        template = template_create(
            account=account,
            data={"name": "Welcome", "alias": "welcome", "subject": "Hi", "text": "x"},
        )
        endpoint, _secret = webhook_create(account=account, url="https://app.example.com/hooks")
        delivery = webhook_send_test(endpoint=endpoint, test=False)
        domain = domains.domain_create(account=account, name="shop.example")
        pages = {}
        for who, client in (("owner", owner_client), ("teammate", teammate_client)):
            found = dashboard_pages(client, api_key, message, template, delivery, domain)
            for url, content in found.items():
                pages[f"{who} {url}"] = content
        superuser = factories.make_user("operator")
        superuser.is_staff = superuser.is_superuser = True
        superuser.save()
        operator = Client()
        operator.force_login(superuser)
        for url in (
            "/admin/api/apikey/",
            f"/admin/api/apikey/{api_key.pk}/change/",
            f"/admin/api/message/{message.pk}/change/",
            "/api/docs/",
        ):
            response = operator.get(url)
            assert response.status_code == 200, url
            pages[f"operator {url}"] = response.content.decode()
        pages["API schema"] = Client().get("/api/schema/").content.decode()

    assert sink.received, "the keys did send mail"
    assert any(r.name == "django.db.backends" for r in records), "SQL logging was captured"
    haystacks = {f"table {name}": text for name, text in table_dump().items()}
    haystacks |= {f"log {i} {r.name}": record_text(r) for i, r in enumerate(records)}
    haystacks |= {f"page {url}": content for url, content in pages.items()}
    haystacks |= {f"answer {i}": text for i, text in enumerate(answers)}
    haystacks |= {
        f"session {s.session_key}": repr(SessionStore().decode(s.session_data))
        for s in Session.objects.all()
    }
    haystacks |= {
        f"cookies {who}": cookie_text(client)
        for who, client in (("owner", owner_client), ("teammate", teammate_client))
    }
    haystacks |= {
        f"mail {i}": "\n".join([m.subject, m.body, *(str(a[0]) for a in m.alternatives)])
        for i, m in enumerate(mail.outbox)
    }
    assert any(key.prefix in haystacks["table api_apikey"] for key in ApiKey.objects.all())
    assert any("Internal Server Error" in m.subject for m in mail.outbox), "the crash mailed"

    failures, tried = [], 0
    for secret in secrets_made:
        # The whole key, its random part, and the part that only the digest stands for.
        needles = {secret, secret[len(KEY_SCHEME) :], secret[PREFIX_LENGTH:]}
        for where, text in haystacks.items():
            tried += 1
            if any(needle in text for needle in needles):
                failures.append(f"{secret[:PREFIX_LENGTH]}… is in {where}")

    figures.check(SUITE, cases=tried, failures=failures)


def _explode(**_: Any) -> None:
    raise RuntimeError("a bug, for the test")


# --- constant time ------------------------------------------------------------------------


def test_a_key_is_found_by_its_prefix_and_compared_by_digest_in_constant_time(monkeypatch, account):
    api_key, secret = factories.make_api_key(account)
    forged = secret[:-6] + ("AAAAAA" if not secret.endswith("AAAAAA") else "BBBBBB")
    compared: list[tuple[str, str]] = []
    real_compare_digest = hmac.compare_digest

    def counting_compare_digest(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real_compare_digest(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting_compare_digest)
    failures = []

    # The selector: one query, by prefix; then one comparison of two digests.
    with CaptureQueriesContext(connection) as queries:
        found = selectors.api_key_get_active(key=forged)
    key_queries = [q["sql"] for q in queries if ApiKey._meta.db_table in q["sql"]]
    if found is not None:
        failures.append("a forged key with a real prefix was accepted")
    if (
        len(key_queries) != 1
        or "prefix" not in key_queries[0]
        or "digest" in (key_queries[0].split("WHERE", 1)[-1])
    ):
        failures.append(f"not one lookup by prefix alone: {key_queries}")
    if secret[PREFIX_LENGTH:] in " ".join(key_queries) or forged in " ".join(key_queries):
        failures.append("the query carries more of the key than its prefix")
    if compared != [(api_key.digest, key_digest(forged))]:
        failures.append(f"compare_digest calls {compared}, expected one on the two digests")

    # The same path through HTTP, for the forged key and the right one.
    compared.clear()
    refused = call(f"Bearer {forged}", "GET", "/api/v1/suppressions")
    accepted = call(f"Bearer {secret}", "GET", "/api/v1/suppressions")
    if (refused.status_code, accepted.status_code) != (401, 200):
        failures.append(f"forged {refused.status_code}, right {accepted.status_code}")
    expected = [(api_key.digest, key_digest(forged)), (api_key.digest, key_digest(secret))]
    if compared != expected:
        failures.append(f"HTTP compare_digest calls {compared}, expected {expected}")

    # The digest is a keyed HMAC-SHA256 of the whole key, not a plain hash.
    hmac_key = settings.MAILPASS_API_KEY_HMAC_KEY.encode()
    if key_digest(secret) != hmac.new(hmac_key, secret.encode(), hashlib.sha256).hexdigest():
        failures.append("the digest is not HMAC-SHA256 keyed with MAILPASS_API_KEY_HMAC_KEY")
    if key_digest(secret) == hashlib.sha256(secret.encode()).hexdigest():
        failures.append("the digest is an unkeyed SHA-256")

    figures.check(SUITE, cases=3, failures=failures)
