"""Suite "SSRF": a tenant's provider can never make MailPass connect inside its network.

SMTP hosts that are, or resolve to, loopback, private, link-local, multicast, reserved or
cloud-metadata addresses, in every spelling the C resolver understands (decimal, hex and
octal IPv4, IPv4-mapped/compatible/NAT64/6to4 IPv6, brackets, trailing dots, IDN, the
localhost names) and through DNS names (answered by a fake resolver: no test here asks a
real DNS server), are refused when the provider is saved and again when it connects,
unless the operator allows private hosts. The name is resolved once at connect time and
the socket goes to the address that was checked, so an answer that changes between the
check and the connection (DNS rebinding) reaches nothing. ESP providers cannot point their
API anywhere: only the operator's MAILPASS_ESP_API_URLS can. Webhook endpoint URLs follow
the same rules when saved and again when each event is posted, and a redirect is never
followed.

The conftest's socket guard fails any test that tries an address beyond loopback; tests
here that need a "public" server get a fake network that refuses it (PUBLIC_IP).
"""

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.urls import reverse
from rest_framework.test import APIClient

from api import webhook_sender
from api.models import Message, WebhookEndpoint
from api.services import webhooks
from providers import domains
from providers.connections import api_url_for, open_for
from providers.delivery import Outcome
from providers.kinds import spec_for
from providers.models import Provider
from providers.services import provider_create, provider_test_connection, provider_update
from tests import factories
from tests.providers.esp_servers import ESP_KINDS, EspServer, esp_values
from tests.security import figures
from tests.security.ssrf_dns import FakeDns, install
from tests.sending import deliver_via
from tests.webhook_receiver import Reply, WebhookReceiver

pytestmark = pytest.mark.django_db

SUITE = "05 SSRF"
PUBLIC_IP = "93.184.216.34"  # stands for any public server; the fake network refuses it
CYRILLIC_MAIL = "m\u0430il.test"  # "mail.test" with a Cyrillic a: xn--mil-6cd.test


def fullwidth(text: str) -> str:
    """`text` in full-width forms (U+FF10…), which IDNA folds back to ASCII."""
    return "".join(chr(ord(c) + 0xFEE0) if c != "." else c for c in text)


