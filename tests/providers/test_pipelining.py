"""SMTP PIPELINING (RFC 2920) in providers.backends: MAIL, every RCPT and DATA in one write
when the server offers it, command by command when it does not, and every refusal, drop
and timeout with the outcome, failover proof and connection handling it had before.

Over real loopback connections to tests/providers/scripted_smtp.py, which records how the
client's bytes arrived.
"""

import time
from collections.abc import Callable, Iterator

import pytest
from django.core.mail import EmailMessage

from providers.delivery import (
    Channel,
    DeliveryResult,
    Outcome,
    channel_to,
    send_with_failover,
)
from providers.models import Provider
from tests import factories
from tests.providers.scripted_smtp import Script, ScriptedSmtpServer
from tests.sending import deliver_via

pytestmark = pytest.mark.django_db

SENDER = "sender@example.com"
CONTENT = (
    b"Subject: Hi\r\nMessage-ID: <1@mailpass.test>\r\n\r\n.a line that starts with a dot\r\nend"
)

PIPELINED = pytest.param(True, id="pipelined")
ONE_BY_ONE = pytest.param(False, id="no PIPELINING")


class Prepared(EmailMessage):
    """A message rendered ahead of time, as the queue's are: SMTPBackend sends its bytes."""

    def __init__(self, *recipients: str, data: bytes = CONTENT) -> None:
        super().__init__(from_email=SENDER, to=list(recipients))
        self._envelope = (SENDER, list(recipients), data)

    def smtp_envelope(self) -> tuple[str, list[str], bytes]:
        return self._envelope


Serve = Callable[..., tuple[ScriptedSmtpServer, Provider]]


@pytest.fixture
def serve(account) -> Iterator[Serve]:
    """serve(**script) → (a running scripted server, a provider pointing at it)."""
    servers: list[ScriptedSmtpServer] = []

    def start(timeout: int = 5, **script) -> tuple[ScriptedSmtpServer, Provider]:
        server = ScriptedSmtpServer(Script(**script)).start()
        servers.append(server)
        provider = factories.make_provider(
            account, port=server.port, name=f"Scripted {len(servers)}", timeout=timeout
        )
        return server, provider

    yield start
    for server in servers:
        server.stop()


def lines(read: bytes) -> list[str]:
    return [line.split(" ")[0].upper() for line in read.decode().split("\r\n") if line]


# --- how the commands go out -------------------------------------------------------------


def test_with_pipelining_mail_every_rcpt_and_data_arrive_in_one_read_and_the_message_once(
    serve,
):
    server, provider = serve()

    [result] = deliver_via(provider, [Prepared("a@example.com", "b@example.com", "c@example.com")])

    assert result == DeliveryResult(Outcome.SENT)
    [connection] = server.connections
    [envelope] = connection.envelope_reads()
    assert lines(envelope) == ["MAIL", "RCPT", "RCPT", "RCPT", "DATA"]
    assert envelope.startswith(f"mail FROM:<{SENDER}> size={len(CONTENT)}\r\n".encode())
    [received] = server.received
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ["a@example.com", "b@example.com", "c@example.com"]
    assert received.data == CONTENT + b"\r\n"


def test_with_pipelining_each_message_costs_two_round_trips_on_one_connection(serve):
    server, provider = serve()

    results = deliver_via(provider, [Prepared(f"r{i}@example.com") for i in range(3)])

    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    [connection] = server.connections
    # After EHLO: per message the envelope and then the content, then QUIT.
    assert [lines(read)[0] for read in connection.reads[1:]] == [
        *["MAIL", "SUBJECT:"] * 3,
        "QUIT",
    ]
    assert [r.rcpt_tos for r in server.received] == [[f"r{i}@example.com"] for i in range(3)]


def test_a_django_rendered_message_goes_out_pipelined_too(serve):
    server, provider = serve()
    email = EmailMessage("Hello", "Plain body", SENDER, ["to@example.com"], ["hidden@example.com"])

    [result] = deliver_via(provider, [email])

    assert result.outcome is Outcome.SENT
    [envelope] = server.connections[0].envelope_reads()
    assert lines(envelope) == ["MAIL", "RCPT", "RCPT", "DATA"]
    [received] = server.received
    assert received.rcpt_tos == ["to@example.com", "hidden@example.com"]
    assert b"Plain body" in received.data and b"hidden@example.com" not in received.data


