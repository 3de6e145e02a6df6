"""Suite 10: secrets at rest.

API keys (dashboard, command, service) and a provider of every kind (dashboard form and
add_provider command) are created with distinctive secret values, with every logger at
DEBUG and every SQL statement captured; then the dashboard, the admin and the API are
walked. No secret, nor its hex, base64 (at any alignment), URL-encoded or JSON form, may
appear in any table of the database, any SQL statement, any log record, or any page or
answer (except the one page that shows a new API key once). Rotating the encryption key
keeps every credential readable, and rotate_provider_secrets lets the old key go.
"""

import base64
import io
import json
import logging
import secrets as random_secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from api import webhook_sender
from api.models import ApiKey
from api.services import api_key_revoke, webhook_create
from providers import crypto, domains, kinds
from providers.crypto import CredentialsUnreadableError
from providers.models import DkimKey, Provider
from tests import factories
from tests.providers.esp_servers import ESP_KINDS, EspServer
from tests.security import figures
from tests.security.database import table_rows

pytestmark = pytest.mark.django_db

SUITE = "10 secrets at rest"
# Non-secret values the kinds require.
OPTIONS = {"region": "eu-west-1", "domain": "mg.example.com", "configuration_set": "cs-1"}
MAILGUN_REGION = "eu"
# aiosmtpd (the test SMTP sink, not MailPass) logs the SMTP conversation at DEBUG.
FOREIGN_LOGGERS = ("mail.log",)


def _secret(label: str) -> str:
    return f"S3cr3t-{label}-{random_secrets.token_hex(10)}"


def _webhook_secret(label: str) -> tuple[str, str]:
    """(user:password, password): both must stay hidden."""
    password = _secret(f"{label}-hookpw")
    return f"hookuser-{label}:{password}", password


@dataclass
class World:
    secrets: set[str] = field(default_factory=set)  # every secret value, in clear
    providers: list[Provider] = field(default_factory=list)
    api_keys: list[ApiKey] = field(default_factory=list)
    key_secrets: list[str] = field(default_factory=list)


def forms_of(secret: str) -> Iterator[str]:
    """The ways a secret could be written down: as is, hex, base64 (standard and
    URL-safe, at each of the 3 byte alignments it could have inside a longer encoded
    buffer), URL-encoded and JSON-escaped."""
    raw = secret.encode()
    yield secret
    yield raw.hex()
    yield raw.hex().upper()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for shift in range(3):
            # Once the secret starts on a 3-byte boundary its encoding is verbatim, except
            # the last group, which depends on what follows.
            yield encode(raw[shift:]).decode()[:-4]
    yield quote(secret, safe="")
    yield quote_plus(secret)
    yield json.dumps(secret)[1:-1]


def leaks(text: str, world: World) -> list[str]:
    """The secrets of `world` that `text` gives away, in any of their forms."""
    return sorted(
        secret for secret in world.secrets if any(form in text for form in forms_of(secret))
    )


# --- the world: keys and providers of every kind --------------------------------------------


def _kind_values(kind: str, world: World, label: str) -> dict[str, str]:
    """Form / command values for `kind`: distinctive secrets, the options it requires."""
    values: dict[str, str] = {}
    for kind_field in kinds.fields_for(kind):
        if kind_field.name == "webhook_secret":
            values["webhook_secret"], password = _webhook_secret(f"{label}-{kind}")
            world.secrets |= {values["webhook_secret"], password}
        elif kind_field.secret:
            values[kind_field.name] = _secret(f"{label}-{kind}-{kind_field.name}")
            world.secrets.add(values[kind_field.name])
        elif kind == "mailgun" and kind_field.name == "region":
            values["region"] = MAILGUN_REGION
        else:
            values[kind_field.name] = OPTIONS[kind_field.name]
    return values