# Names the fake DNS answers (keys as the resolver sees them: IDNA, lower case).
DNS = {
    "private.test": ["10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "loop.test": ["127.0.0.1"],
    "loop6.test": ["::1"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "multi.test": [PUBLIC_IP, "10.0.0.1"],
    "multi6.test": ["2606:4700:4700::1111", "fd00::1"],
    "last.test": ["8.8.8.8", "1.1.1.1", "127.0.0.1"],
    "nat64.test": ["64:ff9b::a9fe:a9fe"],
    "cgnat.test": ["100.64.1.1"],
    "broadcast.test": ["255.255.255.255"],
    "multicast.test": ["224.0.0.251"],
    "linklocal6.test": ["fe80::1"],
    "ula.test": ["fd12:3456::1"],
    "aws6.test": ["fd00:ec2::254"],
    "xn--mil-6cd.test": ["127.0.0.1"],  # CYRILLIC_MAIL
    "public.test": [PUBLIC_IP],
    "public6.test": ["2606:4700:4700::1111"],
    "smtp.example.test": [PUBLIC_IP],
}

REFUSED = [
    # IPv4 literals of every class that is not globally reachable
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.0.1",
    "192.168.255.255",
    "100.64.0.1",
    "100.127.255.254",
    "169.254.169.254",
    "169.254.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.0.8",
    "192.0.0.170",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.1",
    "203.0.113.1",
    # the same, spelled as inet_aton() (and so getaddrinfo) reads them
    "2130706433",
    "0x7f000001",
    "0X7F000001",
    "0177.0.0.1",
    "0177.0000.0000.0001",
    "127.1",
    "127.0.1",
    "0x7f.1",
    "017700000001",
    "0xa9fea9fe",
    "2852039166",
    "0xA9.0xFE.0xA9.0xFE",
    "0251.0376.0251.0376",
    "10.1",
    "167772161",
    "0",
    "127.0.0.1.",
    fullwidth("127.0.0.1"),
    "127。0。0。1",
    # IPv6 literals, bracketed or not, and IPv6 forms that carry a private IPv4 address
    "::1",
    "[::1]",
    "0:0:0:0:0:0:0:1",
    "::",
    "[::]",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "[::ffff:127.0.0.1]",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:a9fe:a9fe",
    "::ffff:0.0.0.0",
    "::127.0.0.1",
    "::7f00:1",
    "::10.0.0.1",
    "64:ff9b::7f00:1",
    "64:ff9b::127.0.0.1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::10.0.0.1",
    "64:ff9b:1::a00:1",
    "2002:7f00:1::1",
    "2002:a00:1::1",
    "2002:a9fe:a9fe::1",
    "2002:c0a8:101::1",
    "fe80::1",
    "fe80::1%1",
    "fc00::1",
    "fd00::1",
    "fd00:ec2::254",
    "ff02::1",
    "ff05::1:3",
    "ff0e::1",
    "fec0::1",
    "2001:db8::1",
    "2001::1",
    "2001:2::1",
    "100::1",
    "5f00::1",
    "3fff::1",
    # names of this machine, however written
    "localhost",
    "LOCALHOST",
    "localhost.",
    "LOCALHOST.",
    "foo.localhost",
    "a.b.localhost",
    "FOO.LOCALHOST.",
    fullwidth("localhost"),
    "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ",
    "localhost。",
    # DNS names whose answer (or one of whose answers) is not public
    "private.test",
    "metadata.test",
    "loop.test",
    "LOOP.TEST.",
    "loop6.test",
    "mapped.test",
    "multi.test",
    "multi6.test",
    "last.test",
    "nat64.test",
    "cgnat.test",
    "broadcast.test",
    "multicast.test",
    "linklocal6.test",
    "ula.test",
    "aws6.test",
    CYRILLIC_MAIL,
    # not a host name at all
    "x" * 64 + ".test",
    "a..test",
]

# Public hosts, and the one address a connection to each may go to.
ALLOWED = {
    PUBLIC_IP: PUBLIC_IP,
    "8.8.8.8": "8.8.8.8",
    "1.1.1.1": "1.1.1.1",
    "2606:4700:4700::1111": "2606:4700:4700::1111",
    "::ffff:8.8.8.8": "::ffff:8.8.8.8",
    "64:ff9b::808:808": "64:ff9b::808:808",
    "2002:808:808::1": "2002:808:808::1",
    "public.test": PUBLIC_IP,
    "PUBLIC.TEST.": PUBLIC_IP,
    "public6.test": "2606:4700:4700::1111",
    f"smtp.{fullwidth('EXAMPLE')}.test": PUBLIC_IP,
}

# With MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS on, these all reach the loopback sink: proof that
# each spelling really means 127.0.0.1, and that the pinned connection uses what it resolved.
LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "0x7f.1",
    "017700000001",
    "127.0.0.1.",
    fullwidth("127.0.0.1"),
    "127。0。0。1",
    "loop.test",
    "LOOP.TEST.",
    CYRILLIC_MAIL,
    "localhost",
]

REFUSAL_WORDS = ("private or reserved address", "not a valid host name")


def is_refusal(text: str) -> bool:
    return any(words in text for words in REFUSAL_WORDS)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = install(monkeypatch)
    fake.answers.update(DNS)
    return fake


@pytest.fixture
def strict(settings):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False
    return settings


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Every (address, port) a socket tried to connect to during the test. Loopback goes
    on as usual; the fake network refuses everything else, as an unreachable server would
    (so a test may try a public address without the conftest's guard failing it)."""
    seen: list[tuple[str, int]] = []
    guarded = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            seen.append((address[0], address[1]))
            if address[0] not in ("127.0.0.1", "::1"):
                raise ConnectionRefusedError(f"(fake network) {address[0]} refused")
        guarded(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield seen


def email() -> EmailMessage:
    return EmailMessage("Hi", "Body", "sender@example.com", ["rcpt@example.com"])


def smtp_row(account, host: str, port: int, **fields: Any) -> Provider:
    """A provider row as if it had been saved when its host was allowed (DNS said so then,
    or an operator wrote it): no save-time check runs."""
    values: dict[str, Any] = {
        "name": "Row",
        "host": host,
        "port": port,
        "security": Provider.Security.NONE,
        "timeout": 2,
        "from_email": "sender@example.com",
    }
    values.update(fields)
    return Provider.objects.create(account=account, **values)


def host_error(create: Any) -> str | None:
    """The host error a save raised, "" for another error, None when it saved."""
    try:
        create()
    except ValidationError as err:
        return " ".join(err.message_dict.get("host", [""]))
    return None


def test_every_hostile_host_is_refused_when_a_provider_is_saved(owner_client, strict, dns, account):
    public = factories.make_provider(account, host=PUBLIC_IP, port=25, is_default=False)
    create_url = reverse("dashboard:provider-create") + "?kind=smtp"
    form = {"name": "Relay", "port": "2525", "security": "none", "timeout": "5"}
    failures: list[str] = []
    cases = 0
    for host in REFUSED:
        cases += 1
        error = host_error(
            lambda host=host: factories.make_provider(account, host=host, port=25, name="New")
        )
        if error is None or not is_refusal(error):
            failures.append(f"provider_create({host!r}): {error!r}")
        cases += 1
        error = host_error(lambda host=host: provider_update(provider=public, host=host))
        public.refresh_from_db()
        if error is None or not is_refusal(error) or public.host != PUBLIC_IP:
            failures.append(f"provider_update({host!r}): {error!r}, stored {public.host!r}")
        cases += 1
        response = owner_client.post(create_url, {**form, "host": host})
        errors = response.context["form"].errors.get("host", []) if response.context else []
        if response.status_code != 200 or not is_refusal(" ".join(errors)):
            failures.append(f"dashboard add({host!r}): {response.status_code} {errors}")
    saved = list(Provider.objects.exclude(pk=public.pk).values_list("host", flat=True))
    if saved:
        failures.append(f"saved anyway: {saved}")

    figures.check(SUITE, cases=cases, failures=failures)


def test_every_hostile_host_is_refused_again_when_it_connects(strict, dns, account, sink, connects):
    failures: list[str] = []
    cases = 0
    for host in REFUSED:
        provider = smtp_row(account, host, sink.port)
        cases += 1
        results = list(deliver_via(provider, [email()]))
        if [r.outcome for r in results] != [Outcome.FAILED] or not is_refusal(
            results[0].error_text
        ):
            failures.append(f"deliver_via({host!r}): {results}")
        cases += 1
        ok, message = provider_test_connection(provider)
        if ok or not is_refusal(message):
            failures.append(f"test connection({host!r}): {ok} {message!r}")
    if connects:
        failures.append(f"sockets opened: {connects}")
    if sink.received:
        failures.append(f"the sink got {len(sink.received)} messages")

    figures.check(SUITE, cases=cases, failures=failures)


def test_public_hosts_are_saved_and_connected_to_at_the_address_checked(
    strict, dns, account, connects
):
    failures: list[str] = []
    cases = 0
    for host, address in ALLOWED.items():
        cases += 1
        try:
            provider = factories.make_provider(account, host=host, port=2525, is_default=False)
        except ValidationError as err:
            failures.append(f"provider_create({host!r}) refused: {err.message_dict}")
            continue
        cases += 1
        connects.clear()
        [result] = deliver_via(provider, [email()])
        # The fake network refuses every public address: a retry, after connecting to the
        # address checked and nothing else.
        if result.outcome is not Outcome.RETRY or {a for a, _ in connects} != {address}:
            failures.append(f"deliver_via({host!r}): {result}, connected to {connects}")

    figures.check(SUITE, cases=cases, failures=failures)


def test_the_operator_switch_allows_private_hosts_and_each_spelling_reaches_loopback(
    settings, dns, account, sink
):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = True
    failures: list[str] = []
    cases = 0
    for host in REFUSED:
        cases += 1
        error = host_error(
            lambda host=host: factories.make_provider(account, host=host, port=25, name="New")
        )
        if error is not None:
            failures.append(f"provider_create({host!r}) refused with the switch on: {error!r}")
    for host in LOOPBACK_SPELLINGS:
        cases += 1
        sink.handler.reset()
        provider = smtp_row(account, host, sink.port)
        results = list(deliver_via(provider, [email()]))
        if [r.outcome for r in results] != [Outcome.SENT] or len(sink.received) != 1:
            failures.append(f"deliver_via({host!r}) with the switch on: {results}")

    figures.check(SUITE, cases=cases, failures=failures)


@pytest.mark.parametrize("entry", ["api send", "test connection"])
def test_a_name_that_rebinds_to_loopback_after_the_check_reaches_nothing(
    strict, dns, account, api, sink, connects, entry
):
    # "rebind.test" answers a public address to its first `public_answers` lookups, then
    # 127.0.0.1 (the sink). Whichever lookup the attacker switches at, no socket may open
    # to a private address: the check and the connection use the same answer.
    failures: list[str] = []
    cases = 0
    for public_answers in range(5):
        dns.sequence("rebind.test", *([[PUBLIC_IP]] * public_answers), ["127.0.0.1"])
        Provider.objects.filter(account=account).delete()
        provider = smtp_row(account, "rebind.test", sink.port, is_default=True)
        connects.clear()
        cases += 1
        if entry == "api send":
            response = api.post(
                "/api/v1/mail/send",
                {"to": "rcpt@example.com", "subject": "Hi", "text": "Body"},
                format="json",
            )
            status = Message.objects.filter(account=account).latest("pk").status
            outcome = f"{response.status_code} {status} {response.json().get('error')}"
            sent = status == Message.Status.SENT
        else:
            ok, outcome = provider_test_connection(provider)
            sent = ok
        private = [(a, p) for a, p in connects if a != PUBLIC_IP]
        if sent or private or sink.received:
            failures.append(
                f"{public_answers} public answers: {outcome}; sockets to {private}, "
                f"{len(sink.received)} received"
            )
        elif connects == [] and not is_refusal(outcome):
            failures.append(f"{public_answers} public answers: unclear refusal {outcome!r}")

    figures.check(SUITE, cases=cases, failures=failures)


def test_a_rebinding_name_is_refused_at_connect_with_a_clear_error(strict, dns, account, sink):
    # Public when saved and when the connection is built; 127.0.0.1 when it connects.
    dns.sequence("rebind.test", [PUBLIC_IP], [PUBLIC_IP], ["127.0.0.1"])
    provider = factories.make_provider(account, host="rebind.test", port=sink.port)

    [result] = deliver_via(provider, [email()])

    figures.record(SUITE, cases=1, failures=0 if result.outcome is Outcome.FAILED else 1)
    assert result.outcome is Outcome.FAILED
    assert result.error_text == (
        "provider misconfigured: 'rebind.test' resolves to a private or reserved address "
        "(127.0.0.1)"
    )
    assert sink.received == []
    assert dns.lookups == ["rebind.test"] * 3  # saved, built, connected: nothing after


def test_a_name_with_one_private_answer_among_public_ones_is_refused_at_connect(
    strict, dns, account, sink, connects
):
    dns.sequence("multi.test", [PUBLIC_IP], [PUBLIC_IP], [PUBLIC_IP, "127.0.0.1"])
    provider = factories.make_provider(account, host="multi.test", port=sink.port)

    [result] = deliver_via(provider, [email()])

    figures.record(SUITE, cases=1, failures=0 if result.outcome is Outcome.FAILED else 1)
    assert result.outcome is Outcome.FAILED
    assert "private or reserved address (127.0.0.1)" in result.error_text
    assert connects == []


# Keys a hostile provider row might carry, hoping some layer reads a URL or host from it.
HOSTILE_KEYS = ("api_url", "endpoint_url", "url", "base_url", "host", "api_host", "server")

# Values of the options ESPs do read, aimed at the internal network. Each is refused when
# saved, or stays inside the ESP's own API (a path segment, a region name).
HOSTILE_OPTIONS = {
    "amazon_ses": [
        {"region": "169.254.169.254"},
        {"region": "eu-west-1.169.254.169.254.nip.io"},
        {"region": "eu-west-1/../"},
        {"region": "127.0.0.1:8080#"},
        {"region": "eu-west-1 "},
    ],
    "mailgun": [
        {"domain": "127.0.0.1:9999"},
        {"domain": "mg.example.com/../../admin"},
        {"domain": "evil.test#"},
        {"domain": "mg.example.com@169.254.169.254"},
        {"domain": "mg.example.com?x="},
        {"domain": "169.254.169.254"},
        {"region": "http://127.0.0.1/"},
    ],
}


def test_an_esp_provider_cannot_point_its_api_anywhere(settings, account):
    failures: list[str] = []
    cases = 0
    servers: list[EspServer] = []
    try:
        for kind in ESP_KINDS:
            esp, canary = EspServer(kind).start(), EspServer(kind).start()
            servers += [esp, canary]
            hostile = dict.fromkeys(HOSTILE_KEYS, canary.url)
            values = esp_values(kind, "good-key")
            settings.MAILPASS_ESP_API_URLS = {}
            provider = provider_create(
                account=account,
                name=kind,
                kind=kind,
                credentials={**values["credentials"], **hostile},
                options={**values["options"], **hostile},
                host="127.0.0.1",
                port=canary._server.server_address[1],
                from_email="sender@example.com",
            )
            cases += 1
            if api_url_for(provider) != spec_for(kind).api_url:
                failures.append(f"{kind}: API at {api_url_for(provider)!r}")
            cases += 1
            backend_values = repr(vars(open_for(provider)))
            if canary.url in backend_values or str(canary._server.server_address[1]) in (
                backend_values
            ):
                failures.append(f"{kind}: the backend carries the row's URL")
            # The operator's setting is the only way to move the API: to the fake ESP here.
            settings.MAILPASS_ESP_API_URLS = {kind: esp.url}
            cases += 1
            [result] = deliver_via(provider, [email()])
            if result.outcome is not Outcome.SENT or not esp.requests:
                failures.append(f"{kind}: send {result}")
            cases += 1
            ok, message = provider_test_connection(provider)
            if not ok:
                failures.append(f"{kind}: test connection {message!r}")
            for options in HOSTILE_OPTIONS.get(kind, []):
                cases += 1
                try:
                    provider_update(provider=provider, options={**values["options"], **options})
                except ValidationError:
                    continue  # refused when saved
                list(deliver_via(provider, [email()]))
                provider_test_connection(provider)
            if canary.requests:
                failures.append(f"{kind}: the row's URL got {len(canary.requests)} requests")
    finally:
        for server in servers:
            server.stop()

    figures.check(SUITE, cases=cases, failures=failures)


def test_the_socket_guard_fails_a_test_that_connects_beyond_loopback(loopback_only):
    with pytest.raises(ConnectionRefusedError, match="loopback only"):
        socket.create_connection(("192.0.2.1", 25), timeout=1)
    with socket.socket() as sock:
        assert sock.connect_ex(("198.51.100.7", 25)) != 0

    assert loopback_only == [("192.0.2.1", 25), ("198.51.100.7", 25)]
    loopback_only.clear()  # seen: this test must not fail for it


def test_the_socket_guard_lets_loopback_and_unix_sockets_through(sink, tmp_path):
    with socket.create_connection(("127.0.0.1", sink.port), timeout=2) as sock:
        assert sock.recv(3) == b"220"
    path = str(tmp_path / "guard.sock")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.connect(path)


# --- Outbound webhooks: the customer's endpoint URL is a server-side request too ------------


def webhook_url(host: str, port: int = 443, scheme: str = "https") -> str:
    bare = ":" in host and not host.startswith("[")
    return f"{scheme}://{'[' + host + ']' if bare else host}:{port}/hooks"


def test_every_hostile_host_is_refused_when_a_webhook_endpoint_is_saved(strict, dns, account):
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION="Bearer "
        + factories.make_api_key(account, permissions=["mail", "webhooks"])[1]
    )
    failures: list[str] = []
    for host in REFUSED:
        response = api.post("/api/v1/webhooks", {"url": webhook_url(host)}, format="json")
        if response.status_code != 400 or "url" not in response.json()["error"]["details"]:
            failures.append(f"{host!r}: {response.status_code} {response.json()}")
    for host in ALLOWED:
        if problem := webhooks.url_problem(webhook_url(host)):
            failures.append(f"{host!r} (public) refused: {problem}")
    # Plain http:// only where private hosts are allowed, whatever the host.
    for host in ("public.test", PUBLIC_IP):
        if not webhooks.url_problem(webhook_url(host, 80, "http")):
            failures.append(f"http://{host} accepted in production")

    figures.check(SUITE, cases=len(REFUSED) + len(ALLOWED) + 2, failures=failures)
    assert not WebhookEndpoint.objects.exists()


def test_every_hostile_host_is_refused_again_when_a_webhook_is_posted(strict, dns, connects):
    # A row saved while the host was allowed (DNS said so then): the POST checks again.
    failures: list[str] = []
    for host in REFUSED:
        connects.clear()
        answer = webhook_sender.post(webhook_request(webhook_url(host, 8080)))
        private = [address for address, _ in connects if address != PUBLIC_IP]
        if answer.ok or private or not answer.error.startswith(("Refused", "DNS")):
            failures.append(f"{host!r}: {answer.error!r}, sockets to {private}")

    figures.check(SUITE, cases=len(REFUSED), failures=failures)


def webhook_request(url: str) -> webhook_sender.Request:
    return webhook_sender.Request(1, url, {"webhook-id": "msg_ssrf"}, b"{}")


def test_a_webhook_host_that_rebinds_to_loopback_after_the_check_reaches_nothing(
    strict, dns, connects
):
    failures: list[str] = []
    with WebhookReceiver() as receiver:
        for public_answers in range(4):
            dns.sequence("rebind.test", *([[PUBLIC_IP]] * public_answers), ["127.0.0.1"])
            url = webhook_url("rebind.test", receiver.port)
            saved = webhooks.url_problem(url) is None
            connects.clear()
            answer = webhook_sender.post(webhook_request(url))
            private = [address for address, _ in connects if address != PUBLIC_IP]
            if answer.ok or private or receiver.requests:
                failures.append(
                    f"{public_answers} public answers (saved: {saved}): {answer.error!r}, "
                    f"sockets to {private}, {len(receiver.requests)} received"
                )

    figures.check(SUITE, cases=4, failures=failures)


def test_a_webhook_redirect_is_never_followed(account):
    # Private hosts allowed (development): even so, a 3xx is a failure and where it
    # points (an internal service) is never asked.
    with (
        WebhookReceiver() as internal,
        WebhookReceiver(script=[Reply(status=307, headers={"Location": internal.url})]) as endpoint,
    ):
        answer = webhook_sender.post(webhook_request(endpoint.url))

    figures.record(SUITE, cases=1, failures=0 if not internal.requests else 1)
    assert not answer.ok and answer.status == 307 and "not followed" in answer.error
    assert internal.requests == [] and len(endpoint.requests) == 1


def test_a_domain_check_asks_only_the_configured_dns_whatever_its_records_name(
    account, dns_server, connects, settings
):
    # A sender domain's owner writes its SPF record: hosts in it are names to look up on
    # the operator's resolver, never addresses to connect to, and the walk stops at 10.
    settings.MAILPASS_SPF_INCLUDE = "include:relay.mailpass.test"
    domain = domains.domain_create(account=account, name="hostile.example")
    dns_server.publish_all(r for r in domains.records_of(domain) if r["purpose"] != "spf")
    hostile = ["127.0.0.1", "169.254.169.254", "[::1]", "localhost", "metadata.test",
               f"{PUBLIC_IP}:25", "%{i}.evil.example", "10.0.0.5/8"]  # fmt: skip
    terms = [f"include:{host}" for host in hostile] + [f"a:{host}" for host in hostile]
    terms += [f"exists:{host}" for host in hostile] + ["redirect=chain0.example"]
    dns_server.publish("hostile.example", "v=spf1 " + " ".join(terms) + " ~all")
    for n in range(30):
        dns_server.publish(f"chain{n}.example", f"v=spf1 include:chain{n + 1}.example -all")

    domain = domains.domain_verify(domain)

    spf = next(r for r in domains.records_of(domain) if r["purpose"] == "spf")
    failures = [] if spf["status"] == "failed" and spf["detail"] else [f"SPF: {spf}"]
    asked_spf = [name for name, _ in dns_server.questions if not name.startswith(("mp", "_"))]
    if len(asked_spf) > 11:
        failures.append(f"{len(asked_spf)} SPF lookups")
    failures += [f"connected to {address}" for address in connects if address[1] != dns_server.port]
    figures.check(SUITE, cases=len(terms) + 1, failures=failures)
