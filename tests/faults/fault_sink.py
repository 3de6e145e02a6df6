"""A fault-injecting SMTP sink (aiosmtpd) for the fault suites.

It accepts mail like tests/smtp_sink.py, but it can misbehave on demand, for every
message or only for given recipients, and the faults can be switched while it runs:

    connect         reply this (e.g. "421 4.3.2 Try later") instead of the 220 greeting,
                    then close the connection
    rcpt            {address: reply}: refuse these recipients at RCPT ("550 5.1.1 No such user")
    data            reply this at the end of DATA for every message ("451 4.3.0 Try later")
    data_for        {address: reply}: the same, only for messages to these recipients
    after_data      "hang": read the whole message, then never answer;
                    "drop": read the whole message, then close the socket before the 250
    after_data_for  {address: "hang" | "drop"}: the same, only for these recipients
    delay           seconds to wait before answering DATA (a slow relay)
    until           Unix time after which all faults lapse (the server "recovers")

With `pipelining`, set when it starts, it offers PIPELINING (RFC 2920) in its EHLO reply
(aiosmtpd reads pipelined commands either way, answering each in turn).

Every message and refusal is recorded, one line each, flushed at once, so the counts
survive the processes that sent them:

    <disposition> TAB <Message-ID or -> TAB <recipients, comma-separated> TAB <Unix time>

The most connections it had open at once is kept in <record>.peak (the courtesy caps'
tests read it).

where disposition is "250" (accepted), the code of a refusal ("421", "550", "451"),
"hang" or "drop". A hung or dropped message was read in full: a real server may well have
delivered it, so the caller decides whether it counts (see FaultRecord).

Two ways to run it:
- in this process: FaultSink().start() (an aiosmtpd Controller thread), for fast tests;
- as its own process, when the senders are worker subprocesses:
      python -m tests.faults.fault_sink --port 0 --record FILE [--control FILE]
  It prints "READY <port>" once it listens and stops on SIGTERM/SIGINT. Faults are read
  from the --control JSON file (same keys as above), re-read whenever it changes;
  FaultSinkProcess wraps all that (--pipelining: offer PIPELINING). Binds 127.0.0.1 only.
"""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
SERVER_NAME = "fault-sink.test"  # never socket.getfqdn(): no DNS lookups from tests
ROOT = Path(__file__).resolve().parents[2]
AFTER_DATA_MODES = ("hang", "drop")


@dataclass(frozen=True)
class Faults:
    connect: str | None = None
    rcpt: dict[str, str] = field(default_factory=dict)
    data: str | None = None
    data_for: dict[str, str] = field(default_factory=dict)
    after_data: str | None = None
    after_data_for: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    until: float | None = None

    def __post_init__(self) -> None:
        modes = [self.after_data, *self.after_data_for.values()]
        bad = [m for m in modes if m is not None and m not in AFTER_DATA_MODES]
        if bad:
            raise ValueError(f"after_data must be one of {AFTER_DATA_MODES}, not {bad}")

    @classmethod
    def from_json(cls, text: str) -> "Faults":
        data = json.loads(text) if text.strip() else {}
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def active(self) -> "Faults":
        """These faults, or none at all once `until` has passed."""
        if self.until is not None and time.time() >= self.until:
            return NO_FAULTS
        return self


NO_FAULTS = Faults()


