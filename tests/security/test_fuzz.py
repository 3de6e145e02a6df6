"""Schema fuzzing: schemathesis builds requests from our own OpenAPI schema (/api/schema/) and
sends them to the app in-process, over WSGI. For every answer:

- it is JSON: an application/json body that parses, in the one envelope;
- it is no 5xx, except a 500 whose error.code is SEND_FAILED (documented: the provider
  refused the message);
- its status code is documented for the operation, and its headers and body match the schema
  (a method the path does not document must get a 4xx);
- with a hostile credential (none, an unknown key, a malformed header, a revoked key, a key
  without the `mail` permission) a key-protected operation answers 401 or 403, nothing else;
- a request repeated with its Idempotency-Key gets the first answer back, marked replayed.

The cases are schemathesis' coverage phase (each constraint's boundary values and their
violations, and the undocumented methods) plus Hypothesis generation in positive and negative
mode, derandomized: every run sends the same requests. Each case goes out with the valid key,
then with one of the hostile credentials in turn. The account's default provider is the
loopback SMTP sink, so a valid /send really sends. Smaller runs put the mail operations in
the worlds where the other documented errors live: a refusing provider (SEND_FAILED), no
provider (NO_SMTP_PROVIDER), a provider at its limit (SEND_LIMIT_EXCEEDED) and a key over
its rate limit (RATE_LIMITED).

The fuzz runs in the PostgreSQL leg of `make test` only (the database MailPass runs on, and
no slower here than SQLite): PostgreSQL refuses NUL characters that SQLite stores, and that
difference alone was five 500s. The focused tests at the end run on both databases.
"""

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi import checks as openapi_checks

from api.idempotency import MAX_KEY_LENGTH
from api.models import Message, MessageEvent, Suppression, Template
from api.services import (
    api_key_revoke,
    template_create,
    webhook_create,
    webhook_send_test,
    webhook_update,
)
from providers import domains
from tests import factories
from tests.security import figures

SUITE = "01 schema fuzzing (schemathesis)"

pytestmark = pytest.mark.django_db

# schemathesis' own not_a_server_error is replaced below: a 500 SEND_FAILED is documented.
SCHEMA_CHECKS = [
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
PUBLIC = {"GET /api/v1/health"}
SEND = "POST /api/v1/mail/send"
SEND_BATCH = "POST /api/v1/mail/send-batch"
STATUS = "GET /api/v1/mail/status/{message_id}"
REMOVE_SUPPRESSION = "DELETE /api/v1/suppressions/{email}"
CANCEL = "POST /api/v1/mail/{message_id}/cancel"
RESCHEDULE = "PATCH /api/v1/mail/{message_id}"
WEBHOOK_ROUTES = (
    "GET /api/v1/webhooks/{id}",
    "PATCH /api/v1/webhooks/{id}",
    "POST /api/v1/webhooks/{id}/rotate-secret",
    "POST /api/v1/webhooks/{id}/test",
    "GET /api/v1/webhooks/{id}/deliveries",
    "POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
    "DELETE /api/v1/webhooks/{id}",  # last: the others need the endpoint
)
DOMAIN_ROUTES = (
    "GET /api/v1/domains/{id}",
    "POST /api/v1/domains/{id}/verify",
    "POST /api/v1/domains/{id}/rotate",
    "DELETE /api/v1/domains/{id}",  # last: the others need the domain
)
TEMPLATE_ROUTES = (
    "GET /api/v1/templates/{reference}",
    "PATCH /api/v1/templates/{reference}",
    "POST /api/v1/templates/{reference}/render",
    "DELETE /api/v1/templates/{reference}",  # last: the others need the template
)
# Fuzzed first, so that the reads after them find data (a suppressed recipient, a list).
WRITES = (
    "POST /api/v1/suppressions",
    "POST /api/v1/templates",
    "POST /api/v1/webhooks",
    "POST /api/v1/domains",
    SEND,
    SEND_BATCH,
)
# Messages per status, and suppressions, that the fuzz created and then asks for by name.
KNOWN_OBJECTS = 10
# Hypothesis examples per operation and mode: in the main run, and in each smaller world.
EXAMPLES = 30
WORLD_EXAMPLES = 15


@dataclass
class Credential:
    name: str
    authorization: str | None
    expected: int  # what a key-protected operation must answer; 200: whatever it documents


@dataclass
class Fuzz:
    """Sends cases and collects every broken rule, so that a failure lists them all."""

    cases: int = 0
    failures: list[str] = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)  # (operation, status, error code)

    def send(self, case: Any, credential: Credential) -> Any:
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        if credential.authorization is not None:
            headers["Authorization"] = credential.authorization
        key = headers.get("Idempotency-Key")
        if credential.expected == 200 and _valid_idempotency_key(key):
            # Generated keys repeat ("0", "a", ...): each would meet the first body sent with
            # it and answer 409 without looking at the body. One key per case keeps the body
            # fuzzed; _check_replay still puts the key to work.
            headers["Idempotency-Key"] = f"{self.cases}.{key}"[:MAX_KEY_LENGTH]
        case.headers = headers
        response = self._call(case, credential)
        key = case.headers.get("Idempotency-Key")
        if credential.expected == 200 and response.status_code == 200 and key is not None:
            self._check_replay(case, credential, response)
        return response

    def _call(self, case: Any, credential: Credential) -> Any:
        self.cases += 1
        response = case.call()
        body, code = _body(response), _code(response)
        self.seen[(case.operation.label, response.status_code, code)] += 1
        problems = [*_envelope_problems(response, body), *_server_error_problems(response, code)]
        if case.method.upper() == case.operation.method.upper():
            problems += _schema_problems(case, response)
        elif not 400 <= response.status_code < 500:
            problems.append(f"an undocumented method answered {response.status_code}")
        if case.operation.label not in PUBLIC and credential.expected != 200:
            if response.status_code != credential.expected and not _unknown_path(body):
                problems.append(
                    f"{credential.name} credential got {response.status_code}, "
                    f"not {credential.expected}"
                )
        if problems:
            self.failures.append(_describe(case, credential, response, problems))
        return response

    def _check_replay(self, case: Any, credential: Credential, first: Any) -> None:
        again = self._call(case, credential)
        if again.status_code == 429 and _code(again) == "RATE_LIMITED":
            return  # the throttle counts a repeat like any request: it comes back later
        replayed = again.headers.get("idempotent-replayed") == ["true"]
        if again.status_code != first.status_code or _body(again) != _body(first) or not replayed:
            problem = "a repeat with its Idempotency-Key did not get the first answer, replayed"
            self.failures.append(_describe(case, credential, again, [problem]))

    def record(self) -> None:
        figures.record(SUITE, cases=self.cases, failures=len(self.failures))

    def report(self) -> str:
        return f"{len(self.failures)} of {self.cases} cases broke a rule:\n" + "\n".join(
            self.failures
        )


