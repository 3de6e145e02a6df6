"""The fixture world: three users (owner, teammate in the owner's account, outsider with
an account of their own), a default provider pointing at a real loopback SMTP sink, and an
API client holding a valid key."""

import errno
import ipaddress
import socket
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.core.servers.basehttp import WSGIServer
from django.db import connection
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from providers import dns, pool
from tests import factories, processes
from tests.dns_server import DnsServer
from tests.redis_server import RedisServer, redis_server_installed
from tests.smtp_sink import CountingSink, SmtpSink

# The live server's listen backlog is 10: the concurrency tests open 50 connections at once,
# and the kernel resets what does not fit while the server is busy.
WSGIServer.request_queue_size = 128


@pytest.fixture(scope="session")
def _smtp_controller() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def sink(_smtp_controller: SmtpSink) -> Iterator[SmtpSink]:
    _smtp_controller.handler.reset()
    yield _smtp_controller
    _smtp_controller.handler.reset()


@pytest.fixture(autouse=True)
def _no_warm_connections_across_tests() -> Iterator[None]:
    """/send keeps provider connections warm in the process (providers.pool); each test
    starts without any, as a new web process would."""
    yield
    pool.channels.close_idle(older_than=0)


@pytest.fixture(autouse=True)
def _mailpass_settings(settings, tmp_path, monkeypatch):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = True
    # Each test its own attachment storage, so what one stores another never sees.
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments")},
        },
    }
    settings.MAILPASS_MESSAGE_ID_DOMAIN = "mailpass.test"
    # Nothing listens there: a domain check without the dns_server fixture fails
    # (DnsUnavailableError) instead of asking the system's resolver, off loopback. Within a
    # second, not the 6 s a real resolver gets: no ICMP error reaches an unconnected UDP
    # socket, so a lookup there always waits its whole lifetime; loopback answers in ms.
    settings.MAILPASS_DNS_RESOLVERS = ["127.0.0.1:9"]
    monkeypatch.setattr(dns, "TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(dns, "LIFETIME_SECONDS", 1.0)
    # Real password hashing costs ~0.3 s a user; tests need users, not slow hashes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()  # throttle counters
    # A test client's request leaves its language active in this thread; code a test then
    # calls directly would answer in it.
    translation.activate(settings.LANGUAGE_CODE)
    return settings


@pytest.fixture
def dns_server(settings) -> Iterator[DnsServer]:
    """A loopback DNS server that the domain checks ask (tests/dns_server.py)."""
    server = DnsServer()
    settings.MAILPASS_DNS_RESOLVERS = [server.address]
    yield server
    server.close()


@pytest.fixture(scope="session")
def _redis_process() -> Iterator[RedisServer]:
    if not redis_server_installed():
        pytest.skip("redis-server is not installed (make deps installs it as root)")
    server = RedisServer().start()
    yield server
    server.close()


@pytest.fixture
def redis_server(_redis_process) -> RedisServer:
    """A real redis-server on a loopback port (tests/redis_server.py), empty, running: a test
    that stopped it to play an outage gets it back."""
    if not _redis_process.ping():
        _redis_process.start()
    _redis_process.flush()
    return _redis_process


@pytest.fixture
def relay(settings):
    """The instance has a relay for its own mail (sign-up links, invitations, resets). The
    tests' mail backend is Django's locmem one: `relay.sent()` waits for the outbox thread
    and returns what went out."""
    from django.core import mail

    from dashboard.mails import outbox

    settings.EMAIL_HOST = "127.0.0.1"
    settings.DEFAULT_FROM_EMAIL = "mailpass@operator.example"

    class Relay:
        @staticmethod
        def sent() -> list:
            outbox.flush()
            return list(mail.outbox)

    outbox.flush()
    mail.outbox.clear()
    yield Relay
    outbox.flush()


@pytest.fixture
def relay_is_sink(settings, sink):
    """The instance relay (EMAIL_*, the mailpass provider kind) is the loopback SMTP sink."""
    settings.EMAIL_HOST = sink.host
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "mailpass@operator.example"
    return sink


@pytest.fixture
def signup_open(settings, relay):
    """The operator opened sign-up (closed by default); it needs the relay."""
    settings.MAILPASS_SIGNUP_OPEN = True
    return relay


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def test_database_url(db) -> str:
    """A DATABASE_URL that lets another process (a worker) reach this test's database."""
    return processes.database_url()


@pytest.fixture
def owner(db):
    return factories.make_user("owner")


@pytest.fixture
def teammate(db):
    return factories.make_user("teammate")


@pytest.fixture
def outsider(db):
    return factories.make_user("outsider")


@pytest.fixture
def account(owner, teammate):
    return factories.make_account(owner, members=(teammate,))


@pytest.fixture
def outsider_account(outsider):
    return factories.make_account(outsider)


@pytest.fixture
def provider(account, sink):
    return factories.make_provider(account, port=sink.port)


@pytest.fixture
def relay_allowed(account):
    """The operator lets the account send through the instance relay (the mailpass kind)."""
    account.relay_enabled = True
    account.save(update_fields=["relay_enabled"])
    return account


@pytest.fixture
def tracking_allowed(account):
    """The operator lets the account track opens and clicks (Account.tracking_enabled)."""
    account.tracking_enabled = True
    account.save(update_fields=["tracking_enabled"])
    return account


@pytest.fixture
def api_key(account):
    return factories.make_api_key(account)


@pytest.fixture
def api(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key[1]}")
    return client


@pytest.fixture
def teammate_api(account, teammate) -> APIClient:
    """An API client holding a key the teammate made for the shared account."""
    _, secret = factories.make_api_key(account, created_by=teammate)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def owner_client(owner, account) -> Client:
    """A browser logged in to the dashboard as the account's owner. (pytest-django's `client`
    stays the anonymous browser.)"""
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def outsider_api(outsider_account) -> APIClient:
    _, secret = factories.make_api_key(outsider_account)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (runs in the PostgreSQL leg of make test)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _counting_sinks() -> Iterator[tuple[CountingSink, CountingSink]]:
    sinks = (CountingSink().start(), CountingSink().start())
    yield sinks
    for sink in sinks:
        sink.stop()


@pytest.fixture
def counting_sinks(_counting_sinks):
    """Two more loopback SMTP sinks (e.g. two providers), emptied around each test."""
    for sink in _counting_sinks:
        sink.handler.reset()
    yield _counting_sinks
    for sink in _counting_sinks:
        sink.handler.reset()


def pytest_terminal_summary(terminalreporter):
    from tests.security import figures

    figures.report(terminalreporter)


# No test reaches beyond this machine (CONVENTIONS §8), and this guard proves it for every
# test: a Python-level connect() to an address that is not loopback raises, and the test
# that tried fails at teardown even when the code under test swallowed the error (delivery
# turns connection errors into retries). Unix sockets and loopback TCP (PostgreSQL on
# 127.0.0.1, the live server, the SMTP and ESP fakes) pass. Not seen here: connections made
# inside C libraries (libpq) or by subprocesses (Chromium, workers), and DNS lookups.
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NonLoopbackConnectError(ConnectionRefusedError):
    """A test tried to connect to an address that is not loopback."""


def _is_loopback(sock: socket.socket, address: object) -> bool:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return True
    host = str(address[0])
    try:
        ip = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return host == "localhost"  # a name would be resolved by the C library: only this one
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch) -> Iterator[list[object]]:
    """The addresses this test tried to reach beyond loopback (a test of the guard itself
    may empty the list after checking it)."""
    attempts: list[object] = []

    def connect(sock: socket.socket, address: object) -> None:
        if not _is_loopback(sock, address):
            attempts.append(address)
            raise NonLoopbackConnectError(f"tests connect to loopback only, not {address!r}")
        _real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: object) -> int:
        if not _is_loopback(sock, address):
            attempts.append(address)
            return errno.ECONNREFUSED
        return _real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield attempts
    if attempts:
        pytest.fail(f"the test tried to connect beyond loopback: {attempts}", pytrace=False)
