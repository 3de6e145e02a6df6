"""Our SMTP reply reader (providers.backends): smtplib's answers, plus caps and a deadline.

Over a real loopback connection: the test plays the server by writing bytes to it.
"""

import smtplib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from providers import deadline
from providers.backends import _SMTP, MAX_REPLY_BYTES, MAX_REPLY_LINES, ReplyTooLongError
from providers.deadline import DeadlineExceeded

Connect = Callable[[bytes], tuple[_SMTP, tuple[int, bytes], socket.socket]]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """connect(bytes) → (client, its greeting reply, the server's end): the server's end
    sends `bytes` as soon as the client connects."""
    listener = socket.create_server(("127.0.0.1", 0))
    opened: list[socket.socket] = []

    def start(first: bytes) -> tuple[_SMTP, tuple[int, bytes], socket.socket]:
        def serve() -> None:
            conn, _ = listener.accept()
            opened.append(conn)
            conn.sendall(first)

        thread = threading.Thread(target=serve)
        thread.start()
        client = _SMTP(local_hostname="client.test", timeout=5)
        greeting = client.connect("127.0.0.1", listener.getsockname()[1])
        thread.join()
        return client, greeting, opened[-1]

    yield start
    listener.close()
    for conn in opened:
        conn.close()


def test_a_multi_line_reply_is_one_code_and_its_lines_joined(connect):
    _, greeting, _ = connect(b"220-mx.example.com ESMTP\r\n220-second line\r\n220 last\r\n")

    assert greeting == (220, b"mx.example.com ESMTP\nsecond line\nlast")


def test_replies_that_arrive_together_are_read_one_at_a_time(connect):
    client, greeting, _ = connect(b"220 hello\r\n250-first\r\n250 OK\r\n354 go ahead\r\n")

    assert greeting == (220, b"hello")
    assert client.getreply() == (250, b"first\nOK")
    assert client.getreply() == (354, b"go ahead")


def test_a_line_without_a_numeric_code_is_code_minus_one_and_ends_the_reply(connect):
    _, greeting, _ = connect(b"22x oops\r\n")

    assert greeting == (-1, b"oops")


def test_a_reply_cut_short_by_the_server_is_a_disconnect(connect):
    client, _, server = connect(b"220 hello\r\n")
    server.sendall(b"250-more to come\r\n")
    server.close()

    with pytest.raises(smtplib.SMTPServerDisconnected, match="Connection unexpectedly closed"):
        client.getreply()
    assert client.sock is None


def test_a_last_line_without_its_line_end_still_counts(connect):
    client, _, server = connect(b"220 hello\r\n")
    server.sendall(b"250 OK")
    server.close()

    assert client.getreply() == (250, b"OK")


def test_a_line_over_8_kib_is_smtplibs_500(connect):
    client, _, server = connect(b"220 hello\r\n")
    server.sendall(b"250-" + b"x" * 9000 + b"\r\n")

    with pytest.raises(smtplib.SMTPResponseException) as raised:
        client.getreply()
    assert (raised.value.smtp_code, raised.value.smtp_error) == (500, "Line too long.")


def test_a_reply_of_the_most_lines_allowed_is_read(connect):
    lines = b"".join(b"250-line %d\r\n" % i for i in range(MAX_REPLY_LINES - 1))
    client, _, server = connect(b"220 hello\r\n")
    server.sendall(lines + b"250 last\r\n")

    code, text = client.getreply()

    assert code == 250
    assert len(text.split(b"\n")) == MAX_REPLY_LINES


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"250-x\r\n" * MAX_REPLY_LINES + b"250 OK\r\n", id="one line too many"),
        pytest.param(
            (b"250-" + b"x" * 8000 + b"\r\n") * (MAX_REPLY_BYTES // 8000 + 1) + b"250 OK\r\n",
            id="too many bytes",
        ),
    ],
)
def test_a_reply_over_the_caps_hangs_up_as_a_disconnect(connect, reply):
    client, _, server = connect(b"220 hello\r\n")
    server.sendall(reply)

    with pytest.raises(ReplyTooLongError, match="the server's reply was too long"):
        client.getreply()

    assert isinstance(ReplyTooLongError("x"), smtplib.SMTPServerDisconnected)
    assert client.sock is None


def test_a_reply_dripped_slower_than_the_deadline_ends_with_it(connect):
    client, _, server = connect(b"220 hello\r\n")
    stop = threading.Event()

    def drip() -> None:
        server.sendall(b"250-")
        while not stop.wait(0.05):
            server.sendall(b"x")

    dripper = threading.Thread(target=drip)
    dripper.start()
    started = time.monotonic()
    try:
        with deadline.within(0.3), pytest.raises(DeadlineExceeded):
            client.getreply()
    finally:
        stop.set()
        dripper.join()

    assert time.monotonic() - started < 0.3 + 0.5
    assert client.sock is None
