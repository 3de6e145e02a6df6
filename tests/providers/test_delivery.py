"""providers.delivery: classify_error's table, and Channel against a real SMTP sink."""

import smtplib
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives
from django.utils.crypto import get_random_string

from providers.connections import open_for
from providers.crypto import CredentialsUnreadableError
from providers.delivery import Channel, DeliveryResult, Outcome, channel_to, classify_error
from providers.hosts import HostNotAllowedError
from providers.models import Provider
from tests import factories
from tests.sending import deliver_via
from tests.smtp_sink import closed_port

pytestmark = pytest.mark.django_db

RETRY = Outcome.RETRY
FAILED = Outcome.FAILED


# --- classify_error ----------------------------------------------------------------------


def refused(**replies: tuple[int, bytes]) -> smtplib.SMTPRecipientsRefused:
    return smtplib.SMTPRecipientsRefused(
        {f"{name}@example.com": reply for name, reply in replies.items()}
    )


CLASSIFY_TABLE = [
    pytest.param(
        smtplib.SMTPDataError(421, b"4.3.2 Service shutting down"),
        RETRY,
        "421 4.3.2 Service shutting down",
        id="421-data",
    ),
    pytest.param(
        smtplib.SMTPSenderRefused(450, b"4.2.1 Mailbox busy", "sender@example.com"),
        RETRY,
        "450 4.2.1 Mailbox busy",
        id="450-sender",
    ),
    pytest.param(
        smtplib.SMTPDataError(451, b"4.3.0 Try again later"),
        RETRY,
        "451 4.3.0 Try again later",
        id="451-data",
    ),
    pytest.param(
        smtplib.SMTPDataError(452, b"4.3.1 Insufficient system storage"),
        RETRY,
        "452 4.3.1 Insufficient system storage",
        id="452-data",
    ),
    pytest.param(
        smtplib.SMTPDataError(550, b"5.1.1 No such user"),
        FAILED,
        "550 5.1.1 No such user",
        id="550-data",
    ),
    pytest.param(
        smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"),
        FAILED,
        "554 5.7.1 Message rejected as spam",
        id="554-data",
    ),
    pytest.param(
        smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid"),
        FAILED,
        "535 5.7.8 Authentication credentials invalid",
        id="535-auth",
    ),
    pytest.param(
        smtplib.SMTPSenderRefused(553, "5.1.8 Sender address rejected", "sender@example.com"),
        FAILED,
        "553 5.1.8 Sender address rejected",
        id="553-sender-str-reply",
    ),
    pytest.param(
        refused(a=(450, b"4.2.0 Greylisted"), b=(451, b"4.7.1 Try later")),
        RETRY,
        "a@example.com: 450 4.2.0 Greylisted; b@example.com: 451 4.7.1 Try later",
        id="recipients-refused-all-4xx",
    ),
    pytest.param(
        refused(a=(450, b"4.2.0 Greylisted"), b=(550, b"5.1.1 No such user")),
        FAILED,
        "b@example.com: 550 5.1.1 No such user",
        id="recipients-refused-mixed",
    ),
    pytest.param(
        refused(b=(550, b"5.1.1 No such user")),
        FAILED,
        "b@example.com: 550 5.1.1 No such user",
        id="recipients-refused-5xx",
    ),
    pytest.param(
        smtplib.SMTPRecipientsRefused({}),
        FAILED,
        "",
        id="recipients-refused-empty",
    ),
    pytest.param(
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        RETRY,
        "Connection unexpectedly closed",
        id="server-disconnected",
    ),
    # socket.timeout is an alias of TimeoutError since Python 3.10.
    pytest.param(TimeoutError("timed out"), RETRY, "timed out", id="timeout"),
    pytest.param(
        ConnectionRefusedError(111, "Connection refused"),
        RETRY,
        "Connection refused",
        id="connection-refused",
    ),
    pytest.param(
        ConnectionResetError(104, "Connection reset by peer"),
        RETRY,
        "Connection reset by peer",
        id="connection-reset",
    ),
    pytest.param(
        socket.gaierror(-3, "Temporary failure in name resolution"),
        RETRY,
        "Temporary failure in name resolution",
        id="dns-failure",
    ),
    pytest.param(
        ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
        FAILED,
        "WRONG_VERSION_NUMBER",
        id="ssl-error",
    ),
    pytest.param(
        ssl.SSLCertVerificationError(1, "certificate verify failed"),
        FAILED,
        "certificate verify failed",
        id="ssl-cert-verification",
    ),
    pytest.param(
        smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."),
        FAILED,
        "STARTTLS extension not supported by server.",
        id="smtp-not-supported",
    ),
    pytest.param(
        HostNotAllowedError("'10.0.0.1' resolves to a private or reserved address (10.0.0.1)"),
        FAILED,
        "provider misconfigured: '10.0.0.1' resolves to a private",
        id="host-not-allowed",
    ),
    pytest.param(
        CredentialsUnreadableError("cannot be decrypted"),
        FAILED,
        "provider misconfigured: cannot be decrypted",
        id="credentials-unreadable",
    ),
    pytest.param(
        ImproperlyConfigured("bad key"),
        FAILED,
        "provider misconfigured: bad key",
        id="improperly-configured",
    ),
    pytest.param(ValueError("something odd"), FAILED, "ValueError: something odd", id="unknown"),
]