def _create_through_the_dashboard(client: Client, world: World, sink_port: int) -> None:
    for kind in Provider.Kind.values:
        data = {"name": f"dashboard {kind}", "from_email": "sender@example.com"}
        data |= _kind_values(kind, world, "form")
        if kind == Provider.Kind.SMTP:
            data |= {"host": "127.0.0.1", "port": str(sink_port), "security": "none"}
            data |= {"username": "relay-user", "timeout": "5", "is_default": "on"}
        response = client.post(reverse("dashboard:provider-create") + f"?kind={kind}", data)
        assert response.status_code == 302, (kind, response.context["form"].errors)


def _create_through_the_command(username: str, world: World, sink_port: int) -> None:
    for kind in Provider.Kind.values:
        args = [username, "--kind", kind, "--name", f"command {kind}"]
        args += ["--from-email", "sender@example.com"]
        for name, value in _kind_values(kind, world, "cmd").items():
            args += ["--" + name.replace("_", "-"), value]
        if kind == Provider.Kind.SMTP:
            args += ["--host", "127.0.0.1", "--port", str(sink_port), "--security", "none"]
            args += ["--username", "relay-user"]
        out = io.StringIO()
        call_command("add_provider", *args, stdout=out)
        assert not leaks(out.getvalue(), world), out.getvalue()


def _create_keys(client: Client, account, username: str, world: World) -> None:
    # The dashboard shows a new key once, on the answer to its creation: the only page
    # a secret may be on.
    shown = client.post(
        reverse("dashboard:key-list"), {"name": "dashboard key", "permissions": ["mail"]}
    )
    assert shown.status_code == 200
    world.key_secrets.append(shown.context["new_secret"])
    out = io.StringIO()
    call_command(
        "create_api_key", username, "--name", "command key", stdout=out, stderr=io.StringIO()
    )
    world.key_secrets.append(out.getvalue().strip().splitlines()[-1])
    world.key_secrets.append(factories.make_api_key(account)[1])
    revoked, revoked_secret = factories.make_api_key(account)
    api_key_revoke(api_key=revoked)
    world.key_secrets.append(revoked_secret)
    world.secrets |= set(world.key_secrets)


@pytest.fixture
def all_logs(settings, caplog):
    """Every record down to DEBUG, as an operator's LOG_LEVEL=DEBUG would have them: the
    root and every logger at DEBUG, except the loggers the settings pin to a level of
    their own (django.request at ERROR), which keep it."""
    pinned = set(settings.LOGGING.get("loggers", {}))
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        if not name.startswith(tuple(pinned)):
            caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def all_sql() -> Iterator[CaptureQueriesContext]:
    """Every SQL statement, with its parameters, from the world's creation on."""
    with CaptureQueriesContext(connection) as queries:
        yield queries


@pytest.fixture
def world(settings, owner, account, relay_allowed, sink, all_logs, all_sql) -> World:
    world = World()
    # The instance relay (kind mailpass): its password is the operator's, in settings.
    relay_password = _secret("relay-password")
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_HOST_USER = "relay-user"
    settings.EMAIL_HOST_PASSWORD = relay_password
    settings.EMAIL_USE_TLS = False
    world.secrets.add(relay_password)
    client = Client()
    client.force_login(owner)
    _create_through_the_dashboard(client, world, sink.port)
    _create_through_the_command(owner.get_username(), world, sink.port)
    _create_keys(client, account, owner.get_username(), world)
    world.providers = list(Provider.objects.filter(account=account).order_by("pk"))
    world.api_keys = list(ApiKey.objects.filter(account=account))
    assert len(world.providers) == 2 * len(Provider.Kind.values)
    return world


# --- the dump, the pages, the answers --------------------------------------------------------


@pytest.fixture
def esp_fakes(settings, world: World) -> Iterator[list[EspServer]]:
    """A loopback fake of each ESP's API (MAILPASS_ESP_API_URLS), refusing every secret of
    the world with that ESP's authentication error."""
    servers = [EspServer(kind).start() for kind in ESP_KINDS]
    for server in servers:
        server.rejected |= world.secrets
    settings.MAILPASS_ESP_API_URLS = {server.kind: server.url for server in servers}
    yield servers
    for server in servers:
        server.stop()