def test_without_pipelining_each_command_waits_for_its_reply_as_before(serve):
    server, provider = serve(pipelining=False)

    [result] = deliver_via(provider, [Prepared("a@example.com", "b@example.com")])

    assert result == DeliveryResult(Outcome.SENT)
    [connection] = server.connections
    assert [lines(read) for read in connection.reads[1:]] == [
        ["MAIL"],
        ["RCPT"],
        ["RCPT"],
        ["DATA"],
        ["SUBJECT:", "MESSAGE-ID:", "..A", "END", "."],
        ["QUIT"],
    ]
    assert [r.data for r in server.received] == [CONTENT + b"\r\n"]


# --- refusals: the outcome of before, pipelined or not ------------------------------------


@pytest.mark.parametrize("pipelining", [PIPELINED, ONE_BY_ONE])
def test_a_5xx_to_mail_fails_the_message_resets_and_keeps_the_connection(serve, pipelining):
    server, provider = serve(pipelining=pipelining, mail="550 5.7.1 Sender rejected")
    channel = channel_to(provider)

    first = channel.send(Prepared("a@example.com", "b@example.com"))
    second = channel.send(Prepared("c@example.com"))
    channel.close()

    refusal = DeliveryResult(
        Outcome.FAILED, error_text="550 5.7.1 Sender rejected", not_accepted=True
    )
    assert first == second == refusal
    [connection] = server.connections  # kept, as before
    after_ehlo = connection.commands[1:]
    if pipelining:
        # Every pipelined reply was read (503 to RCPT, 503 to DATA) before the RSET.
        first_message = ["MAIL", "RCPT", "RCPT", "DATA", "RSET"]
        assert after_ehlo == [*first_message, "MAIL", "RCPT", "DATA", "RSET", "QUIT"]
    else:
        assert after_ehlo == ["MAIL", "RSET", "MAIL", "RSET", "QUIT"]
    assert server.received == []


@pytest.mark.parametrize("pipelining", [PIPELINED, ONE_BY_ONE])
def test_a_4xx_to_mail_is_retried_elsewhere_and_the_next_message_gets_a_new_connection(
    serve, pipelining
):
    server, provider = serve(pipelining=pipelining, mail="451 4.3.0 Try again later")
    channel = channel_to(provider)

    results = [channel.send(Prepared("a@example.com")) for _ in range(2)]
    channel.close()

    assert (
        results
        == [
            DeliveryResult(Outcome.RETRY, error_text="451 4.3.0 Try again later", not_accepted=True)
        ]
        * 2
    )
    assert len(server.connections) == 2  # a retry closes the channel's connection
    assert server.connections[0].commands[-1] == "QUIT"


@pytest.mark.parametrize("pipelining", [PIPELINED, ONE_BY_ONE])
def test_a_421_to_mail_hangs_up_without_a_reset(serve, pipelining):
    server, provider = serve(pipelining=pipelining, mail="421 4.3.2 Shutting down")

    [result] = deliver_via(provider, [Prepared("a@example.com")])

    assert result == DeliveryResult(
        Outcome.RETRY, error_text="421 4.3.2 Shutting down", not_accepted=True
    )
    assert "RSET" not in server.connections[0].commands


@pytest.mark.parametrize("pipelining", [PIPELINED, ONE_BY_ONE])
def test_a_421_to_a_recipient_hangs_up_with_the_refusals_so_far(serve, pipelining):
    server, provider = serve(
        pipelining=pipelining, rcpt={"b@example.com": "421 4.3.2 Shutting down"}
    )

    [result] = deliver_via(provider, [Prepared("a@example.com", "b@example.com", "c@example.com")])

    assert result == DeliveryResult(
        Outcome.RETRY, error_text="b@example.com: 421 4.3.2 Shutting down", not_accepted=True
    )
    assert server.received == []
    assert "RSET" not in server.connections[0].commands