@pytest.mark.parametrize(("exc", "outcome", "text"), CLASSIFY_TABLE)
def test_classify_error_maps_each_exception_to_retry_or_failed_with_the_provider_words(
    exc, outcome, text
):
    result = classify_error(exc)

    assert result.outcome is outcome
    assert text in result.error_text
    assert result.provider_message_id == ""


# What an exception proves, for failover and for Trouble: that the provider certainly did
# not take the message (before the DATA phase began, and after), and that no server answered.
PROOF_TABLE = [
    pytest.param(smtplib.SMTPDataError(451, b"4.3.0"), True, True, False, id="refused-at-data"),
    pytest.param(
        smtplib.SMTPSenderRefused(553, b"5.1.8", "s@example.com"), True, True, False, id="sender"
    ),
    pytest.param(smtplib.SMTPAuthenticationError(535, b"5.7.8"), True, True, False, id="login"),
    pytest.param(refused(b=(550, b"5.1.1")), True, True, False, id="recipients"),
    pytest.param(
        smtplib.SMTPResponseException(421, b"4.3.2"), True, False, False, id="other-reply"
    ),
    pytest.param(smtplib.SMTPServerDisconnected("gone"), True, False, True, id="disconnected"),
    pytest.param(TimeoutError("timed out"), True, False, True, id="timeout"),
    pytest.param(ConnectionRefusedError(111, "refused"), True, False, True, id="refused"),
    pytest.param(ssl.SSLError(1, "WRONG_VERSION_NUMBER"), True, False, True, id="tls"),
    pytest.param(HostNotAllowedError("private"), True, True, False, id="host-not-allowed"),
    pytest.param(CredentialsUnreadableError("x"), True, True, False, id="credentials"),
    pytest.param(ImproperlyConfigured("bad key"), True, True, False, id="misconfigured"),
    pytest.param(ValueError("something odd"), False, False, False, id="unknown"),
]


@pytest.mark.parametrize(("exc", "before_data", "in_data", "connection_failed"), PROOF_TABLE)
def test_classify_error_says_whether_the_message_was_certainly_not_taken(
    exc, before_data, in_data, connection_failed
):
    assert classify_error(exc).not_accepted is before_data
    assert classify_error(exc, in_data=True).not_accepted is in_data
    assert classify_error(exc).connection_failed is connection_failed


def test_classify_error_fails_a_generic_smtp_exception_at_once():
    # smtplib raises exactly this from login() when no AUTH method is shared with the server:
    # a configuration problem that retrying cannot fix.
    result = classify_error(smtplib.SMTPException("No suitable authentication method found."))

    assert result.outcome is FAILED
    assert "No suitable authentication method found." in result.error_text


# --- a Channel over the real sink ---------------------------------------------------------


def make_email(
    to: str = "rcpt@example.com", *, bcc: list[str] | None = None, subject: str = "Hello"
) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=subject,
        body="Plain body",
        from_email="Sender <sender@example.com>",
        to=[to] if to else [],
        bcc=bcc or [],
        headers={"Message-ID": f"<{get_random_string(24)}.1700000000@mailpass.test>"},
    )
    email.attach_alternative("<p>HTML body</p>", "text/html")
    return email


@pytest.fixture
def smtp_peers(sink) -> Iterator[list[tuple[str, int]]]:
    """The client address of every RCPT the sink sees: one address per SMTP connection."""
    peers: list[tuple[str, int]] = []
    handler = sink.handler
    original = handler.handle_RCPT

    async def handle_RCPT(server, session, envelope, address, options):
        peers.append(session.peer)
        return await original(server, session, envelope, address, options)

    handler.handle_RCPT = handle_RCPT
    yield peers
    del handler.handle_RCPT


