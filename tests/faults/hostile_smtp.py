"""A hostile SMTP server for the fault suites: it never breaks a socket timeout, it just
never finishes (or finishes too late, or at too great a length).

A thread per connection on 127.0.0.1, raw sockets, so every byte and its timing is ours.
`Behaviour` says what it does; `server.behave(...)` switches it for the next connections:

    greeting     "ok" | "drip_lines": a "220-" continuation line every DRIP_SECONDS, for
                 ever | "drip_bytes": "220 " and then one byte every DRIP_SECONDS / 2,
                 never a line end
    ehlo         "ok" | "many_lines": 10,000 "250-" lines | "wide": nine lines of 8,000
                 bytes (each under smtplib's 8 KiB line limit, 72 KB in all) |
                 "endless_line": one line that never ends
    reply_delay  seconds before every reply (the greeting too): a tarpit
    starttls     False: not offered | True: offered, answered 220, and then the TLS
                 handshake never gets an answer
    after_data   "ok": 250 | "silent": read the whole message, then say nothing

Whatever it does, a connection is dropped after `give_up_seconds` (GIVE_UP_SECONDS unless
told), so code that would wait for ever (the code these tests guard against) still ends,
failing the test on its timing.
`events` records what happened: ("connect",), ("message",) when a message was read in full.
"""

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from tests.loopback_server import LoopbackServer

DRIP_SECONDS = 0.2
GIVE_UP_SECONDS = 8.0


@dataclass(frozen=True)
class Behaviour:
    greeting: str = "ok"
    ehlo: str = "ok"
    reply_delay: float = 0.0
    starttls: bool = False
    after_data: str = "ok"


class _GaveUp(Exception):
    pass


class HostileSmtpServer(LoopbackServer):
    name = "hostile-smtp"

    def __init__(self, give_up_seconds: float = GIVE_UP_SECONDS) -> None:
        super().__init__()
        self.give_up_seconds = give_up_seconds
        self.behaviour = Behaviour()
        self.events: list[tuple[str, ...]] = []

    def behave(self, **changes: Any) -> None:
        self.behaviour = replace(Behaviour(), **changes)

    def connected(self, conn: socket.socket) -> None:
        self.events.append(("connect",))

    def serve(self, conn: socket.socket, state: object) -> None:
        session = _Session(conn, self.behaviour, self._stopping, self.events, self.give_up_seconds)
        with contextlib.suppress(_GaveUp):  # we hung up
            session.run()


class _Session:
    def __init__(
        self,
        conn: socket.socket,
        behaviour: Behaviour,
        stopping: threading.Event,
        events: list[tuple[str, ...]],
        give_up_seconds: float,
    ) -> None:
        self.conn = conn
        self.b = behaviour
        self.stopping = stopping
        self.events = events
        self.give_up_at = time.monotonic() + give_up_seconds
        conn.settimeout(give_up_seconds)
        self.reader = conn.makefile("rb")

    def pause(self, seconds: float) -> None:
        """Wait `seconds`; raise _GaveUp once the connection has had its time."""
        if self.stopping.wait(min(seconds, max(0.0, self.give_up_at - time.monotonic()))):
            raise _GaveUp
        if time.monotonic() >= self.give_up_at:
            raise _GaveUp

    def hold(self) -> None:
        while True:
            self.pause(DRIP_SECONDS)

    def reply(self, text: str) -> None:
        if self.b.reply_delay:
            self.pause(self.b.reply_delay)
        self.conn.sendall(text.encode() + b"\r\n")

    def run(self) -> None:
        self.greet()
        while line := self.reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.ehlo()
            elif verb == b"STAR" and self.b.starttls:
                self.reply("220 2.0.0 Ready to start TLS")
                self.hold()  # the client's ClientHello never gets an answer
            elif verb == b"DATA":
                self.data()
            elif verb == b"QUIT":
                self.reply("221 2.0.0 Bye")
                return
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                self.reply("250 2.0.0 OK")
            else:
                self.reply("502 5.5.1 Not implemented")

    def greet(self) -> None:
        if self.b.greeting == "drip_lines":
            while True:
                self.conn.sendall(b"220-hostile.test still saying hello\r\n")
                self.pause(DRIP_SECONDS)
        if self.b.greeting == "drip_bytes":
            self.conn.sendall(b"220 ")
            while True:
                self.conn.sendall(b"x")
                self.pause(DRIP_SECONDS / 2)
        self.reply("220 hostile.test ESMTP")

    def ehlo(self) -> None:
        if self.b.reply_delay:
            self.pause(self.b.reply_delay)
        lines = ["250-hostile.test"]
        if self.b.ehlo == "many_lines":
            lines += [f"250-X-FILLER-{i}" for i in range(10_000)]
        elif self.b.ehlo == "wide":
            lines += ["250-X-WIDE-" + "x" * 7_989 for _ in range(9)]
        elif self.b.ehlo == "endless_line":
            self.conn.sendall(b"250-" + b"x" * 1_000_000)
            self.hold()
        if self.b.starttls:
            lines.append("250-STARTTLS")
        lines.append("250 8BITMIME")
        self.conn.sendall("".join(line + "\r\n" for line in lines).encode())

    def data(self) -> None:
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        while self.reader.readline() not in (b".\r\n", b""):
            pass
        self.events.append(("message",))
        if self.b.after_data == "silent":
            self.hold()
        self.reply("250 2.0.0 Queued")