class FaultHandler:
    """aiosmtpd handler: decides every reply from the current Faults and records outcomes."""

    def __init__(
        self,
        record_path: Path | None = None,
        control_path: Path | None = None,
        *,
        pipelining: bool = False,
    ):
        self.record_path = record_path
        self.control_path = control_path
        self.pipelining = pipelining
        self._faults = NO_FAULTS
        self._control_seen: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self.lines: list[tuple[str, str, str]] = []  # what was recorded, also kept in memory
        self.times: list[float] = []  # when each line was recorded
        self._record = open(record_path, "a", encoding="utf-8") if record_path else None
        self.open_sessions = 0
        self.peak_sessions = 0

    # --- faults -------------------------------------------------------------------

    def set_faults(self, faults: Faults) -> None:
        self._faults = faults

    @property
    def faults(self) -> Faults:
        self._reload_control()
        return self._faults.active()

    def _reload_control(self) -> None:
        if self.control_path is None:
            return
        try:
            st = os.stat(self.control_path)
        except FileNotFoundError:
            self._control_seen, self._faults = None, NO_FAULTS
            return
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        if seen != self._control_seen:
            self._faults = Faults.from_json(self.control_path.read_text(encoding="utf-8"))
            self._control_seen = seen

    # --- recording ----------------------------------------------------------------

    def record(self, disposition: str, message_id: str = "-", rcpts: list[str] = ()) -> None:
        line = (disposition, message_id or "-", ",".join(rcpts))
        now = time.time()
        with self._lock:
            self.lines.append(line)
            self.times.append(now)
            if self._record is not None:
                self._record.write("\t".join((*line, f"{now:.6f}")) + "\n")
                self._record.flush()

    def session_opened(self) -> None:
        # Called on the event loop only: no lock needed for the counts.
        self.open_sessions += 1
        if self.open_sessions > self.peak_sessions:
            self.peak_sessions = self.open_sessions
            if self.record_path is not None:
                self.record_path.with_suffix(".peak").write_text(str(self.peak_sessions))

    def session_closed(self) -> None:
        self.open_sessions -= 1

    def close(self) -> None:
        if self._record is not None:
            self._record.close()

    # --- SMTP hooks ---------------------------------------------------------------

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list
    ) -> list[str]:
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    def connect_reply(self) -> str | None:
        reply = self.faults.connect
        if reply:
            self.record(reply.split()[0])
        return reply

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        reply = self.faults.rcpt.get(address)
        if reply:
            self.record(reply.split()[0], rcpts=[address])
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        faults = self.faults
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        message_id = BytesHeaderParser().parsebytes(content).get("Message-ID", "-").strip()
        rcpts = list(envelope.rcpt_tos)
        if faults.delay:
            await asyncio.sleep(faults.delay)
        reply = next((faults.data_for[r] for r in rcpts if r in faults.data_for), faults.data)
        if reply:
            self.record(reply.split()[0], message_id, rcpts)
            return reply
        mode = next(
            (faults.after_data_for[r] for r in rcpts if r in faults.after_data_for),
            faults.after_data,
        )
        if mode == "drop":
            self.record("drop", message_id, rcpts)
            if server.transport is not None:
                server.transport.close()
            await asyncio.sleep(3600)  # cancelled by connection_lost; no reply goes out
        if mode == "hang":
            self.record("hang", message_id, rcpts)
            await asyncio.sleep(3600)  # until the client gives up and hangs up
        self.record("250", message_id, rcpts)
        return "250 Message accepted for delivery"


class FaultSMTP(SMTP):
    """aiosmtpd's SMTP server, plus a refusal in place of the greeting and a count of the
    connections open."""

    async def _handle_client(self) -> None:
        self.event_handler.session_opened()
        try:
            reply = self.event_handler.connect_reply()
            if reply:
                await self.push(reply)
                if self.transport is not None:
                    self.transport.close()
                return
            await super()._handle_client()
        finally:
            self.event_handler.session_closed()


def _smtp_factory(handler: FaultHandler) -> FaultSMTP:
    return FaultSMTP(handler, hostname=SERVER_NAME, enable_SMTPUTF8=True)