def _code(response: Any) -> str | None:
    body = _body(response)
    return body.get("error", {}).get("code") if isinstance(body, dict) else None


def _valid_idempotency_key(key: str | None) -> bool:
    return key is not None and 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()


def _body(response: Any) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _envelope_problems(response: Any, body: Any) -> Iterator[str]:
    content_type = ";".join(response.headers.get("content-type", []))
    if not content_type.startswith("application/json"):
        yield f"Content-Type is {content_type!r}, not JSON"
    if not isinstance(body, dict) or body.get("success") not in (True, False):
        yield "the body is not the JSON envelope"
    elif body["success"] is False and (
        not isinstance(body.get("error"), dict)
        or set(body["error"]) != {"code", "message", "details"}
    ):
        yield "an error body without exactly code, message and details"


def _server_error_problems(response: Any, code: str | None) -> Iterator[str]:
    if response.status_code >= 500 and not (response.status_code == 500 and code == "SEND_FAILED"):
        yield f"server error {response.status_code} {code}"


def _schema_problems(case: Any, response: Any) -> Iterator[str]:
    try:
        case.validate_response(response, checks=SCHEMA_CHECKS)
    except FailureGroup as group:
        for failure in group.exceptions:
            yield f"{failure.title}: {failure.message[:400]}"


def _unknown_path(body: Any) -> bool:
    """A path the router does not know (a generated path parameter with a slash, say) is a
    JSON 404 before authentication: it reveals nothing, so any credential may get it."""
    return body == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "No such endpoint.", "details": {}},
    }


def _describe(case: Any, credential: Credential, response: Any, problems: list[str]) -> str:
    return (
        f"{case.operation.label} [{credential.name}] -> {response.status_code}: "
        f"{'; '.join(problems)}\n    {case.as_curl_command()[:600]}\n"
        f"    {response.content[:300]!r}"
    )