@pytest.mark.parametrize("pipelining", [PIPELINED, ONE_BY_ONE])
def test_one_refused_recipient_among_several_still_sends_to_the_others(serve, pipelining):
    server, provider = serve(
        pipelining=pipelining, rcpt={"gone@example.com": "550 5.1.1 No such user"}
    )

    [result] = deliver_via(
        provider, [Prepared("a@example.com", "gone@example.com", "b@example.com")]
    )

    # As before: the message went out, and the refused recipient is not reported.
    assert result == DeliveryResult(Outcome.SENT)
    assert [r.rcpt_tos for r in server.received] == [["a@example.com", "b@example.com"]]


@pytest.mark.parametrize("pipelining", [PIPELINED, ONE_BY_ONE])
@pytest.mark.parametrize(
    ("reply", "outcome"),
    [("550 5.1.1 No such user", Outcome.FAILED), ("450 4.2.1 Mailbox busy", Outcome.RETRY)],
)
def test_every_recipient_refused_is_that_refusal_and_the_message_may_fail_over(
    serve, pipelining, reply, outcome
):
    server, provider = serve(
        pipelining=pipelining, rcpt={"a@example.com": reply, "b@example.com": reply}
    )
    channel = channel_to(provider)

    result = channel.send(Prepared("a@example.com", "b@example.com"))
    after = channel.send(Prepared("c@example.com"))
    channel.close()

    assert result == DeliveryResult(
        outcome,
        error_text=f"a@example.com: {reply}; b@example.com: {reply}",
        not_accepted=True,
    )
    assert after.outcome is Outcome.SENT
    assert [r.rcpt_tos for r in server.received] == [["c@example.com"]]
    commands = server.connections[0].commands
    if pipelining:
        # DATA went with the envelope; its 554 was read, then the transaction reset.
        assert commands[1:6] == ["MAIL", "RCPT", "RCPT", "DATA", "RSET"]
    else:
        assert commands[1:5] == ["MAIL", "RCPT", "RCPT", "RSET"]
    if outcome is Outcome.FAILED:
        assert len(server.connections) == 1  # kept for the next message, as before


def test_a_data_accepted_in_spite_of_every_refusal_gets_a_lone_dot_and_a_reset(serve):
    # RFC 2920 3.1: a client must check DATA's reply even when no recipient was taken.
    server, provider = serve(
        rcpt={"a@example.com": "550 5.1.1 No such user"}, data="354 Go ahead anyway"
    )
    channel = channel_to(provider)

    result = channel.send(Prepared("a@example.com"))
    server.script.data = None
    after = channel.send(Prepared("b@example.com"))
    channel.close()

    assert result == DeliveryResult(
        Outcome.FAILED, error_text="a@example.com: 550 5.1.1 No such user", not_accepted=True
    )
    assert after.outcome is Outcome.SENT
    [connection] = server.connections
    assert connection.commands[1:6] == ["MAIL", "RCPT", "DATA", ".", "RSET"]
    assert [r.rcpt_tos for r in server.received] == [["b@example.com"]]


@pytest.mark.parametrize("pipelining", [PIPELINED, ONE_BY_ONE])
@pytest.mark.parametrize(
    ("reply", "outcome"),
    [("554 5.7.1 Not from you", Outcome.FAILED), ("451 4.3.0 Try again later", Outcome.RETRY)],
)
def test_a_refused_data_command_is_that_refusal_and_nothing_was_taken(
    serve, pipelining, reply, outcome
):
    server, provider = serve(pipelining=pipelining, data=reply)

    [result] = deliver_via(provider, [Prepared("a@example.com")])

    assert result == DeliveryResult(outcome, error_text=reply, not_accepted=True)
    assert server.received == []
    assert not any(read.startswith(b"Subject:") for read in server.connections[0].reads)
    if pipelining:
        # Reset as after any other refusal (smtplib's data() raises before its own RSET).
        assert server.connections[0].commands[1:5] == ["MAIL", "RCPT", "DATA", "RSET"]


