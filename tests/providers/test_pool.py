"""Warm connections for /send (providers.pool): one SMTP session serves request after request."""

import socket

import pytest

from api.models import Message
from providers import pool
from tests import factories

pytestmark = pytest.mark.django_db

MESSAGE = {"to": "user@example.com", "subject": "Hello", "text": "Hi"}


@pytest.fixture
def relay(account, counting_sinks):
    sink, _ = counting_sinks
    provider = factories.make_provider(account, port=sink.port)
    return provider, sink


def send(api, **fields):
    response = api.post("/api/v1/mail/send", {**MESSAGE, **fields}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def kept(provider) -> list:
    return [channel for _, channel in pool.channels._idle.get(pool._key(provider), [])]


def test_sends_in_a_row_share_one_connection(api, relay):
    provider, sink = relay

    for i in range(3):
        send(api, subject=f"Hello {i}")

    assert sink.sessions == 1
    assert len(sink.received) == 3
    assert len(kept(provider)) == 1


def test_a_kept_connection_the_server_closed_is_replaced_for_the_same_message(api, relay):
    provider, sink = relay
    send(api)
    [channel] = kept(provider)
    # The relay hung up on the idle client (the client's socket sees the end of it).
    channel.connection.connection.sock.shutdown(socket.SHUT_RDWR)

    data = send(api, subject="After the drop")

    assert data["status"] == "sent"
    assert sink.sessions == 2
    assert [m.message["Subject"] for m in sink.received] == ["Hello", "After the drop"]
    message = Message.objects.get(subject="After the drop")
    assert not message.events.filter(event_type="failover").exists()


def test_connections_idle_too_long_are_closed_not_reused(api, relay, monkeypatch):
    provider, sink = relay
    send(api)
    monkeypatch.setattr(pool, "IDLE_SECONDS", 0.0)

    send(api)

    assert sink.sessions == 2
    pool.channels.close_idle(older_than=0)
    assert kept(provider) == []


def test_an_edited_provider_gets_a_connection_of_its_own(api, relay, counting_sinks):
    provider, sink = relay
    send(api)
    other = counting_sinks[1]
    provider.port = other.port
    provider.save()

    send(api)

    assert (sink.sessions, other.sessions) == (1, 1)
    assert len(other.received) == 1


def test_a_process_keeps_at_most_a_few_connections_per_provider(relay):
    provider, _ = relay
    borrowed = []
    for _ in range(pool.KEPT_PER_PROVIDER + 2):
        lending = pool.channels.lend()
        channel_for = lending.__enter__()
        channel = channel_for(provider)
        channel.is_open = True  # as if it had sent: worth keeping
        borrowed.append((lending, channel))
    for lending, _ in borrowed:
        lending.__exit__(None, None, None)

    assert len(kept(provider)) == pool.KEPT_PER_PROVIDER


@pytest.mark.parametrize("kind", ["postmark", "amazon_ses"])
def test_sends_through_an_esp_reuse_one_kept_alive_connection(api, account, esp_server, kind):
    server = esp_server(kind)
    factories.make_esp_provider(account, kind, is_default=True, from_email="shop@example.com")

    for i in range(3):
        send(api, subject=f"Hello {i}")

    assert len(server.requests) == 3
    assert len({request.peer for request in server.requests}) == 1
