"""Suite 11, safe by default: "Test connection" is no port scanner (issue 11, finding 8).

It reached any port, told open, closed and filtered apart, echoed what answered (an SSH
version string) and showed every tenant the relay's host, port and login. Now a tenant's
SMTP provider may use the mail ports only (MAILPASS_SMTP_PORTS), a failed test says what
kind of failure it was in a few plain words, never the server's, the relay shows nothing of
itself, and an account gets MAILPASS_PROVIDER_TEST_LIMIT tests an hour.
"""

import socket
import threading
from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError

from providers.models import Provider
from providers.services import provider_create, provider_test_connection
from tests import factories
from tests.security import figures

pytestmark = pytest.mark.django_db

SUITE = "11 safe defaults: connection test"
BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"


class BannerServer:
    """A loopback service that is not SMTP: it greets every connection with `banner` (or
    says nothing at all) and keeps it open."""

    def __init__(self, banner: bytes) -> None:
        self.banner = banner
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            if self.banner:
                conn.sendall(self.banner)

    def __enter__(self) -> "BannerServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def ssh_like() -> Iterator[BannerServer]:
    with BannerServer(BANNER) as server:
        yield server


@pytest.fixture
def silent() -> Iterator[BannerServer]:
    with BannerServer(b"") as server:
        yield server


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_provider_may_use_the_mail_ports_only(settings, account):
    settings.MAILPASS_SMTP_PORTS = frozenset({25, 465, 587, 2525})
    failures = []
    for port in (22, 80, 443, 3306, 5432, 6379, 11211):
        try:
            factories.make_provider(account, port=port, name=f"p{port}")
        except ValidationError as err:
            if "mail ports here: 25, 465, 587, 2525" not in str(err):
                failures.append(f"port {port}: refused with {err}")
        else:
            failures.append(f"port {port}: accepted")
    for port in (25, 587):
        try:
            factories.make_provider(account, port=port, name=f"m{port}")
        except ValidationError as err:
            failures.append(f"mail port {port}: refused with {err}")

    figures.check(SUITE, cases=9, failures=failures)


def test_a_provider_on_another_port_from_before_the_upgrade_connects_nowhere(
    settings, account, ssh_like
):
    provider = factories.make_provider(account, port=ssh_like.port)  # any port, in tests
    settings.MAILPASS_SMTP_PORTS = frozenset({25, 465, 587, 2525})

    ok, said = provider_test_connection(provider)

    failures = [] if not ok and ssh_like.connections == [] else [f"{ok} {said!r}"]
    figures.check(SUITE, cases=1, failures=failures)
    assert "mail ports" in said


def test_a_failed_test_says_what_kind_of_failure_and_nothing_the_server_said(
    account, ssh_like, silent
):
    said = {
        name: provider_test_connection(
            factories.make_provider(account, port=port, name=name, timeout=1)
        )
        for name, port in [
            ("closed", closed_port()),
            ("ssh", ssh_like.port),
            ("silent", silent.port),
        ]
    }

    failures = [f"{name}: {answer}" for name, answer in said.items() if answer[0]]
    failures += [f"{name} echoes the banner" for name, (_, text) in said.items() if "SSH" in text]
    figures.check(SUITE, cases=3, failures=failures)
    assert said["closed"][1] == "Could not connect to the server."
    assert said["ssh"][1] == "The server did not answer like an SMTP server."
    assert said["silent"][1] in (
        "The server did not answer like an SMTP server.",
        "Could not connect to the server.",
    )


def test_the_relay_shows_nothing_of_itself(settings, sink, relay_allowed, account):
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = False
    relay = provider_create(account=account, name="Relay", kind=Provider.Kind.MAILPASS)
    settings.EMAIL_HOST_USER = "relay-login"
    passed = provider_test_connection(relay)
    settings.EMAIL_PORT = closed_port()
    failed = provider_test_connection(relay)

    shown = passed[1] + failed[1]
    leaks = [item for item in ("127.0.0.1", str(sink.port), "relay-login") if item in shown]
    figures.check(SUITE, cases=2, failures=leaks)
    assert passed == (True, "Connected to the MailPass relay.")
    assert failed[0] is False


def test_an_account_gets_a_few_tests_an_hour(owner_client, settings, provider):
    settings.MAILPASS_PROVIDER_TEST_LIMIT = 3

    notes = []
    for _ in range(5):
        response = owner_client.post(f"/providers/{provider.pk}/test-connection/", follow=True)
        notes += [note.message for note in response.context["messages"]]

    refused = [note for note in notes if note.startswith("Too many tests")]
    failures = [] if len(refused) == 2 else [f"{notes}"]
    figures.check(SUITE, cases=5, failures=failures)
