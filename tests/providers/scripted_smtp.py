"""An SMTP server on a raw loopback socket that shows how commands arrive, for the
pipelining tests: it records every read as it came, answers as its Script says, and can
hold back each read's replies (a relay far away).

aiosmtpd (tests/smtp_sink.py) hides how the bytes arrived and sends each reply on its own;
here all replies to one read leave together, as a real server's do, so commands that came
together cost one round trip.
"""

import re
import socket
import time
from dataclasses import dataclass, field

from tests.loopback_server import LoopbackServer

GIVE_UP_SECONDS = 10.0  # a connection nobody closes is dropped after this
_LINE_START_DOTS = re.compile(rb"(?m)^\.\.")


@dataclass
class Script:
    """What the server says. `stop` makes it hang up ("drop_…") or fall silent ("hang_…")
    at DATA (after answering what came before it) or once the content has been read."""

    pipelining: bool = True  # offer PIPELINING in the EHLO reply
    mail: str = "250 2.1.0 Ok"  # the reply to every MAIL
    rcpt: dict[str, str] = field(default_factory=dict)  # address → its reply instead of 250
    data: str | None = None  # the reply to DATA instead of the usual 354 (or 554/503)
    final: str = "250 2.0.0 Ok: queued"  # the reply to the content's "."
    stop: str | None = None  # drop_at_data | hang_at_data | drop_after_content | hang_after_content
    delay: float = 0.0  # seconds before each read's replies go out


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # as the client meant it: line-start dots undoubled, the final "." gone


@dataclass
class Connection:
    reads: list[bytes] = field(default_factory=list)  # each recv() as it came
    commands: list[str] = field(default_factory=list)  # each verb, upper case; "." ends content

    def envelope_reads(self) -> list[bytes]:
        """The reads that carried a MAIL command."""
        return [read for read in self.reads if read[:5].upper() == b"MAIL "]


class ScriptedSmtpServer(LoopbackServer):
    name = "scripted-smtp"
    socket_timeout = GIVE_UP_SECONDS

    def __init__(self, script: Script | None = None) -> None:
        super().__init__()
        self.script = script or Script()
        self.connections: list[Connection] = []
        self.received: list[Received] = []

    def connected(self, conn: socket.socket) -> Connection:
        record = Connection()
        self.connections.append(record)
        return record

    def serve(self, conn: socket.socket, state: object) -> None:
        assert isinstance(state, Connection)
        session = _Session(self.script, state, self.received)
        conn.sendall(b"220 scripted.test ESMTP\r\n")
        while chunk := conn.recv(65536):
            state.reads.append(chunk)
            replies, then = session.take(chunk)
            if replies:
                if self.script.delay:
                    time.sleep(self.script.delay)
                conn.sendall("".join(r + "\r\n" for r in replies).encode())
            if then == "close":
                return
            if then == "hang":
                while conn.recv(65536):  # until the client hangs up
                    pass
                return


class _Session:
    def __init__(self, script: Script, record: Connection, received: list[Received]) -> None:
        self.script = script
        self.record = record
        self.received = received
        self.buffer = b""
        self.mail_from: str | None = None
        self.rcpts: list[str] = []
        self.in_content = False

    def take(self, chunk: bytes) -> tuple[list[str], str | None]:
        """The replies to what `chunk` completes, and "close" or "hang" when the server is
        to stop after sending them."""
        self.buffer += chunk
        replies: list[str] = []
        while True:
            if self.in_content:
                if self.buffer.startswith(b".\r\n"):
                    content, self.buffer = b"", self.buffer[3:]
                else:
                    end = self.buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        return replies, None
                    content, self.buffer = self.buffer[: end + 2], self.buffer[end + 5 :]
                self.in_content = False
                self.record.commands.append(".")
                if self.script.stop == "drop_after_content":
                    return replies, "close"
                if self.script.stop == "hang_after_content":
                    return replies, "hang"
                replies.append(self._message(_LINE_START_DOTS.sub(b".", content)))
                continue
            line, newline, rest = self.buffer.partition(b"\r\n")
            if not newline:
                return replies, None
            self.buffer = rest
            verb, _, argument = line.decode("ascii", "replace").partition(" ")
            verb = verb.upper()
            self.record.commands.append(verb)
            if verb == "DATA" and self.script.stop in ("drop_at_data", "hang_at_data"):
                return replies, "close" if self.script.stop == "drop_at_data" else "hang"
            reply = self._reply(verb, argument)
            replies.append(reply)
            if reply.startswith(("421", "221")):
                return replies, "close"

    def _reply(self, verb: str, argument: str) -> str:
        if verb == "EHLO":
            offers = ["PIPELINING"] if self.script.pipelining else []
            lines = ["scripted.test", *offers, "SIZE 10485760", "8BITMIME"]
            return "\r\n".join(f"250-{line}" for line in lines[:-1]) + f"\r\n250 {lines[-1]}"
        if verb == "HELO":
            return "250 scripted.test"
        if verb == "MAIL":
            if self.script.mail.startswith("250"):
                self.mail_from, self.rcpts = _address(argument), []
            return self.script.mail
        if verb == "RCPT":
            if self.mail_from is None:
                return "503 5.5.1 Error: need MAIL command"
            address = _address(argument)
            reply = self.script.rcpt.get(address, "250 2.1.5 Ok")
            if reply.startswith("25"):
                self.rcpts.append(address)
            return reply
        if verb == "DATA":
            if self.script.data is not None:
                reply = self.script.data
            elif self.mail_from is None:
                reply = "503 5.5.1 Error: need RCPT command"
            elif not self.rcpts:
                reply = "554 5.5.1 Error: no valid recipients"
            else:
                reply = "354 End data with <CR><LF>.<CR><LF>"
            self.in_content = reply.startswith("354")
            return reply
        if verb == "RSET":
            self.mail_from, self.rcpts = None, []
            return "250 2.0.0 Ok"
        if verb == "NOOP":
            return "250 2.0.0 Ok"
        if verb == "QUIT":
            return "221 2.0.0 Bye"
        return "502 5.5.2 Error: command not recognized"

    def _message(self, data: bytes) -> str:
        mail_from, rcpts = self.mail_from, self.rcpts
        self.mail_from, self.rcpts = None, []
        if mail_from is None or not rcpts:
            return "554 5.5.1 Error: no valid recipients"
        if self.script.final.startswith("250"):
            self.received.append(Received(mail_from, rcpts, data))
        return self.script.final


def _address(argument: str) -> str:
    """The address in "FROM:<a@example.com> SIZE=12" or "TO:<b@example.com>"."""
    start, end = argument.find("<"), argument.find(">")
    return argument[start + 1 : end]