@dataclass
class FaultRecord:
    """What a sink recorded, read back from its lines."""

    lines: list[tuple[str, str, str]]
    times: list[float] = field(default_factory=list)  # Unix time of each line

    @classmethod
    def read(cls, path: Path) -> "FaultRecord":
        lines, times = [], []
        if path.exists():
            for raw in path.read_text(encoding="utf-8").splitlines():
                parts = raw.split("\t")
                if len(parts) == 4:  # a half-written last line cannot happen (flush per line)
                    lines.append((parts[0], parts[1], parts[2]))
                    times.append(float(parts[3]))
        return cls(lines, times)

    def most_accepted_in_a_second(self) -> int:
        """The most messages accepted within any one second (a sliding window)."""
        pairs = zip(self.lines, self.times, strict=True)
        accepted = sorted(moment for (disp, _, _), moment in pairs if disp == "250")
        most, start = 0, 0
        for end, moment in enumerate(accepted):
            while moment - accepted[start] >= 1.0:
                start += 1
            most = max(most, end - start + 1)
        return most

    def accepted(self) -> Counter:
        """Message-ID → how many times it was accepted with a 250."""
        return Counter(mid for disp, mid, _ in self.lines if disp == "250")

    def dispositions(self) -> Counter:
        return Counter(disp for disp, _, _ in self.lines)


# --- in this process ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class _Controller(Controller):
    def factory(self) -> FaultSMTP:
        return _smtp_factory(self.handler)


class FaultSink:
    """The sink in a thread of this process (aiosmtpd Controller), for fast tests."""

    def __init__(self, record_path: Path | None = None, *, pipelining: bool = False) -> None:
        self.handler = FaultHandler(record_path, pipelining=pipelining)
        self.host = HOST
        self.port = free_port()
        self.controller = _Controller(
            self.handler, hostname=self.host, port=self.port, server_hostname=SERVER_NAME
        )

    def start(self) -> "FaultSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        self.handler.close()

    def set_faults(self, **faults: Any) -> None:
        self.handler.set_faults(Faults(**faults))

    def clear_faults(self) -> None:
        self.handler.set_faults(NO_FAULTS)

    def reset(self) -> None:
        self.clear_faults()
        with self.handler._lock:
            self.handler.lines.clear()

    @property
    def record(self) -> FaultRecord:
        with self.handler._lock:
            return FaultRecord(list(self.handler.lines), list(self.handler.times))


# --- as a separate process ------------------------------------------------------------


class FaultSinkProcess:
    """`python -m tests.faults.fault_sink` in a child process, steered by its control file."""

    def __init__(self, workdir: Path, *, pipelining: bool = False) -> None:
        self.pipelining = pipelining
        self.record_path = workdir / "sink-record.tsv"
        self.control_path = workdir / "sink-control.json"
        self.log_path = workdir / "sink-stderr.log"
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.host = HOST

    def start(self) -> "FaultSinkProcess":
        self.clear_faults()
        self._log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "tests.faults.fault_sink", "--port", "0"),
                *("--record", str(self.record_path), "--control", str(self.control_path)),
                *(["--pipelining"] if self.pipelining else []),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        line = self.proc.stdout.readline()  # "READY <port>", or "" if it died
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"fault sink did not start: {line!r} {self.log_path.read_text()}")
        self.port = int(line.split()[1])
        return self

    def set_faults(self, **faults: Any) -> None:
        # Atomic replace: the sink never reads a half-written file.
        tmp = self.control_path.with_suffix(".tmp")
        tmp.write_text(Faults(**faults).to_json(), encoding="utf-8")
        os.replace(tmp, self.control_path)

    def clear_faults(self) -> None:
        self.set_faults()

    @property
    def record(self) -> FaultRecord:
        return FaultRecord.read(self.record_path)

    def peak_sessions(self) -> int:
        """The most SMTP connections it had open at once."""
        peak = self.record_path.with_suffix(".peak")
        return int(peak.read_text()) if peak.exists() else 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if getattr(self, "_log", None) is not None:
            self._log.close()


async def _serve(port: int, record: Path, control: Path | None, pipelining: bool) -> None:
    handler = FaultHandler(record, control, pipelining=pipelining)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _smtp_factory(handler), HOST, port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()
        handler.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--record", type=Path, required=True)
    parser.add_argument("--control", type=Path, default=None)
    parser.add_argument("--pipelining", action="store_true", help="offer PIPELINING")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.record, args.control, args.pipelining))


if __name__ == "__main__":
    main()