def dump_database() -> dict[str, str]:
    """Every row of every table of the test database, as text, by table."""
    dump = {table: "\n".join(rows) for table, rows in table_rows().items()}
    assert "providers_provider" in dump and "api_apikey" in dump
    return dump


def _dashboard_pages(client: Client, world: World) -> Iterator[tuple[str, object]]:
    """(label, response) for every dashboard page that concerns providers and keys,
    including forms re-rendered with errors right after secrets were typed into them."""
    for name in (
        "overview",
        "provider-list",
        "key-list",
        "message-list",
        "docs",
        "account-settings",
    ):
        yield name, client.get(reverse(f"dashboard:{name}"))
    for kind in Provider.Kind.values:
        yield f"new {kind} form", client.get(reverse("dashboard:provider-create") + f"?kind={kind}")
        typed = _kind_values(kind, world, "typed-on-create")
        yield (
            f"failed create {kind}",
            client.post(
                reverse("dashboard:provider-create") + f"?kind={kind}", {"name": "", **typed}
            ),
        )
    for provider in world.providers:
        edit = reverse("dashboard:provider-update", args=[provider.pk])
        yield f"edit {provider.name}", client.get(edit)
        typed = _kind_values(provider.kind, world, "typed-on-edit")
        yield f"failed edit {provider.name}", client.post(edit, {"name": "", **typed})
        yield (
            f"delete {provider.name}",
            client.get(reverse("dashboard:provider-delete", args=[provider.pk])),
        )
    yield from _provider_checks(client, world)


def _provider_checks(client: Client, world: World) -> Iterator[tuple[str, object]]:
    """A connection test and a test email through every provider, each refused (the SMTP
    sink offers no AUTH; the ESP fakes reject every key of the world), so every error path
    runs; then the page that shows their flash messages. Neither the messages nor the test
    emails' rows in the message log may carry a credential."""
    for provider in world.providers:
        test = reverse("dashboard:provider-test-connection", args=[provider.pk])
        yield f"connection test {provider.name}", client.post(test)
        test_email = reverse("dashboard:provider-test-email", args=[provider.pk])
        yield f"test email {provider.name}", client.post(test_email, {"to_email": "r@example.com"})
    shown = client.get(reverse("dashboard:provider-list"))
    assert shown.content.decode().count("note error") >= 2 * len(world.providers)
    yield "the flash messages of the tests", shown
    for api_key in world.api_keys:
        yield (
            f"revoke {api_key.name}",
            client.get(reverse("dashboard:key-revoke", args=[api_key.pk])),
        )


def _admin_pages(client: Client, world: World) -> Iterator[tuple[str, object]]:
    yield "admin providers", client.get("/admin/providers/provider/")
    yield "admin api keys", client.get("/admin/api/apikey/")
    yield "admin accounts", client.get("/admin/accounts/account/")
    for provider in world.providers:
        yield (
            f"admin {provider.name}",
            client.get(f"/admin/providers/provider/{provider.pk}/change/"),
        )
    for api_key in world.api_keys:
        yield f"admin key {api_key.name}", client.get(f"/admin/api/apikey/{api_key.pk}/change/")
    account = world.providers[0].account
    yield "admin account", client.get(f"/admin/accounts/account/{account.pk}/change/")


def _api_answers(world: World) -> Iterator[tuple[str, object]]:
    live = world.key_secrets[2]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {live}")
    sent = api.post(
        "/api/v1/mail/send",
        {"to": "user@example.com", "subject": "Hi", "text": "x", "from_email": "a@example.com"},
        format="json",
    )
    yield "send (the smtp login fails)", sent
    message_id = sent.json()["error"]["details"].get("message_id", "unknown")
    yield "status", api.get(f"/api/v1/mail/status/{message_id}")
    yield "suppressions", api.get("/api/v1/suppressions")
    yield "health", api.get("/api/v1/health")
    yield "schema", api.get("/api/schema/")
    for label, header in [
        ("a key with a character more", f"Bearer {live}x"),
        ("a revoked key", f"Bearer {world.key_secrets[3]}"),
        ("a key as basic auth", "Basic " + base64.b64encode(f"{live}:".encode()).decode()),
        ("a key without its scheme", live),
    ]:
        stranger = APIClient()
        stranger.credentials(HTTP_AUTHORIZATION=header)
        yield f"401 for {label}", stranger.get("/api/v1/suppressions")