@pytest.fixture
def relay(account, sink) -> Provider:
    return factories.make_provider(account, port=sink.port, is_default=False, name="Relay")


def test_a_channel_sends_every_message_over_one_connection(relay, sink, smtp_peers):
    emails = [make_email(f"rcpt{i}@example.com") for i in range(3)]

    results = list(deliver_via(relay, emails))

    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    assert [r.rcpt_tos for r in sink.received] == [[f"rcpt{i}@example.com"] for i in range(3)]
    assert len(smtp_peers) == 3
    assert len(set(smtp_peers)) == 1


def test_an_smtp_delivery_has_no_provider_message_id_beyond_our_message_id(relay, sink):
    email = make_email()

    [result] = deliver_via(relay, [email])

    assert result == DeliveryResult(Outcome.SENT, provider_message_id="")
    assert sink.received[0].message["Message-ID"] == email.extra_headers["Message-ID"]


def test_a_channel_answers_each_message_before_the_next_one_goes_out(relay, sink):
    channel = channel_to(relay)

    assert channel.send(make_email("first@example.com")).outcome is Outcome.SENT
    assert [r.rcpt_tos for r in sink.received] == [["first@example.com"]]
    assert channel.send(make_email("second@example.com")).outcome is Outcome.SENT
    assert len(sink.received) == 2
    channel.close()


def test_a_channel_keeps_its_connection_open_until_closed(relay, sink):
    connection = open_for(relay)
    channel = Channel(connection, timeout=5)

    channel.send(make_email())
    channel.send(make_email())
    assert connection.connection is not None
    channel.close()

    assert connection.connection is None
    assert len(sink.received) == 2


def test_a_recipient_refused_at_rcpt_fails_that_message_only(relay, sink, smtp_peers):
    sink.fail_rcpt("nobody@example.com", "550 5.1.1 No such user")
    emails = [make_email("nobody@example.com"), make_email("someone@example.com")]

    refused_result, sent_result = deliver_via(relay, emails)

    assert refused_result.outcome is Outcome.FAILED
    assert "nobody@example.com: 550 5.1.1 No such user" in refused_result.error_text
    assert sent_result.outcome is Outcome.SENT
    assert [r.rcpt_tos for r in sink.received] == [["someone@example.com"]]
    assert len(set(smtp_peers)) == 1


def test_a_temporary_recipient_refusal_is_retried(relay, sink):
    sink.fail_rcpt("busy@example.com", "450 4.2.1 Mailbox busy")

    [result] = deliver_via(relay, [make_email("busy@example.com")])

    assert result.outcome is Outcome.RETRY
    assert "450 4.2.1 Mailbox busy" in result.error_text
    assert sink.received == []


def test_a_451_at_data_is_retried_and_the_next_message_goes_out_on_a_new_connection(
    relay, sink, smtp_peers
):
    sink.fail_data("slow@example.com", "451 4.3.0 Try again later")
    emails = [make_email("slow@example.com"), make_email("fine@example.com")]

    retried, sent = deliver_via(relay, emails)

    assert retried == DeliveryResult(
        Outcome.RETRY, error_text="451 4.3.0 Try again later", not_accepted=True
    )
    assert sent.outcome is Outcome.SENT
    assert [r.rcpt_tos for r in sink.received] == [["fine@example.com"]]
    assert len(set(smtp_peers)) == 2


def test_a_554_at_data_fails_the_message_with_the_provider_text(relay, sink):
    sink.fail_all_data("554 5.7.1 Message rejected as spam")

    [result] = deliver_via(relay, [make_email()])

    assert result == DeliveryResult(
        Outcome.FAILED, error_text="554 5.7.1 Message rejected as spam", not_accepted=True
    )
    assert sink.received == []


def test_every_message_is_retried_when_the_provider_refuses_connections(account):
    provider = factories.make_provider(account, port=closed_port(), is_default=False, timeout=2)

    results = list(deliver_via(provider, [make_email() for _ in range(3)]))

    assert [r.outcome for r in results] == [Outcome.RETRY] * 3
    assert all("connection error" in r.error_text for r in results)


@pytest.fixture
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP server that accepts connections and never says a word (a hung relay)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept_forever() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept_forever, daemon=True).start()
    yield listener.getsockname()[1], accepted
    listener.close()
    for conn in accepted:
        conn.close()