@pytest.mark.parametrize("pipelining", [PIPELINED, ONE_BY_ONE])
def test_content_refused_after_the_dot_is_that_refusal(serve, pipelining):
    server, provider = serve(pipelining=pipelining, final="554 5.7.1 Message rejected as spam")
    channel = channel_to(provider)

    result = channel.send(Prepared("a@example.com"))
    server.script.final = "250 2.0.0 Ok: queued"
    after = channel.send(Prepared("b@example.com"))
    channel.close()

    assert result == DeliveryResult(
        Outcome.FAILED, error_text="554 5.7.1 Message rejected as spam", not_accepted=True
    )
    assert after.outcome is Outcome.SENT
    assert len(server.connections) == 1


# --- drops and silences: what they prove --------------------------------------------------


@pytest.mark.parametrize("pipelining", [PIPELINED, ONE_BY_ONE])
def test_a_drop_after_the_content_went_out_is_no_proof_either_way(serve, pipelining):
    server, provider = serve(pipelining=pipelining, stop="drop_after_content")

    [result] = deliver_via(provider, [Prepared("a@example.com")])

    assert result.outcome is Outcome.RETRY
    assert "connection lost" in result.error_text
    assert result.not_accepted is False  # the server may have kept it: never failed over
    assert result.connection_failed is True
    assert "." in server.connections[0].commands  # the whole message was read


@pytest.mark.parametrize("pipelining", [PIPELINED, ONE_BY_ONE])
def test_silence_after_the_content_went_out_ends_by_the_timeout_and_proves_nothing(
    serve, pipelining
):
    server, provider = serve(pipelining=pipelining, stop="hang_after_content", timeout=1)
    started = time.monotonic()

    [result] = deliver_via(provider, [Prepared("a@example.com")])

    assert time.monotonic() - started < 1 + 1.0
    assert result.outcome is Outcome.RETRY
    assert result.error_text == "timed out talking to the provider"
    assert result.not_accepted is False
    assert "." in server.connections[0].commands


@pytest.mark.parametrize(
    ("pipelining", "not_accepted"),
    [
        # The content had not gone out, and never would: the server cannot have it.
        pytest.param(True, True, id="pipelined"),
        # Command by command, "DATA began" is where the doubt starts, as before.
        pytest.param(False, False, id="no PIPELINING"),
    ],
)
@pytest.mark.parametrize("stop", ["drop_at_data", "hang_at_data"])
def test_a_drop_or_silence_at_data_proves_the_content_never_went_out_when_pipelined(
    serve, pipelining, not_accepted, stop
):
    server, provider = serve(pipelining=pipelining, stop=stop, timeout=1)

    [result] = deliver_via(provider, [Prepared("a@example.com")])

    assert result.outcome is Outcome.RETRY
    assert result.not_accepted is not_accepted
    assert result.connection_failed is True
    assert server.received == []
    assert not any(read.startswith(b"Subject:") for read in server.connections[0].reads)


# --- failover -----------------------------------------------------------------------------


def test_a_pipelined_refusal_fails_over_and_a_drop_after_the_content_does_not(serve):
    refusing, refusing_provider = serve(rcpt={"a@example.com": "451 4.7.1 Greylisted"})
    dropping, dropping_provider = serve(stop="drop_after_content")
    backup, backup_provider = serve()
    channels: dict[int, Channel] = {}

    def channel_for(provider: Provider) -> Channel:
        return channels.setdefault(provider.pk, channel_to(provider))

    refused = send_with_failover(
        Prepared("a@example.com"), [refusing_provider, backup_provider], channel_for
    )
    dropped = send_with_failover(
        Prepared("a@example.com"), [dropping_provider, backup_provider], channel_for
    )
    for channel in channels.values():
        channel.close()

    assert [a.provider for a in refused] == [refusing_provider, backup_provider]
    assert refused[-1].result.outcome is Outcome.SENT
    assert [a.provider for a in dropped] == [dropping_provider]
    assert dropped[-1].result.outcome is Outcome.RETRY
    assert refusing.received == dropping.received == []
    assert "." in dropping.connections[0].commands  # it read the whole message, then hung up
    assert len(backup.received) == 1  # the refused message only