def _text(response) -> str:
    parts = [response.content.decode(errors="replace")]
    parts += [f"{name}: {value}" for name, value in response.items()]
    parts += [f"cookie {morsel.key}={morsel.value}" for morsel in response.cookies.values()]
    return "\n".join(parts)


def _superuser_client() -> Client:
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    client = Client()
    client.force_login(admin)
    return client


def test_no_secret_is_in_the_database_a_page_an_answer_or_the_sql(owner, world, esp_fakes, all_sql):
    client = Client()
    client.force_login(owner)
    failures: list[tuple[str, object]] = []
    cases = 0
    answers = [
        *_dashboard_pages(client, world),
        *_admin_pages(_superuser_client(), world),
        *_api_answers(world),
    ]
    for label, response in answers:
        cases += 1
        if response.status_code >= 500 and not label.startswith("send"):
            failures.append((label, response.status_code))
        if found := leaks(_text(response), world):
            failures.append((label, found))
    for table, rows in dump_database().items():
        cases += 1
        if found := leaks(rows, world):
            failures.append((f"table {table}", found))
    cases += 1  # the SQL statements, all at once
    sql = "\n".join(query["sql"] for query in all_sql.captured_queries)
    if found := leaks(sql, world):
        failures.append(("SQL statements", found))
    figures.check(SUITE, cases=cases, failures=failures)


def test_no_secret_is_logged_even_at_debug(owner, world, esp_fakes, all_logs):
    """Creating everything (the world fixture), a connection test and a test email through
    every provider (each refused, so every error path runs) and the API answers."""
    client = Client()
    client.force_login(owner)
    cases = len([*_provider_checks(client, world), *_api_answers(world)])
    failures: list[tuple[str, object]] = []
    for record in all_logs.records:
        if record.name.startswith(FOREIGN_LOGGERS):
            continue
        text = f"{record.getMessage()}\n{record.exc_text or ''}\n{record.__dict__!r}"
        if found := leaks(text, world):
            failures.append((f"log {record.name}: {record.getMessage()[:80]}", found))
    figures.check(f"{SUITE} (logs at DEBUG)", cases=cases, failures=failures)


def test_the_suite_would_see_a_secret_written_in_clear(world):
    """The checks above are not vacuous: a secret in a table, in base64 or hex is found."""
    provider = world.providers[0]
    secret = next(iter(sorted(world.secrets)))
    for written in (
        secret,
        base64.b64encode(b"xy" + secret.encode()).decode(),
        secret.encode().hex(),
    ):
        Provider.objects.filter(pk=provider.pk).update(from_name=written[:200])
        found = [table for table, rows in dump_database().items() if leaks(rows, world)]
        assert found == ["providers_provider"], written


# --- rotation ------------------------------------------------------------------------------


def _readable(providers: list[Provider]) -> dict[int, dict[str, str]]:
    return {p.pk: Provider.objects.get(pk=p.pk).credentials for p in providers}