@pytest.fixture
def wsgi_app(settings):
    """The Django WSGI app, called in-process inside the test's transaction."""
    settings.ALLOWED_HOSTS = ["localhost"]  # schemathesis' WSGI client sends Host: localhost
    settings.MAILPASS_API_RATE_LIMIT = "1000000/min"
    # A real request closes the connection at its end; here that would end the test's
    # transaction (Django's test client disconnects the same signal handlers).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def schema(wsgi_app):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)


@pytest.fixture
def valid(account) -> Credential:
    _, secret = factories.make_api_key(
        account, permissions=["mail", "templates", "webhooks", "domains"]
    )
    return Credential("valid key", f"Bearer {secret}", 200)


@pytest.fixture
def hostile(account) -> list[Credential]:
    revoked, revoked_secret = factories.make_api_key(account)
    api_key_revoke(api_key=revoked)
    _, no_mail = factories.make_api_key(account, permissions=[])
    return [
        Credential("no", None, 401),
        Credential("unknown key", "Bearer mp_live_" + "x" * 43, 401),
        Credential("malformed", "Basic dXNlcjpwYXNzd29yZA==", 401),
        Credential("revoked key", f"Bearer {revoked_secret}", 401),
        Credential("no-permission key", f"Bearer {no_mail}", 403),
    ]


def operations(schema: Any, labels: Iterable[str] | None = None) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if labels is None or op.label in labels]


def generate(
    operation: Any, mode: GenerationMode, examples: int, on_case: Callable[[Any], None]
) -> None:
    """Hypothesis generation for one operation, derandomized; `on_case` gets every case."""

    @hypothesis_settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],  # nothing is raised, so there is nothing to shrink
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        on_case(case)

    try:
        run()
    except Unsatisfiable:
        pass  # nothing to make invalid: GET /api/v1/health has no parameters


def coverage_cases(schema: Any, operation: Any) -> Iterator[Any]:
    """Schemathesis' coverage phase for one operation."""
    yield from schema.iter_coverage_cases(
        operation,
        generation_modes=list(MODES),
        generation_config=schema.config.generation_for(operation=operation),
    )


def fuzz_world(schema: Any, labels: set[str], credential: Credential) -> Fuzz:
    """Positive cases for `labels` with one credential: enough to reach a world's errors."""
    fuzz = Fuzz()
    for operation in operations(schema, labels):
        generate(
            operation,
            GenerationMode.POSITIVE,
            WORLD_EXAMPLES,
            lambda case: fuzz.send(case, credential),
        )
    fuzz.record()
    return fuzz


def a_message_with_every_kind_of_event(account: Any) -> Message:
    """A sent message whose events have every shape the status answer can take."""
    message = factories.make_message(account, status=Message.Status.SENT, sent_at=timezone.now())
    for event_type in MessageEvent.Type:
        MessageEvent.objects.create(
            account=account,
            message=message,
            event_type=event_type,
            ip_address="2001:db8::1" if event_type == MessageEvent.Type.OPEN else None,
            user_agent="Mozilla/5.0" if event_type == MessageEvent.Type.OPEN else "",
            url="https://example.com/welcome?utm=mail" if event_type == "click" else "",
            description="550 5.1.1 No such user" if event_type != MessageEvent.Type.OPEN else "",
        )
    return message