def test_a_hung_provider_costs_two_timeouts_not_one_per_message(account, silent_server):
    port, accepted = silent_server
    provider = factories.make_provider(account, port=port, is_default=False, timeout=1)

    results = list(deliver_via(provider, [make_email() for _ in range(6)]))

    assert [r.outcome for r in results] == [Outcome.RETRY] * 6
    assert len(accepted) == 2


def test_a_channel_refuses_a_private_host_before_connecting(settings, account, sink, smtp_peers):
    # The row is written directly, as if the host had been allowed when it was saved. The
    # host is the loopback sink itself, so a regression is caught without leaving loopback.
    provider = Provider.objects.create(
        account=account, name="Sneaky", host="127.0.0.1", port=sink.port, security="none"
    )
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    results = list(deliver_via(provider, [make_email(), make_email()]))

    assert [r.outcome for r in results] == [Outcome.FAILED] * 2
    assert all("misconfigured" in r.error_text for r in results)
    assert all("private or reserved address" in r.error_text for r in results)
    assert smtp_peers == []
    assert sink.received == []


def test_a_channel_fails_every_message_when_credentials_cannot_be_decrypted(account, sink):
    provider = Provider.objects.create(
        account=account,
        name="Broken",
        host="127.0.0.1",
        port=sink.port,
        security="none",
        credentials_encrypted="not-a-fernet-token",
    )

    results = list(deliver_via(provider, (make_email() for _ in range(2))))

    assert [r.outcome for r in results] == [Outcome.FAILED] * 2
    assert all("misconfigured" in r.error_text for r in results)
    assert sink.received == []


@pytest.mark.parametrize("security", [Provider.Security.STARTTLS, Provider.Security.SSL])
def test_a_tls_provider_never_sends_in_clear_to_a_server_without_tls(account, sink, security):
    provider = factories.make_provider(
        account, port=sink.port, is_default=False, security=security, timeout=2
    )

    results = list(deliver_via(provider, [make_email(), make_email()]))

    assert [r.outcome for r in results] == [Outcome.FAILED] * 2
    assert sink.received == []


def test_a_failed_login_fails_every_message_and_sends_nothing(account, sink):
    # The sink offers no AUTH, so login() cannot succeed.
    provider = factories.make_provider(
        account,
        port=sink.port,
        is_default=False,
        username="relay-user",
        credentials={"password": "relay-password"},
    )

    results = list(deliver_via(provider, [make_email(), make_email()]))

    assert [r.outcome for r in results] == [Outcome.FAILED] * 2
    assert all("AUTH" in r.error_text for r in results)
    assert sink.received == []


def test_bcc_recipients_are_in_the_envelope_but_not_in_the_headers(relay, sink):
    email = make_email("to@example.com", bcc=["hidden@example.com"])

    [result] = deliver_via(relay, [email])

    assert result.outcome is Outcome.SENT
    [received] = sink.received
    assert sorted(received.rcpt_tos) == ["hidden@example.com", "to@example.com"]
    assert received.message["Bcc"] is None
    assert b"hidden@example.com" not in received.data


def test_a_message_without_recipients_fails(relay, sink):
    [result] = deliver_via(relay, [make_email(to="")])

    assert result == DeliveryResult(Outcome.FAILED, error_text="the message has no recipients")
    assert sink.received == []


def test_a_refused_connection_and_a_refused_recipient_prove_the_message_was_not_taken(
    account, relay, sink
):
    sink.fail_rcpt("nobody@example.com", "550 5.1.1 No such user")
    closed = factories.make_provider(account, port=closed_port(), is_default=False, timeout=2)

    [refused_connection] = deliver_via(closed, [make_email()])
    [refused_recipient] = deliver_via(relay, [make_email("nobody@example.com")])

    assert refused_connection.not_accepted and refused_recipient.not_accepted


def test_a_timeout_after_the_content_went_out_is_no_proof_either_way(account, sink):
    # The sink takes the message and then never answers the final ".": it may well have
    # kept it, so no other provider may be tried (that could send it twice).
    hung = factories.make_provider(account, port=sink.port, is_default=False, timeout=1)
    sink.handler.data_delay_seconds = 3  # the fixture resets it

    [result] = deliver_via(hung, [make_email()])

    assert result.outcome is Outcome.RETRY
    assert result.not_accepted is False
