"""A real SMTP server on a loopback port for tests: records what arrives, fails on demand."""

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class SinkHandler:
    """aiosmtpd handler. Replies can be forced per recipient, at RCPT or at DATA."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: dict[str, str] = field(default_factory=dict)
    data_reply_for_all: str | None = None
    data_delay_seconds: float = 0.0  # a slow relay: wait this long before answering DATA
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_delay_seconds:
            await asyncio.sleep(self.data_delay_seconds)
        for rcpt in envelope.rcpt_tos:
            if rcpt in self.data_replies:
                return self.data_replies[rcpt]
        if self.data_reply_for_all:
            return self.data_reply_for_all
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 Message accepted for delivery"

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
        self.rcpt_replies.clear()
        self.data_replies.clear()
        self.data_reply_for_all = None
        self.data_delay_seconds = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused at once."""
    return free_port()


def _accept_any_login(*args: Any) -> AuthResult:
    return AuthResult(success=True)


class _RecordingController(Controller):
    """A Controller whose servers note each command they get and whether TLS was on, and
    may answer STARTTLS with a refusal of their own."""

    def __init__(
        self,
        handler: Any,
        *,
        commands: list[tuple[str, bool]],
        starttls_reply: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self.commands = commands
        self.starttls_reply = starttls_reply

    def factory(self) -> SMTP:
        server = super().factory()
        implicit_tls = self.ssl_context is not None
        for name, method in list(server._smtp_methods.items()):
            server._smtp_methods[name] = self._recorded(server, name, method, implicit_tls)
        return server

    def _recorded(self, server: SMTP, name: str, method: Any, implicit_tls: bool) -> Any:
        async def record(arg: str | None) -> None:
            self.commands.append((name, implicit_tls or server._tls_protocol is not None))
            if name == "STARTTLS" and self.starttls_reply:
                await server.push(self.starttls_reply)
                return
            await method(arg)

        return record


class SmtpSink:
    """The sink. Options for TLS tests (all off by default): `tls_context` offers STARTTLS
    with that server context, `ssl_context` speaks TLS from the first byte (SMTPS),
    `offer_auth` offers AUTH without TLS too (over TLS it is always offered; any login is
    accepted), `starttls_reply` answers STARTTLS with that reply instead. With any of
    them, `commands` lists each command the sink got as (name, whether TLS was on)."""

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        ssl_context: ssl.SSLContext | None = None,
        offer_auth: bool = False,
        starttls_reply: str | None = None,
    ) -> None:
        self.handler = SinkHandler()
        self.host = "127.0.0.1"
        self.port = free_port()
        self.commands: list[tuple[str, bool]] = []
        if not (tls_context or ssl_context or offer_auth or starttls_reply):
            self.controller = Controller(self.handler, hostname=self.host, port=self.port)
            return
        self.controller = _RecordingController(
            self.handler,
            hostname=self.host,
            port=self.port,
            commands=self.commands,
            starttls_reply=starttls_reply,
            ssl_context=ssl_context,
            tls_context=tls_context,
            # aiosmtpd knows only STARTTLS as TLS: over SMTPS it must be told AUTH is fine.
            auth_require_tls=not (offer_auth or ssl_context),
            authenticator=_accept_any_login,
        )

    @property
    def commands_seen(self) -> list[str]:
        return [name for name, _ in self.commands]

    def start(self) -> "SmtpSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def fail_rcpt(self, address: str, reply: str) -> None:
        self.handler.rcpt_replies[address] = reply

    def fail_data(self, address: str, reply: str) -> None:
        self.handler.data_replies[address] = reply

    def fail_all_data(self, reply: str | None) -> None:
        self.handler.data_reply_for_all = reply


@dataclass
class CountingHandler(SinkHandler):
    """The sink's handler, also counting SMTP sessions (one EHLO per connection)."""

    sessions: int = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.sessions += 1
        return responses

    def reset(self) -> None:
        super().reset()
        self.sessions = 0


class CountingSink(SmtpSink):
    """A sink of its own (besides the shared `sink` fixture) that counts its sessions."""

    def __init__(self) -> None:
        super().__init__()
        self.handler = CountingHandler()
        self.controller = Controller(self.handler, hostname=self.host, port=self.port)

    @property
    def sessions(self) -> int:
        return self.handler.sessions
