"""Django email backends of our own, and what keeps provider I/O within its deadline.

- SMTPBackend: Django's SMTP backend, with a fast path for messages rendered ahead of time,
  an optional fixed envelope sender, and SMTP connections whose every socket operation
  (connect, TLS handshake, each send and each receive) ends by the deadline of
  providers.deadline.
- http_session(), RequestsWithinDeadline, AwsWithinDeadline: the same for HTTP, under
  django-anymail's requests-based backends, its Amazon SES backend (boto3) and the
  connection checks.

A socket timeout bounds one operation only: a server that drips a byte, or a "220-" line,
just before each one runs out would hold a connection (and the worker, or the web request,
waiting on it) forever. Here each operation's timeout is the provider's timeout or what is
left of the deadline, whichever is less, so the last one ends when the deadline does.
"""

import contextlib
import hashlib
import io
import re
import smtplib
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from botocore import exceptions as aws
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend
from django.core.mail.message import sanitize_address
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from providers import deadline
from providers.deadline import DeadlineExceeded

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, SizedBuffer
    from anymail.backends.amazon_ses import EmailBackend as _AwsMixin
    from anymail.backends.base_requests import AnymailRequestsBackend as _RequestsMixin

    # The mixins below override and call the methods of the class they are put before (at
    # run time they are plain classes): to the type checker they are its subclasses.
    _SMTPMixin = smtplib.SMTP
    _ConnectionMixin = HTTPConnection
else:
    _SMTPMixin = _ConnectionMixin = _RequestsMixin = _AwsMixin = object

# A plain addr-spec: nothing that needs quoting or parsing inside <...>.
_BARE_ADDRESS = re.compile(r"[^\s<>()\[\]\",;:\\@]+@[^\s<>()\[\]\",;:\\@]+")


class _QuickAddresses(_SMTPMixin):
    """MAIL FROM / RCPT TO without smtplib's quoteaddr() for plain addresses, and a note of
    whether the message content may have gone out (for failover: see providers.delivery).

    quoteaddr() runs the full RFC 2822 address parser on every address, which took a
    quarter of a queue worker's CPU per message (bench/, `--profile`). The API has already
    validated our addresses; a plain one only needs angle brackets. Anything else still goes
    through smtplib's own code.
    """

    # Set once the DATA command is under way (pipelined, once the content starts going
    # out): a failure from then on may come after the server took the message, so it is no
    # proof that the message was not accepted.
    in_data = False

    def data(self, msg: "ReadableBuffer | str") -> tuple[int, bytes]:
        self.in_data = True
        return super().data(msg)

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.in_data = False
        if _asks_smtputf8(options):
            return super().mail(sender, options)
        self.putcmd("mail", _mail_arguments(self, sender, options))
        return self.getreply()

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.putcmd("rcpt", _rcpt_arguments(self, recip, options))
        return self.getreply()


def _is_plain(address: str) -> bool:
    return address.isascii() and _BARE_ADDRESS.fullmatch(address) is not None


def _quoted(address: str) -> str:
    return f"<{address}>" if _is_plain(address) else smtplib.quoteaddr(address)


def _asks_smtputf8(options: Sequence[str]) -> bool:
    return any(o.lower() == "smtputf8" for o in options)


def _option_list(client: smtplib.SMTP, options: Sequence[str]) -> str:
    return " " + " ".join(options) if options and client.does_esmtp else ""


# What smtplib's mail() and rcpt() put after the verb (SMTPUTF8 aside: smtplib's own).
def _mail_arguments(client: smtplib.SMTP, sender: str, options: Sequence[str]) -> str:
    return f"FROM:{_quoted(sender)}{_option_list(client, options)}"


def _rcpt_arguments(client: smtplib.SMTP, recipient: str, options: Sequence[str]) -> str:
    return f"TO:{_quoted(recipient)}{_option_list(client, options)}"