@pytest.mark.postgres_only
def test_every_operation_answers_fuzzed_requests_with_documented_json_and_no_server_error(
    schema, account, provider, sink, valid, hostile, outsider_account, dns_server
):
    fuzz = Fuzz()
    turn = 0

    def valid_then_hostile(case: Any) -> None:
        nonlocal turn
        fuzz.send(case, valid)
        fuzz.send(case, hostile[turn % len(hostile)])
        turn += 1

    for operation in sorted(operations(schema), key=lambda op: op.label not in WRITES):
        for case in coverage_cases(schema, operation):
            valid_then_hostile(case)
        for mode in MODES:
            generate(operation, mode, EXAMPLES, valid_then_hostile)

    # Generated ids and addresses never exist: ask for the ones the fuzz created, too. These
    # cases are built by hand, so their path parameters go out percent-encoded by hand ("#").
    _, outsider_secret = factories.make_api_key(
        outsider_account, permissions=["mail", "templates", "webhooks", "domains"]
    )
    outsider = Credential("another account's key", f"Bearer {outsider_secret}", 404)
    status, remove = operations(schema, {STATUS, REMOVE_SUPPRESSION})
    messages = [a_message_with_every_kind_of_event(account)]
    for state in Message.Status:
        messages += Message.objects.filter(account=account, status=state)[:KNOWN_OBJECTS]
    for message in messages:
        for message_id in (message.message_id, message.message_id.strip("<>")):
            case = status.Case(path_parameters={"message_id": quote(message_id)})
            for credential in (outsider, hostile[turn % len(hostile)], valid):
                fuzz.send(case, credential)
            turn += 1
    # Scheduled messages (generated times are rarely within the 30 days): reschedule, then
    # cancel, each answered for real; then both again on a message no longer scheduled.
    by_label = {operation.label: operation for operation in operations(schema)}
    cancel, reschedule = by_label[CANCEL], by_label[RESCHEDULE]
    for number in range(KNOWN_OBJECTS):
        message = factories.make_message(
            account,
            status=Message.Status.SCHEDULED,
            scheduled_at=timezone.now() + dt.timedelta(days=1),
        )
        # The second reschedule meets a cancelled message (409), the second cancel a 200.
        for operation in (reschedule, cancel, reschedule, cancel):
            when = timezone.now() + dt.timedelta(days=2 if number % 2 else 40)  # 40: a 400
            path = {"message_id": quote(message.message_id)}
            case = (
                operation.Case(path_parameters=path, body={"scheduled_at": when.isoformat()})
                if operation is reschedule
                else operation.Case(path_parameters=path)
            )
            for credential in (outsider, hostile[turn % len(hostile)], valid):
                fuzz.send(case, credential)
            turn += 1
    # Templates (generated aliases are rarely valid ones), by id and by alias, through every
    # route: read, change, render (a 400: no variables given), delete.
    template_operations = [by_label[label] for label in TEMPLATE_ROUTES]
    for number in range(KNOWN_OBJECTS):
        data = {"alias": f"t{number}", "name": "T", "subject": "Hi {{name}}", "text": "x"}
        template_create(account=account, data=data)
    for template in Template.objects.filter(account=account)[:KNOWN_OBJECTS]:
        for operation in template_operations:
            reference = template.alias if template.pk % 2 else str(template.pk)
            path = {"reference": quote(reference)}
            body = {"PATCH": {"name": "renamed"}, "POST": {}}.get(operation.method.upper())
            case = (
                operation.Case(path_parameters=path)
                if body is None
                else operation.Case(path_parameters=path, body=body)
            )
            for credential in (outsider, hostile[turn % len(hostile)], valid):
                fuzz.send(case, credential)
            turn += 1
    # Webhook endpoints: every route on endpoints that exist, the second half disabled
    # (test and retry: 409 WEBHOOK_DISABLED), with a delivery each to retry.
    webhook_operations = [by_label[label] for label in WEBHOOK_ROUTES]
    for number in range(KNOWN_OBJECTS):
        endpoint, _ = webhook_create(account=account, url=f"https://hooks{number}.example.com/")
        delivery = webhook_send_test(endpoint=endpoint, test=False)
        if number >= KNOWN_OBJECTS // 2:
            webhook_update(endpoint=endpoint, enabled=False)
        for operation in webhook_operations:
            path = {"id": str(endpoint.pk)}
            if "{delivery_id}" in operation.path:
                path["delivery_id"] = str(delivery.pk)
            if operation.method.upper() == "PATCH":
                case = operation.Case(path_parameters=path, body={"description": "renamed"})
            elif operation.path.endswith("rotate-secret"):
                case = operation.Case(path_parameters=path, body={"overlap_hours": 1})
            else:
                case = operation.Case(path_parameters=path)
            for credential in (outsider, hostile[turn % len(hostile)], valid):
                fuzz.send(case, credential)
            turn += 1
    # Sender domains: every route on domains that exist, by id and by name; half of them
    # published on the tests' DNS server (verify: verified), the others not (failed).
    domain_operations = [by_label[label] for label in DOMAIN_ROUTES]
    for number in range(KNOWN_OBJECTS):
        domain = domains.domain_create(account=account, name=f"fuzz{number}.example")
        if number % 2:
            dns_server.publish_all(domains.records_of(domain))
        for operation in domain_operations:
            path = {"id": domain.name if number % 2 else str(domain.pk)}
            body = {"ed25519": True} if operation.path.endswith("rotate") else None
            case = (
                operation.Case(path_parameters=path)
                if body is None
                else operation.Case(path_parameters=path, body=body)
            )
            for credential in (outsider, hostile[turn % len(hostile)], valid):
                fuzz.send(case, credential)
            turn += 1
    suppressed = Suppression.objects.filter(account=account)[:KNOWN_OBJECTS]
    for email in [entry.email for entry in suppressed]:
        case = remove.Case(path_parameters={"email": quote(email, safe="@")})
        for credential in (outsider, hostile[turn % len(hostile)], valid, valid):
            fuzz.send(case, credential)  # valid twice: removed (200), then not listed (404)
        turn += 1
    fuzz.record()

    assert fuzz.failures == [], fuzz.report()
    assert fuzz.cases >= 2000
    assert fuzz.seen[(SEND, 200, None)] >= 20, "too few fuzzed sends got through"
    assert len(sink.received) >= 20
    assert fuzz.seen[(STATUS, 200, None)] >= 2 * len(messages)
    assert fuzz.seen[(REMOVE_SUPPRESSION, 200, None)] == len(suppressed) > 0
    assert fuzz.seen[(CANCEL, 200, None)] >= 2 * KNOWN_OBJECTS  # cancelling twice: 200 twice
    # Half the reschedules ask for 40 days ahead: a 400, whatever the status.
    assert fuzz.seen[(RESCHEDULE, 409, "MESSAGE_NOT_SCHEDULED")] >= KNOWN_OBJECTS // 2
    assert fuzz.seen[("DELETE /api/v1/templates/{reference}", 200, None)] >= KNOWN_OBJECTS
    assert fuzz.seen[("POST /api/v1/templates/{reference}/render", 400, "VALIDATION_ERROR")]
    assert fuzz.seen[("POST /api/v1/webhooks/{id}/test", 202, None)] >= KNOWN_OBJECTS // 2
    assert fuzz.seen[("POST /api/v1/webhooks/{id}/test", 409, "WEBHOOK_DISABLED")]
    assert fuzz.seen[("DELETE /api/v1/webhooks/{id}", 200, None)] >= KNOWN_OBJECTS
    assert fuzz.seen[("POST /api/v1/domains/{id}/verify", 200, None)] >= KNOWN_OBJECTS
    assert fuzz.seen[("DELETE /api/v1/domains/{id}", 200, None)] >= KNOWN_OBJECTS