def test_rotating_the_encryption_key_keeps_every_credential_readable(
    settings, owner, relay_allowed, sink
):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.MAILPASS_ENCRYPTION_KEYS = [old]
    settings.EMAIL_HOST = "127.0.0.1"
    world = World()
    _create_through_the_command(owner.get_username(), world, sink.port)
    providers = list(Provider.objects.exclude(credentials_encrypted=""))
    before = _readable(providers)
    stored_before = dict(Provider.objects.values_list("pk", "credentials_encrypted"))
    domain = domains.domain_create(account=providers[0].account, name="example.com", ed25519=True)
    pems = {key.pk: key.private_key_pem for key in domain.keys.all()}
    failures: list[object] = []

    settings.MAILPASS_ENCRYPTION_KEYS = [new, old]
    failures += [("new, old", pk) for pk, c in _readable(providers).items() if c != before[pk]]
    out = io.StringIO()
    call_command("rotate_provider_secrets", stdout=out)
    settings.MAILPASS_ENCRYPTION_KEYS = [new]
    failures += [("new only", pk) for pk, c in _readable(providers).items() if c != before[pk]]
    failures += [
        ("DKIM key, new only", key.pk)
        for key in DkimKey.objects.all()
        if key.private_key_pem != pems[key.pk]
    ]
    settings.MAILPASS_ENCRYPTION_KEYS = [old]
    for provider in providers:
        try:
            Provider.objects.get(pk=provider.pk).credentials  # noqa: B018
        except CredentialsUnreadableError:
            continue
        failures.append(("old only, still readable", provider.pk))

    figures.check(SUITE, cases=3 * len(providers), failures=failures)
    assert len(providers) == len(Provider.Kind.values) - 1  # the instance relay has none
    assert out.getvalue().strip() == (
        f"Re-encrypted the credentials of {len(providers)} provider(s) and 2 DKIM private "
        "key(s) with the newest key."
    )
    stored_after = dict(Provider.objects.values_list("pk", "credentials_encrypted"))
    assert [p.kind for p in providers if stored_after[p.pk] == stored_before[p.pk]] == []
    assert not leaks("\n".join(dump_database().values()), world)


def test_rotation_names_the_providers_no_key_can_read_and_rotates_the_others(settings, account):
    old, new, lost = (Fernet.generate_key().decode() for _ in range(3))
    settings.MAILPASS_ENCRYPTION_KEYS = [lost]
    orphan = factories.make_provider(account, port=2525, credentials={"password": "p1"})
    settings.MAILPASS_ENCRYPTION_KEYS = [old]
    kept = factories.make_provider(
        account, port=2525, credentials={"password": "p2"}, is_default=False
    )
    settings.MAILPASS_ENCRYPTION_KEYS = [new, old]

    with pytest.raises(CommandError, match=f"#{orphan.pk}"):
        call_command("rotate_provider_secrets", stdout=io.StringIO())

    settings.MAILPASS_ENCRYPTION_KEYS = [new]
    assert Provider.objects.get(pk=kept.pk).credentials == {"password": "p2"}


def test_rotation_leaves_a_provider_edited_meanwhile_as_it_was_edited(
    settings, account, monkeypatch
):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.MAILPASS_ENCRYPTION_KEYS = [old]
    provider = factories.make_provider(account, port=2525, credentials={"password": "before"})
    settings.MAILPASS_ENCRYPTION_KEYS = [new, old]
    reencrypt = crypto.reencrypt

    def edited_meanwhile(token: str) -> str:
        rotated = reencrypt(token)
        edit = Provider.objects.get(pk=provider.pk)
        edit.credentials = {"password": "after"}  # a dashboard edit between read and write
        edit.save()
        return rotated

    monkeypatch.setattr(crypto, "reencrypt", edited_meanwhile)
    call_command("rotate_provider_secrets", stdout=io.StringIO())

    settings.MAILPASS_ENCRYPTION_KEYS = [new]
    assert Provider.objects.get(pk=provider.pk).credentials == {"password": "after"}


def test_webhook_signing_secrets_are_encrypted_and_survive_a_key_rotation(settings, account):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.MAILPASS_ENCRYPTION_KEYS = [old]
    endpoint, secret = webhook_create(account=account, url="https://hooks.example.com/in")
    stored = dump_database()
    failures = [table for table, rows in stored.items() if secret in rows or secret[6:] in rows]

    settings.MAILPASS_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("rotate_webhook_secrets", stdout=out)
    settings.MAILPASS_ENCRYPTION_KEYS = [new]
    endpoint.refresh_from_db()
    at = timezone.now()
    signed = webhook_sender.signature_header(endpoint, "msg_1", at, "{}")
    expected = Webhook(secret).sign("msg_1", at, "{}")
    if signed != expected:
        failures.append("the rotated secret signs differently")

    figures.check(SUITE, cases=2, failures=failures)
    assert "1 webhook endpoint(s)" in out.getvalue()