def _command_line(verb: str, arguments: str = "") -> str:
    """One command as smtplib's putcmd() writes it, refusing a CR or LF as it does."""
    line = f"{verb} {arguments}" if arguments else verb
    if "\r" in line or "\n" in line:
        raise ValueError("command and arguments contain prohibited newline characters")
    return line + "\r\n"


_LINE_START_DOT = re.compile(rb"(?m)^\.")


def _data_content(msg: bytes) -> bytes:
    """The message as smtplib's data() sends it after the 354: a "." starting a line
    doubled, then CRLF "." CRLF."""
    content = _LINE_START_DOT.sub(b"..", msg)
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    return content + b".\r\n"


class _Pipelining(_QuickAddresses):
    """smtplib's sendmail(), but when the server offers PIPELINING (RFC 2920), MAIL FROM,
    every RCPT TO and DATA go out in one write and their replies are read afterwards: two
    round trips per message (envelope, then content) instead of three plus one per
    recipient. Without PIPELINING it is smtplib's own sendmail().

    The replies mean what they mean to smtplib's sendmail(): it returns the refused
    recipients, or raises the same exception, at the same reply, as it would. After a
    refusal the replies still owed are read before the RSET (RFC 2920 3.1). One
    difference, on purpose: `in_data` is set when the content starts going out, not when
    DATA is sent, because DATA now goes with the envelope: a connection lost while the
    envelope's replies are read still proves the message was not taken.
    """

    def sendmail(
        self,
        from_addr: str,
        to_addrs: str | Sequence[str],
        msg: "SizedBuffer | str",
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        self.ehlo_or_helo_if_needed()
        if (
            not self.has_extn("pipelining")
            or not isinstance(msg, bytes)
            or _asks_smtputf8(mail_options)
        ):
            return super().sendmail(from_addr, to_addrs, msg, mail_options, rcpt_options)
        recipients = [to_addrs] if isinstance(to_addrs, str) else list(to_addrs)
        options = [f"size={len(msg)}"] if self.has_extn("size") else []
        options += mail_options
        # The API allows a few dozen recipients: commands and replies fit in the sockets'
        # buffers, so writing them all before reading any reply cannot deadlock.
        envelope = [_command_line("mail", _mail_arguments(self, from_addr, options))]
        envelope += [
            _command_line("rcpt", _rcpt_arguments(self, r, rcpt_options)) for r in recipients
        ]
        envelope.append(_command_line("data"))
        self.in_data = False
        self.send("".join(envelope))

        code, reply = self.getreply()
        if code != 250:
            if code == 421:
                self.close()
            else:
                self._abandon_envelope(len(recipients) + 1)
            raise smtplib.SMTPSenderRefused(code, reply, from_addr)
        refused: dict[str, tuple[int, bytes]] = {}
        for recipient in recipients:
            code, reply = self.getreply()
            if code not in (250, 251):
                refused[recipient] = (code, reply)
            if code == 421:
                self.close()
                raise smtplib.SMTPRecipientsRefused(refused)
        if len(refused) == len(recipients):
            self._abandon_envelope(1)
            raise smtplib.SMTPRecipientsRefused(refused)
        code, reply = self.getreply()
        if code != 354:
            self._end_transaction(code)
            raise smtplib.SMTPDataError(code, reply)
        self.in_data = True
        self.send(_data_content(msg))
        code, reply = self.getreply()
        if code != 250:
            self._end_transaction(code)
            raise smtplib.SMTPDataError(code, reply)
        return refused

    def _end_transaction(self, code: int) -> None:
        # What smtplib's sendmail() does after a refusal: 421 means the server is closing
        # the connection; otherwise RSET, so the next MAIL starts afresh.
        if code == 421:
            self.close()
        else:
            self._reset()

    def _reset(self) -> None:
        # smtplib's _rset(): a server gone is left for the next command to find.
        with contextlib.suppress(smtplib.SMTPServerDisconnected):
            self.rset()

    def _abandon_envelope(self, owed: int) -> None:
        """After a refusal of MAIL or of every RCPT: read the `owed` replies still to come
        (DATA's last), then RSET. A server gone meanwhile is left for the next command to
        find, as smtplib's _rset() leaves it."""
        code = 0
        try:
            for _ in range(owed):
                code, _reply = self.getreply()
                if code == 421:
                    self.close()
                    return
            if code == 354:
                # RFC 2920 3.1: a DATA accepted in spite of the refusals gets a lone ".",
                # no content, and the server has no recipient to send that to.
                self.send(_command_line("."))
                self.getreply()
        except smtplib.SMTPServerDisconnected:
            return
        self._reset()


# --- sockets that keep the deadline ------------------------------------------------------

T = TypeVar("T")


def _arm(sock: socket.socket, per_operation: float | None) -> bool:
    """Set `sock`'s timeout for its next operation: `per_operation` (None: none), or what
    is left of the deadline when that is less. Returns whether the deadline set it; raises
    DeadlineExceeded when it has passed."""
    left = deadline.remaining()
    if left is not None and (per_operation is None or left < per_operation):
        sock.settimeout(left)
        return True
    sock.settimeout(per_operation)
    return False


def _timed(
    sock: socket.socket, per_operation: float | None, operation: Callable[..., T], *args: Any
) -> T:
    """operation(*args) on `sock` armed by _arm(); a socket timeout that only the deadline
    made that short is raised as DeadlineExceeded."""
    by_deadline = _arm(sock, per_operation)
    try:
        return operation(*args)
    except TimeoutError as err:
        if by_deadline and not isinstance(err, DeadlineExceeded):
            raise DeadlineExceeded("the provider's time ran out") from err
        raise


def tcp_connection(
    host: str, port: int, timeout: float | None, source_address: Any = None
) -> socket.socket:
    """A TCP connection to `host`:`port`, opened within `timeout` and the current deadline.

    Raises DeadlineExceeded when the deadline passed first, OSError (socket.timeout among
    them) as socket.create_connection does.
    """
    left = deadline.remaining()
    by_deadline = left is not None and (timeout is None or left < timeout)
    try:
        return socket.create_connection(
            (host, port), left if by_deadline else timeout, source_address
        )
    except TimeoutError as err:
        if by_deadline:
            raise DeadlineExceeded(f"no connection to port {port} in time") from err
        raise


# --- SMTP -------------------------------------------------------------------------------

# Caps on one reply. smtplib caps a line (8 KiB) but not a reply: a server could send
# "250-" lines for ever, each arriving in time. RFC 5321 replies are a few lines long; the
# longest real ones (EHLO) are a few dozen.
MAX_REPLY_LINES = 100
MAX_REPLY_BYTES = 64 * 1024
_MAX_LINE = 8192  # smtplib's line limit (its _MAXLINE), kept
_RECV_SIZE = 64 * 1024
# QUIT is tidying up after the outcome is known: it gets a short deadline of its own.
QUIT_SECONDS = 2.0


class ReplyTooLongError(smtplib.SMTPServerDisconnected):
    """The server's reply went over MAX_REPLY_LINES or MAX_REPLY_BYTES; we hung up.

    An SMTPServerDisconnected, so it is retried like a dropped connection."""


class _DeadlineIO(_SMTPMixin):
    """smtplib's socket I/O, each operation within the connection's timeout and the
    current deadline (providers.deadline): connect, TLS handshakes, every send, every
    receive, and QUIT within QUIT_SECONDS.

    Replies are read by our own reader instead of smtplib's buffered file (whose every
    read gets the full timeout again), from a buffer kept on the connection: bytes that
    arrive with one reply and belong to the next (pipelining) wait there for it.
    """

    timeout: Any  # seconds, or socket._GLOBAL_DEFAULT_TIMEOUT (smtplib's default)
    _host: str  # set by smtplib's connect(); not in its stubs

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._unread = bytearray()  # received, not yet read as part of a reply
        super().__init__(*args, **kwargs)  # connects when given a host

    def _per_operation(self) -> float | None:
        if isinstance(self.timeout, int | float):
            return self.timeout
        return socket.getdefaulttimeout()

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        self._unread = bytearray()
        return super().connect(host, port, source_address)

    def _get_socket(self, host: str, port: int, timeout: Any) -> socket.socket:
        return self._connect_tcp(host, port, timeout)

    def _connect_tcp(self, host: str, port: int, timeout: Any) -> socket.socket:
        if timeout is not None and not timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        return tcp_connection(host, port, self._per_operation(), self.source_address)

    def _start_tls(self, sock: socket.socket, context: ssl.SSLContext) -> ssl.SSLSocket:
        # The handshake's timeout counts for the whole handshake (CPython), so it ends
        # by the deadline however slowly the server sends its part.
        try:
            handshake = partial(context.wrap_socket, sock, server_hostname=self._host)
            return _timed(sock, self._per_operation(), handshake)
        except BaseException:
            sock.close()
            raise

    def starttls(  # type: ignore[override]  # keyfile, certfile: gone in 3.12, unused here
        self, *, context: ssl.SSLContext | None = None
    ) -> tuple[int, bytes]:
        """smtplib's STARTTLS, with the handshake within the deadline, and nothing the
        server sent before it kept.

        Raises SMTPNotSupportedError when the server does not offer STARTTLS and
        SMTPResponseException when it refuses it, as smtplib does.
        """
        self.ehlo_or_helo_if_needed()
        if not self.has_extn("starttls"):
            raise smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server.")
        code, reply = self.docmd("STARTTLS")
        if code != 220:
            raise smtplib.SMTPResponseException(code, reply)
        # Whatever came after the 220 came in clear, maybe from someone in between: it must
        # not be read as if it had come over TLS (STARTTLS response injection).
        self._unread = bytearray()
        assert self.sock is not None  # docmd() sent on it, and a hang-up would have raised
        self.sock = self._start_tls(self.sock, context or ssl.create_default_context())
        # RFC 3207 4.2: forget what the server said before TLS.
        self.helo_resp = self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        return code, reply

    def send(self, s: "ReadableBuffer | str") -> None:
        if not self.sock:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        data = s.encode(self.command_encoding) if isinstance(s, str) else s
        sys.audit("smtplib.send", self, data)
        sock, view = self.sock, memoryview(data)
        try:
            while view:
                view = view[_timed(sock, self._per_operation(), sock.send, view) :]
        except DeadlineExceeded:
            self.close()
            raise
        except OSError as err:
            self.close()
            raise smtplib.SMTPServerDisconnected("Server not connected") from err

    def getreply(self) -> tuple[int, bytes]:
        """The server's next reply: (code, text lines joined by LF), as smtplib's.

        Like smtplib: SMTPServerDisconnected when the connection ends (or fails) before the
        reply does; SMTPResponseException(500) for a line over 8 KiB; code -1 for a line
        without a numeric code. Beyond smtplib: ReplyTooLongError over MAX_REPLY_LINES or
        MAX_REPLY_BYTES, DeadlineExceeded when the deadline passes first. The connection is
        closed on every error.
        """
        lines: list[bytes] = []
        size = 0
        while True:
            line = self._read_line()
            if not line:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            if len(line) > _MAX_LINE:
                self.close()
                raise smtplib.SMTPResponseException(500, "Line too long.")
            size += len(line)
            if len(lines) == MAX_REPLY_LINES or size > MAX_REPLY_BYTES:
                self.close()
                raise ReplyTooLongError(
                    f"the server's reply was too long (over {MAX_REPLY_LINES} lines or "
                    f"{MAX_REPLY_BYTES // 1024} KiB), so MailPass hung up"
                )
            lines.append(line[4:].strip(b" \t\r\n"))
            try:
                code = int(line[:3])
            except ValueError:
                # A broken code: smtplib reads no continuation line after it either.
                return -1, b"\n".join(lines)
            if line[3:4] != b"-":
                return code, b"\n".join(lines)

    def _read_line(self) -> bytes:
        """The next line from the server with its line end, at most _MAX_LINE + 1 bytes (so
        a longer one shows); at the end of the stream what is left, b"" when nothing is."""
        while True:
            end = self._unread.find(b"\n", 0, _MAX_LINE + 1)
            if end >= 0:
                cut = end + 1
            elif len(self._unread) > _MAX_LINE:
                cut = _MAX_LINE + 1
            elif chunk := self._recv():
                self._unread += chunk
                continue
            else:
                cut = len(self._unread)
            line = bytes(self._unread[:cut])
            del self._unread[:cut]
            return line

    def _recv(self) -> bytes:
        sock = self.sock
        if sock is None:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        try:
            return _timed(sock, self._per_operation(), sock.recv, _RECV_SIZE)
        except DeadlineExceeded:
            self.close()
            raise
        except OSError as err:
            self.close()
            raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {err}") from err

    def close(self) -> None:
        self._unread = bytearray()
        super().close()

    def quit(self) -> tuple[int, bytes]:
        """smtplib's QUIT within QUIT_SECONDS (less if an enclosing deadline is nearer).

        A server that does not answer in time is hung up on, and that is an
        SMTPServerDisconnected: what Django's backend expects of a connection that is gone.
        """
        try:
            with deadline.within(QUIT_SECONDS):
                return super().quit()
        except DeadlineExceeded as err:
            self.close()
            raise smtplib.SMTPServerDisconnected("no answer to QUIT in time") from err


class _SMTP(_Pipelining, _DeadlineIO, smtplib.SMTP):
    pass


class _SMTPSSL(_Pipelining, _DeadlineIO, smtplib.SMTP_SSL):
    def _get_socket(self, host: str, port: int, timeout: Any) -> socket.socket:
        # SMTP_SSL's own two steps, each within the deadline: the handshake gets only what
        # connecting left of it.
        return self._start_tls(self._connect_tcp(host, port, timeout), self.context)


class SMTPBackend(EmailBackend):
    """Django's SMTP backend, plus a fast path for messages rendered ahead of time and an
    optional fixed envelope sender.

    A message may carry `smtp_envelope()` → (sender, recipients, wire bytes with CRLF line
    ends). Then those exact bytes go out, skipping Django's per-send MIME generation and
    address sanitising, which cost several times the SMTP transaction itself. Anything
    else is rendered the ordinary Django way. `envelope_sender`, when given, is the MAIL
    FROM of every message (the operator's relay: bounces go to the operator), whatever the
    message's From. Either way the connection keeps to the deadline (_DeadlineIO).
    """

    def __init__(self, *args: Any, envelope_sender: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.envelope_sender = envelope_sender

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return _SMTPSSL if self.use_ssl else _SMTP

    def _send(self, email_message: EmailMessage) -> bool:
        envelope = getattr(email_message, "smtp_envelope", None)
        if envelope is not None:
            sender, recipients, data = envelope()
        else:
            encoding = email_message.encoding or settings.DEFAULT_CHARSET
            sender = sanitize_address(email_message.from_email, encoding)
            recipients = [sanitize_address(a, encoding) for a in email_message.recipients()]
            data = email_message.message().as_bytes(linesep="\r\n")
        if not recipients:
            return False
        assert self.connection is not None  # send_messages() opened it
        self.connection.sendmail(self.envelope_sender or sender, recipients, data)
        return True


# --- HTTP: requests and urllib3 ---------------------------------------------------------


class _DeadlineSocket:
    """A connected socket (plain or TLS) whose sends and receives end by the deadline.

    http.client and urllib3 set a timeout, write with sendall() and read through
    makefile(); here each send and receive runs with that timeout or what is left of the
    deadline, whichever is less. Everything else is the socket's own.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()
        self._io_refs = 0
        self._closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def settimeout(self, value: float | None) -> None:
        self._timeout = value

    def gettimeout(self) -> float | None:
        return self._timeout

    def send(self, data: Any, *args: int) -> int:
        return _timed(self._sock, self._timeout, self._sock.send, data, *args)

    def sendall(self, data: Any, *args: int) -> None:
        # socket.sendall's timeout is for the whole call, but ssl.SSLSocket.sendall's is per
        # write: send piece by piece, each piece within the deadline.
        view = memoryview(data).cast("B")
        sent = 0
        while sent < len(view):
            sent += self.send(view[sent:], *args)

    def recv(self, *args: int) -> bytes:
        return _timed(self._sock, self._timeout, self._sock.recv, *args)

    def recv_into(self, buffer: Any, *args: int) -> int:
        return _timed(self._sock, self._timeout, self._sock.recv_into, buffer, *args)

    def makefile(
        self, mode: str = "r", buffering: int | None = None, **_: Any
    ) -> io.BufferedReader:
        """A buffered reader whose reads are this socket's recv_into(): what http.client
        reads an answer from."""
        if mode != "rb":
            raise ValueError(f"only mode 'rb' is supported, not {mode!r}")
        self._io_refs += 1
        size = buffering if buffering and buffering > 0 else io.DEFAULT_BUFFER_SIZE
        # SocketIO uses only recv_into() and _decref_socketios() of what it is given.
        return io.BufferedReader(socket.SocketIO(self, "rb"), size)  # type: ignore[arg-type]  # not a socket.socket

    # socket.socket's own rule: the socket closes once close() was called and no reader
    # from makefile() is open any more (http.client hands the reader to a response that may
    # outlive the connection). SocketIO calls _decref_socketios() when it is closed.
    def _decref_socketios(self) -> None:
        self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._sock.close()

    def close(self) -> None:
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()


class _DeadlineConnection(_ConnectionMixin):
    """urllib3's connection, connecting within the deadline and then sending and receiving
    through a _DeadlineSocket."""

    sock: Any  # a _DeadlineSocket once connected

    def _new_conn(self) -> socket.socket:
        given = self.timeout
        # urllib3 resolves its "default" marker before a pooled request connects; else: none.
        per_operation = given if isinstance(given, int | float) else None
        try:
            left = deadline.remaining()
        except DeadlineExceeded as err:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out: {err}") from err
        if left is not None and (per_operation is None or left < per_operation):
            # urllib3 connects with self.timeout; its errors then say how long it waited.
            self.timeout = left
        try:
            sock = super()._new_conn()
        finally:
            self.timeout = given
        try:
            # For the TLS handshake that may follow (HTTPSConnection.connect), which counts
            # its timeout for the whole handshake.
            _arm(sock, per_operation)
        except DeadlineExceeded as err:
            sock.close()
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out: {err}") from err
        return sock

    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock)


class _DeadlineHTTPConnection(_DeadlineConnection, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnection, HTTPSConnection):
    pass


class _DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOL_CLASSES = {"http": _DeadlineHTTPConnectionPool, "https": _DeadlineHTTPSConnectionPool}


class DeadlineHTTPAdapter(HTTPAdapter):
    """requests' transport adapter, its connections (direct or through an HTTP proxy) made
    of _DeadlineSocket: a request ends by the deadline, connect to the last byte of the
    answer. A SOCKS proxy (the operator's own) keeps urllib3's SOCKS connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager


def _mount_deadline_adapters(session: requests.Session) -> requests.Session:
    for prefix in ("https://", "http://"):
        session.mount(prefix, DeadlineHTTPAdapter())
    return session


def http_session() -> requests.Session:
    """A requests Session whose requests end by the deadline of providers.deadline, connect
    to the last byte of the answer (each socket operation also within its timeout=)."""
    return _mount_deadline_adapters(requests.Session())


class RequestsWithinDeadline(_RequestsMixin):
    """For django-anymail's requests-based backends (SendGrid, Mailgun, Postmark, Resend,
    Brevo): their session sends through DeadlineHTTPAdapter. create_session() is anymail's
    documented extension point of AnymailRequestsBackend."""

    def create_session(self) -> requests.Session:
        return _mount_deadline_adapters(super().create_session())


# --- HTTP under boto3 (Amazon SES) ------------------------------------------------------


def aws_calls_within_deadline(client: Any) -> requests.Session:
    """Make boto3 `client` send its requests through a session of ours, so each call ends
    by the deadline, connect to the last byte of the answer. Returns that session, to be
    closed with the client.

    botocore's own HTTP layer has per-read timeouts only, and no public way to change its
    connections. Its "before-send" event is public: a handler may answer a signed request
    itself, which this one does over the session, turning errors into the ones botocore's
    HTTP layer raises (so django-anymail and delivery.classify_error read them as usual).
    The client's connect and read timeouts still bound each socket operation.
    """
    session = http_session()
    # The request is complete as botocore signed it: none of requests' default headers,
    # and no credentials from ~/.netrc (requests reads it when a request has no auth).
    session.headers.clear()
    session.auth = _as_signed
    config = client.meta.config
    timeout = (config.connect_timeout, config.read_timeout)
    client.meta.events.register("before-send", partial(_send_aws_request, session, timeout))
    return session


def _as_signed(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


class _ReadBody:
    """An answer's body, read already, in the shape AWSResponse reads it from (stream())."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield self._content


def _send_aws_request(
    session: requests.Session,
    timeout: tuple[float, float],
    request: AWSPreparedRequest,
    **kwargs: Any,
) -> AWSResponse:
    try:
        response = session.request(
            request.method,
            request.url,
            data=request.body,
            headers=dict(request.headers.items()),
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as err:
        raise _aws_error(err, request.url) from err
    return AWSResponse(
        request.url, response.status_code, response.headers, _ReadBody(response.content)
    )


def _aws_error(err: requests.RequestException, url: str) -> aws.BotoCoreError:
    # What botocore.httpsession raises for the urllib3 error under each of these.
    if isinstance(err, requests.exceptions.SSLError):
        return aws.SSLError(endpoint_url=url, error=err)
    if isinstance(err, requests.ConnectTimeout):
        return aws.ConnectTimeoutError(endpoint_url=url, error=err)
    if isinstance(err, requests.ReadTimeout):
        return aws.ReadTimeoutError(endpoint_url=url, error=err)
    if isinstance(err, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        reason = getattr(err.args[0], "reason", None) if err.args else None
        if isinstance(reason, NewConnectionError):
            return aws.EndpointConnectionError(endpoint_url=url, error=err)
        return aws.ConnectionClosedError(endpoint_url=url, error=err)
    return aws.HTTPClientError(error=err)


# boto3 builds a client from its service model files, tens of milliseconds of CPU each time,
# and a client is safe to share between threads: a worker's sending threads to one SES
# provider would otherwise spend seconds building one each. Backends with the same settings
# share a client (and the session it sends through) for the life of the process; the
# oldest goes once there are more than this many.
_AWS_CLIENTS_KEPT = 32
_aws_clients: dict[str, tuple[Any, requests.Session]] = {}
_aws_clients_lock = threading.Lock()


class AwsWithinDeadline(_AwsMixin):
    """For django-anymail's Amazon SES backend: its boto3 client, made in open(), sends
    through aws_calls_within_deadline(), and is shared by every backend of the process
    with the same settings (close() lets go of it without closing it)."""

    client: Any

    def __init__(self, **kwargs: Any) -> None:
        self._settings_key = hashlib.sha256(repr(sorted(kwargs.items())).encode()).hexdigest()
        super().__init__(**kwargs)

    def open(self) -> bool | None:
        if self.client:
            return False
        with _aws_clients_lock:
            shared = _aws_clients.get(self._settings_key)
            if shared is None:
                if not super().open():
                    return None  # failed silently (fail_silently=True)
                shared = (self.client, aws_calls_within_deadline(self.client))
                _aws_clients[self._settings_key] = shared
                if len(_aws_clients) > _AWS_CLIENTS_KEPT:
                    oldest = next(iter(_aws_clients))
                    _client, session = _aws_clients.pop(oldest)
                    session.close()
        self.client = shared[0]
        return True

    def close(self) -> None:
        self.client = None