@pytest.mark.postgres_only
def test_fuzzed_sends_through_a_refusing_provider_answer_a_documented_send_failed(
    schema, provider, sink, valid
):
    sink.handler.data_reply_for_all = "554 5.7.1 Message refused"

    fuzz = fuzz_world(schema, {SEND}, valid)

    assert fuzz.failures == [], fuzz.report()
    assert fuzz.seen[(SEND, 500, "SEND_FAILED")] > 0


@pytest.mark.postgres_only
def test_fuzzed_sends_without_a_default_provider_answer_a_documented_422(schema, valid):
    fuzz = fuzz_world(schema, {SEND, SEND_BATCH}, valid)

    assert fuzz.failures == [], fuzz.report()
    assert fuzz.seen[(SEND, 422, "NO_SMTP_PROVIDER")] > 0
    assert fuzz.seen[(SEND_BATCH, 422, "NO_SMTP_PROVIDER")] > 0


@pytest.mark.postgres_only
def test_fuzzed_sends_through_a_provider_at_its_limit_answer_a_documented_429(
    schema, account, sink, valid
):
    factories.make_provider(account, port=sink.port, hourly_limit=1)

    fuzz = fuzz_world(schema, {SEND}, valid)

    assert fuzz.failures == [], fuzz.report()
    assert fuzz.seen[(SEND, 429, "SEND_LIMIT_EXCEEDED")] > 0


@pytest.mark.postgres_only
def test_fuzzed_requests_over_the_rate_limit_answer_a_documented_429(
    schema, provider, sink, valid, settings
):
    settings.MAILPASS_API_RATE_LIMIT = "3/min"
    protected = {op.label for op in operations(schema)} - PUBLIC

    fuzz = fuzz_world(schema, protected, valid)

    assert fuzz.failures == [], fuzz.report()
    assert sum(n for (_, status, code), n in fuzz.seen.items() if code == "RATE_LIMITED") > 0


# --- Found by the fuzz, kept as focused tests (both databases) -------------------------

