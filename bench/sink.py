"""A minimal, fast SMTP sink for benchmarks (not for tests, not for production).

    python bench/sink.py --port P [--delay-ms D] [--rtt-ms R]   # serve until SIGTERM/SIGINT
    python bench/sink.py --selfcheck [--count N]          # how many msg/s it accepts

It speaks just enough SMTP for smtplib and Django's SMTP backend: the greeting, EHLO/HELO
(advertising PIPELINING, 8BITMIME and SIZE), MAIL, RCPT, DATA (read up to CRLF.CRLF),
RSET, NOOP and QUIT; anything else is a 502. Messages are counted, never stored. With
--delay-ms each reply to the end of DATA is held back by D ms (a relay that takes its time
to queue a message), without blocking other connections; replies on one connection keep
their order.

With --rtt-ms the sink is R ms away: every reply, the greeting included, reaches the
client R ms after the read that produced it. All replies produced by one read of the socket
leave together after one delay, so commands the client pipelines cost one round trip, not
one each, as on a real network; and the connection closes R ms after QUIT. Both delays can
be on at once (the DATA reply then waits D, then travels R).

It runs as its own process (so it never shares a GIL with the sender), on uvloop when
that is importable, and costs a few microseconds of CPU per message: a sender is never
waiting on it (aiosmtpd costs ~0.5 ms per message and would be the bottleneck).

Control commands, on any SMTP connection (the bench uses a separate one):
    XSTATS       -> 250 accepted=N connections=N unique_ids=N duplicate_ids=N no_id=N
                    delay_ms=D rtt_ms=R open_sessions=N peak_sessions=N
                    (duplicate_ids: Message-IDs received more than once; a session is a
                    connection that said EHLO or HELO, which control connections never do:
                    peak_sessions is the most SMTP clients connected at once)
    XRESET       -> zero the counters and forget the Message-IDs seen
    XDELAY D     -> change the DATA reply delay to D ms
    XRTT R       -> change the round trip to R ms (for connections opened from then on,
                    and for the later replies of open ones)
The port actually bound (useful with --port 0) is printed as "READY <port>" on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Self

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)

EHLO_REPLY = b"250-sink.bench.invalid\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"


class Stats:
    def __init__(self) -> None:
        self.delay = 0.0
        self.rtt = 0.0
        self.open_sessions = 0
        self.reset()

    def reset(self) -> None:
        self.accepted = 0
        self.connections = 0
        self.no_id = 0
        self.signed = 0  # messages with a DKIM-Signature header
        self.ids: dict[bytes, int] = {}
        self.duplicates = 0  # ids seen more than once (each counted once)
        self.peak_sessions = self.open_sessions

    def session_opened(self) -> None:
        self.open_sessions += 1
        self.peak_sessions = max(self.peak_sessions, self.open_sessions)

    def count(self, message_id: bytes | None, signed: bool = False) -> None:
        self.accepted += 1
        self.signed += signed
        if message_id is None:
            self.no_id += 1
            return
        seen = self.ids.get(message_id, 0)
        if seen == 1:
            self.duplicates += 1
        self.ids[message_id] = seen + 1

    def line(self) -> bytes:
        return (
            f"250 accepted={self.accepted} connections={self.connections} "
            f"unique_ids={len(self.ids)} duplicate_ids={self.duplicates} no_id={self.no_id} "
            f"signed={self.signed} "
            f"delay_ms={self.delay * 1000:g} rtt_ms={self.rtt * 1000:g} "
            f"open_sessions={self.open_sessions} peak_sessions={self.peak_sessions}\r\n"
        ).encode()


STATS = Stats()
_CLOSE = object()
# A reply due within this much of now goes out now (timers fire up to a clock tick early).
_DUE_SLACK = 0.0005


class SinkProtocol(asyncio.Protocol):
    """One SMTP session. Parsing works on a bytearray and an offset: no per-line copies."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        self.buf = bytearray()
        self.in_data = False
        self.scan = 0  # where to resume looking for the end of DATA
        self.rcpts = 0
        self.have_mail = False
        self.queue: deque = deque()  # replies held behind a delayed one
        self.waiting = False
        self.closed = False  # QUIT seen (or a protocol error): ignore anything after it
        self.out: list[bytes] = []
        self.in_transit: deque = deque()  # (due, bytes or _CLOSE) on their way, --rtt-ms
        self.session = False  # EHLO or HELO seen: an SMTP client, not a control connection
        STATS.connections += 1
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self._emit(b"220 sink.bench.invalid ESMTP bench sink\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session:
            STATS.open_sessions -= 1
        self.in_transit.clear()

    # --- the way back: each batch of replies travels the round trip -----------------

    def _emit(self, data: object) -> None:
        """Send `data` (bytes, or _CLOSE) to the client, one round trip from now."""
        if STATS.rtt <= 0 and not self.in_transit:
            if data is _CLOSE:
                self.transport.close()
            else:
                self.transport.write(data)
            return
        self.in_transit.append((self.loop.time() + STATS.rtt, data))
        if len(self.in_transit) == 1:
            self.loop.call_at(self.in_transit[0][0], self._arrive)

    def _arrive(self) -> None:
        in_transit = self.in_transit
        now = self.loop.time() + _DUE_SLACK
        while in_transit and in_transit[0][0] <= now:
            _, data = in_transit.popleft()
            if self.transport.is_closing():
                in_transit.clear()
                return
            if data is _CLOSE:
                in_transit.clear()
                self.transport.close()
                return
            self.transport.write(data)
        if in_transit:
            self.loop.call_at(in_transit[0][0], self._arrive)

    # --- output, in order, some replies delayed -------------------------------------

    def reply(self, data: bytes) -> None:
        if self.waiting:
            self.queue.append(data)
        else:
            self.out.append(data)  # written in one go at the end of data_received

    def _flush(self) -> None:
        if self.out:
            self._emit(b"".join(self.out))
            self.out.clear()

    def reply_delayed(self, data: bytes) -> None:
        if STATS.delay <= 0:
            self.reply(data)
            return
        self._flush()
        self.queue.append((data,))
        if not self.waiting:
            self._pump()

    def _pump(self) -> None:
        self.waiting = False
        queue = self.queue
        while queue:
            item = queue.popleft()
            if item is _CLOSE:
                self._flush()
                self._emit(_CLOSE)
                queue.clear()
                return
            if isinstance(item, tuple):
                self._flush()
                self.waiting = True
                self.loop.call_later(STATS.delay, self._release, item[0])
                return
            self.out.append(item)
        self._flush()

    def _release(self, data: bytes) -> None:
        self.out.append(data)
        if self.transport.is_closing():
            self.out.clear()
            self.queue.clear()
            self.waiting = False
            return
        self._pump()

    def close_after_replies(self) -> None:
        self.closed = True
        if self.waiting:
            self.queue.append(_CLOSE)
        else:
            self._flush()
            self._emit(_CLOSE)

    # --- input ------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        buf = self.buf
        buf += data
        pos = 0
        n = len(buf)
        while pos < n and not self.closed:
            if self.in_data:
                if self.scan == pos and buf.startswith(b".\r\n", pos):
                    end = pos  # empty body
                else:
                    i = buf.find(b"\r\n.\r\n", max(self.scan, pos))
                    if i < 0:
                        self.scan = max(pos, n - 4)
                        break
                    end = i + 2
                self._message(buf, pos, end)
                pos = end + 3
                self.in_data = False
                continue
            j = buf.find(b"\r\n", pos)
            if j < 0:
                if n - pos > 4096:
                    self.reply(b"500 line too long\r\n")
                    self.close_after_replies()
                    pos = n
                break
            line = bytes(buf[pos:j])
            pos = j + 2
            if self._command(line):
                self.scan = pos
        if pos:
            del buf[:pos]
            if self.in_data:
                self.scan -= pos
        self._flush()

    def _message(self, buf: bytearray, start: int, end: int) -> None:
        head_end = buf.find(b"\r\n\r\n", start, end)
        if head_end < 0:
            head_end = end
        match = _MESSAGE_ID.search(buf, start, head_end)
        signed = buf.startswith(b"DKIM-Signature:", start)
        STATS.count(bytes(match.group(1)) if match else None, signed)
        self.have_mail = False
        self.rcpts = 0
        self.reply_delayed(b"250 2.0.0 OK queued\r\n")

    def _command(self, line: bytes) -> bool:
        """Handle one command line; True when DATA mode starts."""
        verb = line[:4].upper()
        if verb == b"MAIL":
            self.have_mail = True
            self.rcpts = 0
            self.reply(b"250 2.1.0 OK\r\n")
        elif verb == b"RCPT":
            if not self.have_mail:
                self.reply(b"503 5.5.1 MAIL first\r\n")
            else:
                self.rcpts += 1
                self.reply(b"250 2.1.5 OK\r\n")
        elif verb == b"DATA":
            if not self.rcpts:
                self.reply(b"503 5.5.1 RCPT first\r\n")
                return False
            self.in_data = True
            self.reply(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            return True
        elif verb == b"EHLO":
            self._start_session()
            self.reply(EHLO_REPLY)
        elif verb == b"HELO":
            self._start_session()
            self.reply(b"250 sink.bench.invalid\r\n")
        elif verb == b"RSET":
            self.have_mail = False
            self.rcpts = 0
            self.reply(b"250 2.0.0 OK\r\n")
        elif verb == b"NOOP":
            self.reply(b"250 2.0.0 OK\r\n")
        elif verb == b"QUIT":
            self.reply(b"221 2.0.0 Bye\r\n")
            self.close_after_replies()
        elif verb == b"XSTA":
            self.reply(STATS.line())
        elif verb == b"XRES":
            STATS.reset()
            STATS.connections = 1  # this one
            self.reply(b"250 reset\r\n")
        elif verb == b"XDEL":
            try:
                STATS.delay = max(0.0, float(line.split()[1]) / 1000)
                self.reply(b"250 OK\r\n")
            except (IndexError, ValueError):
                self.reply(b"501 XDELAY <ms>\r\n")
        elif verb == b"XRTT":
            try:
                STATS.rtt = max(0.0, float(line.split()[1]) / 1000)
                self.reply(b"250 OK\r\n")
            except (IndexError, ValueError):
                self.reply(b"501 XRTT <ms>\r\n")
        else:
            self.reply(b"502 5.5.2 Command not implemented\r\n")
        return False

    def _start_session(self) -> None:
        self.have_mail = False
        if not self.session:
            self.session = True
            STATS.session_opened()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # optional speed-up
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_until_signalled(start: Callable[[], Awaitable[asyncio.AbstractServer]]) -> None:
    """Run the server `start()` makes (on uvloop when importable), print "READY <port>
    <loop>" for the parent, and serve until SIGTERM or SIGINT. The fake ESP API runs the
    same way."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await start()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        bound = server.sockets[0].getsockname()[1]
        kind = type(loop).__module__.split(".")[0]
        print(f"READY {bound} {kind}", flush=True)
        await stop.wait()
        server.close()

    with asyncio.Runner(loop_factory=_new_loop) as runner:
        runner.run(serve())


def serve(host: str, port: int, delay_ms: float, rtt_ms: float = 0.0) -> None:
    STATS.delay = max(0.0, delay_ms / 1000)
    STATS.rtt = max(0.0, rtt_ms / 1000)
    run_until_signalled(
        lambda: asyncio.get_running_loop().create_server(
            SinkProtocol, host, port, backlog=512, reuse_address=True
        )
    )


# --- helpers for the bench (client side) -----------------------------------------------


def stop_process(proc: subprocess.Popen, timeout: float = 5) -> None:
    """SIGTERM, then SIGKILL if it is not gone within `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class ServerProcess:
    """A bench server (this sink, the fake ESP API) as a child process that prints
    "READY <port> <loop>" once it listens (run_until_signalled): start(), stop()."""

    name = "server"

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.loop_kind = ""

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Self:
        self.proc = subprocess.Popen(
            [sys.executable, *self.command(), "--host", self.host, "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            self.stop()
            raise RuntimeError(f"the {self.name} did not start")
        self.port = int(line[1])
        self.loop_kind = line[2] if len(line) > 2 else "?"
        return self

    def cpu_seconds(self) -> float:
        """User+system CPU the process has used so far (from /proc)."""
        return proc_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None


class SinkProcess(ServerProcess):
    """The sink as a child process: start(), control(), stop()."""

    name = "SMTP sink"

    def __init__(self, delay_ms: float = 0, host: str = "127.0.0.1", rtt_ms: float = 0) -> None:
        super().__init__(host)
        self.delay_ms = delay_ms
        self.rtt_ms = rtt_ms

    def command(self) -> list[str]:
        return [
            os.path.abspath(__file__),
            "--delay-ms",
            str(self.delay_ms),
            "--rtt-ms",
            str(self.rtt_ms),
        ]

    def control(self, command: str) -> str:
        return control(self.host, self.port, command)

    def stats(self) -> dict[str, float]:
        reply = self.control("XSTATS")
        return {k: float(v) for k, v in (p.split("=") for p in reply.split()[1:])}

    def reset(self) -> None:
        self.control("XRESET")


def proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def control(host: str, port: int, command: str) -> str:
    """Send one control command on a fresh connection and return the reply line."""
    with socket.create_connection((host, port), timeout=10) as sock:
        f = sock.makefile("rb")
        f.readline()  # greeting
        sock.sendall(command.encode() + b"\r\nQUIT\r\n")
        reply = f.readline().decode().strip()
        f.close()
    return reply


def raw_blast(host: str, port: int, count: int, body: bytes, window: int = 500) -> float:
    """Pipelined raw-socket client: `count` messages over one connection; returns msg/s.

    Sends `window` whole transactions at a time and reads their 4 replies each, so the
    client does almost no work per message: what is measured is the sink.
    """
    txn = (
        b"MAIL FROM:<bench@example.com>\r\nRCPT TO:<sink@example.com>\r\nDATA\r\n"
        + body.rstrip(b"\r\n")
        + b"\r\n.\r\n"
    )
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"EHLO bench\r\n")
        while f.readline()[3:4] == b"-":
            pass
        started = time.perf_counter()
        left = count
        while left:
            k = min(window, left)
            sock.sendall(txn * k)
            want = 4 * k
            got = 0
            while got < want:
                chunk = f.read1(65536)
                if not chunk:
                    raise ConnectionError("sink closed the connection")
                got += chunk.count(b"\r\n")
            left -= k
        elapsed = time.perf_counter() - started
        sock.sendall(b"QUIT\r\n")
        f.close()
    return count / elapsed


def _selfcheck(count: int, delay_ms: float) -> None:
    body = b"Message-ID: <x@bench>\r\nSubject: selfcheck\r\n\r\n" + (b"x" * 76 + b"\r\n") * 26
    sink = SinkProcess(delay_ms=delay_ms).start()
    try:
        cpu0 = sink.cpu_seconds()
        rates = [raw_blast(sink.host, sink.port, count, body) for _ in range(5)]
        cpu = sink.cpu_seconds() - cpu0
        stats = sink.stats()
    finally:
        sink.stop()
    rates.sort()
    print(
        f"sink ({sink.loop_kind}): pipelined raw client, {count} x {len(body)} B messages: "
        f"median {rates[2]:,.0f} msg/s (min {rates[0]:,.0f}, max {rates[-1]:,.0f}); "
        f"sink CPU {cpu / (5 * count) * 1e6:.1f} us/msg (= {5 * count / cpu:,.0f} msg/s of "
        f"one core); counted {stats['accepted']:,.0f} of {5 * count:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525, help="0 picks a free port")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="DATA's reply held back")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="every reply's round trip")
    parser.add_argument("--selfcheck", action="store_true", help="measure the sink and exit")
    parser.add_argument("--count", type=int, default=50_000, help="messages per selfcheck run")
    args = parser.parse_args()
    if args.selfcheck:
        _selfcheck(args.count, args.delay_ms)
        return
    serve(args.host, args.port, args.delay_ms, args.rtt_ms)


if __name__ == "__main__":
    main()