API_ROUTES_OUTSIDE_THE_SCHEMA = [
    "/api/schema/",
    "/api/docs/",
    "/api/",
    "/api/v1/",
    "/api/v1/mail/send/extra",
    "/api/v1/mail/status/",
    "/api/v1/suppressions/",
    "/api/v1/no-such-thing",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def test_no_method_on_an_api_route_outside_the_schema_gets_a_server_error_or_html():
    """The schema's own routes, the docs page and unknown paths, with every method and with
    CSRF checks on, as a real client meets them (Django's test client turns CSRF checks off).
    The docs page is the one HTML page under /api/."""
    client = Client(enforce_csrf_checks=True)
    failures = []
    cases = 0
    for path in API_ROUTES_OUTSIDE_THE_SCHEMA:
        for method in METHODS:
            cases += 1
            response = client.generic(method, path, "{}", content_type="application/json")
            content_type = response.get("Content-Type", "")
            if response.status_code >= 500:
                failures.append(f"{method} {path}: {response.status_code}")
            elif path != "/api/docs/" and "html" in content_type:
                failures.append(f"{method} {path}: {response.status_code} {content_type}")
            elif path.startswith("/api/v1/") and response.status_code != 404:
                failures.append(f"{method} {path}: {response.status_code}, not 404")

    figures.check(SUITE, cases=cases, failures=failures)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_write_to_an_unknown_api_path_is_a_json_404_not_the_csrf_page(method):
    response = getattr(Client(enforce_csrf_checks=True), method)(
        "/api/v1/mail/sendd", "{}", content_type="application/json"
    )

    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": {"code": "NOT_FOUND", "message": "No such endpoint.", "details": {}},
    }


def test_an_address_with_a_slash_can_be_taken_off_the_suppression_list(api):
    for email in ("a/b@example.com", "c/d/e@example.com"):
        api.post("/api/v1/suppressions", {"email": email}, format="json")

    plain = api.delete("/api/v1/suppressions/a/b@example.com")
    encoded = api.delete("/api/v1/suppressions/c%2Fd%2Fe@example.com")

    assert (plain.status_code, plain.json()["data"]) == (200, {"email": "a/b@example.com"})
    assert (encoded.status_code, encoded.json()["data"]) == (200, {"email": "c/d/e@example.com"})
    assert not Suppression.objects.exists()


def test_options_on_the_api_docs_page_is_a_405_not_a_crash():
    response = Client().options("/api/docs/")

    assert response.status_code == 405


def test_a_click_on_a_link_written_with_spaces_is_reported_in_a_schema_valid_status(
    schema, account, valid
):
    message = factories.make_message(account, status=Message.Status.SENT)
    MessageEvent.objects.create(
        account=account, message=message, event_type="click", url="https://example.com/a b/ä"
    )
    status = operations(schema, {STATUS})[0]
    case = status.Case(path_parameters={"message_id": quote(message.message_id)})
    case.headers = {"Authorization": valid.authorization}

    response = case.call()

    assert response.status_code == 200
    assert list(_schema_problems(case, response)) == []


# PostgreSQL refuses NUL in text and in jsonb; SQLite stores it. These were 500s there.


def test_a_nul_in_a_metadata_value_is_a_400_not_a_500(api, provider, sink):
    body = {"to": "a@example.com", "subject": "Hi", "text": "Hi", "metadata": {"k": "a\x00b"}}

    response = api.post("/api/v1/mail/send", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["metadata"]
    assert sink.received == []


KEY = {"HTTP_IDEMPOTENCY_KEY": "batch-with-a-nul"}


def test_a_batch_answer_that_echoes_a_nul_is_kept_for_its_idempotency_key(api, provider):
    items = [
        {"to": "a\x00b@example.com", "subject": "Hi", "text": "Hi"},
        {"to": "c@example.com", "subject": "Hi", "text": "Hi", "x\x00": 1},
        {"to": "d@example.com", "subject": "Hi", "text": "Hi"},
    ]

    first, again = (
        api.post("/api/v1/mail/send-batch", {"messages": items}, format="json", **KEY)
        for _ in range(2)
    )

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    answers = first.json()["data"]["messages"]
    assert answers[0]["to"] == "a\ufffdb@example.com"
    assert list(answers[1]["error"]["details"]) == ["x\ufffd"]
    assert [answer["status"] for answer in answers] == ["failed", "failed", "queued"]
    assert Message.objects.count() == 1


def test_a_nul_in_the_suppression_list_filter_is_a_400_not_a_500(api):
    response = api.get("/api/v1/suppressions", {"email": "a\x00b@example.com"})

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["email"]


def test_removing_an_address_with_a_nul_is_a_404_not_a_500(api):
    response = api.delete("/api/v1/suppressions/a%00b@example.com")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("page", ["²", "9" * 5000, "٣", "-1", "1.0", ""])
def test_a_page_number_that_int_cannot_read_or_that_is_out_of_range_is_a_400(api, page):
    response = api.get("/api/v1/suppressions", {"page": page})

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["page"]
