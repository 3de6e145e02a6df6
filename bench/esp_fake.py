"""A fake ESP HTTP API for benchmarks, some distance away (not for tests, not for production).

    python bench/esp_fake.py --port P [--latency-ms L]    # serve until SIGTERM/SIGINT

It answers the send calls of two ESPs the way they do, on 127.0.0.1 only:
    POST /email                     Postmark: {"ErrorCode": 0, "Message": "OK",
                                    "MessageID": ..., "SubmittedAt": ..., "To": ...}
    POST /v2/email/outbound-emails  Amazon SES v2 SendEmail: {"MessageId": ...}
so MAILPASS_ESP_API_URLS="postmark=http://127.0.0.1:P/,amazon_ses=http://127.0.0.1:P/"
points both kinds at it. A call without the ESP's credential header gets the ESP's
authentication error; anything else is a 404. Each send call is answered --latency-ms
after its request arrived (an ESP's API across the internet), without holding up other
connections. HTTP/1.1 with keep-alive: a client's connection serves call after call.

It counts what the bench reports: the calls, each message's Message-ID (to check that
every message arrived exactly once), the most send calls in flight at once (received, not
yet answered) and the most client connections open at once. It runs as its own process on
uvloop when that is importable, like bench/sink.py, so it never shares a GIL with the
sender and costs little CPU per call.

Control, on paths a client of the ESP never uses (they count in none of the figures):
    GET  /_bench/stats         -> {"accepted": N, "requests": N, "unique_ids": N,
                                   "duplicate_ids": N, "no_id": N, "connections": N,
                                   "peak_connections": N, "peak_in_flight": N,
                                   "latency_ms": L}
    POST /_bench/reset         -> zero the counters, forget the Message-IDs seen
    POST /_bench/latency?ms=L  -> answer send calls after L ms from now on
The port actually bound (with --port 0) is printed as "READY <port> <loop>" on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import http.client
import json
import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sink import ServerProcess, run_until_signalled

_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}


class Stats:
    def __init__(self) -> None:
        self.latency = 0.0
        self.open_connections = 0  # client connections (a control call takes its own out)
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        self.accepted = 0
        self.requests = 0
        self.no_id = 0
        self.ids: dict[str, int] = {}
        self.duplicates = 0
        self.connections = 0
        self.peak_connections = self.open_connections
        self.peak_in_flight = self.in_flight

    def client_connected(self) -> None:
        self.connections += 1
        self.open_connections += 1
        self.peak_connections = max(self.peak_connections, self.open_connections)

    def call_started(self) -> None:
        self.requests += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def count(self, message_id: str | None) -> None:
        self.accepted += 1
        if message_id is None:
            self.no_id += 1
            return
        seen = self.ids.get(message_id, 0)
        if seen == 1:
            self.duplicates += 1
        self.ids[message_id] = seen + 1

    def as_dict(self) -> dict[str, float]:
        return {
            "accepted": self.accepted,
            "requests": self.requests,
            "unique_ids": len(self.ids),
            "duplicate_ids": self.duplicates,
            "no_id": self.no_id,
            "connections": self.connections,
            "peak_connections": self.peak_connections,
            "peak_in_flight": self.peak_in_flight,
            "latency_ms": self.latency * 1000,
        }


STATS = Stats()


# --- the two ESPs ------------------------------------------------------------------------


def postmark_send(headers: dict[str, str], body: bytes) -> tuple[int, dict]:
    """Postmark's POST /email: one message as JSON, the id in Headers."""
    if not headers.get("x-postmark-server-token"):
        return 401, {"ErrorCode": 10, "Message": "Request does not contain a valid Server token."}
    data = json.loads(body)
    message_id = next(
        (h["Value"] for h in data.get("Headers", []) if h.get("Name", "").lower() == "message-id"),
        None,
    )
    STATS.count(message_id)
    return 200, {
        "To": data.get("To", ""),
        "SubmittedAt": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        "MessageID": str(uuid.uuid4()),
        "ErrorCode": 0,
        "Message": "OK",
    }


def ses_send(headers: dict[str, str], body: bytes) -> tuple[int, dict]:
    """SES v2 SendEmail: the whole MIME message, base64, in Content.Raw.Data."""
    if not headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
        return 403, {"message": "The security token included in the request is invalid."}
    raw = base64.b64decode(json.loads(body)["Content"]["Raw"]["Data"])
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    match = _MESSAGE_ID.search(head)
    STATS.count(match.group(1).decode() if match else None)
    return 200, {"MessageId": f"0100{uuid.uuid4().hex}-000000"}


SENDS = {"/email": postmark_send, "/v2/email/outbound-emails": ses_send}


def control(method: str, path: str, query: str) -> tuple[int, dict]:
    if path == "/_bench/stats":
        return 200, STATS.as_dict()
    if path == "/_bench/reset" and method == "POST":
        STATS.reset()
        return 200, {}
    if path == "/_bench/latency" and method == "POST":
        try:
            STATS.latency = max(0.0, float(parse_qs(query)["ms"][0]) / 1000)
        except (KeyError, ValueError):
            return 400, {"message": "/_bench/latency?ms=<milliseconds>"}
        return 200, {}
    return 404, {"message": "not found"}


# --- HTTP/1.1 ------------------------------------------------------------------------------


def _response(status: int, payload: dict, *, close: bool) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"x-amzn-RequestId: {uuid.uuid4()}\r\n"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    )
    return head.encode() + body


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """A request's body, by Content-Length or chunked (bench/webhook_receiver.py reads too)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length") or 0)
    return await reader.readexactly(length) if length else b""


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One connection: requests one after the other until the client closes it."""
    counted = False
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await read_body(reader, headers)
            url = urlsplit(target)
            close = headers.get("connection", "").lower() == "close"
            if url.path.startswith("/_bench/"):
                status, payload = control(method, url.path, url.query)
            else:
                if not counted:
                    counted = True
                    STATS.client_connected()
                STATS.call_started()
                send = SENDS.get(url.path) if method == "POST" else None
                try:
                    if send is None:
                        status, payload = 404, {"message": f"no {method} {url.path} here"}
                    else:
                        try:
                            status, payload = send(headers, body)
                        except (ValueError, KeyError, TypeError) as exc:
                            status, payload = 400, {"message": f"malformed request: {exc}"}
                    if STATS.latency > 0:
                        await asyncio.sleep(STATS.latency)
                finally:
                    STATS.in_flight -= 1
            writer.write(_response(status, payload, close=close))
            if close:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass  # the client went away, or spoke something that is not HTTP/1.1
    except asyncio.CancelledError:
        pass  # the fake is stopping: leave quietly
    finally:
        if counted:
            STATS.open_connections -= 1
        writer.close()


def serve(host: str, port: int, latency_ms: float) -> None:
    STATS.latency = max(0.0, latency_ms / 1000)
    run_until_signalled(
        lambda: asyncio.start_server(handle, host, port, backlog=512, reuse_address=True)
    )


# --- the bench's side ------------------------------------------------------------------


class EspFakeProcess(ServerProcess):
    """The fake as a child process: start(), stats(), reset(), set_latency(), stop()."""

    name = "fake ESP API"

    def __init__(self, latency_ms: float = 0, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.latency_ms = latency_ms

    @property
    def url(self) -> str:
        """The API base of both ESPs, as MAILPASS_ESP_API_URLS takes it."""
        return f"http://{self.host}:{self.port}/"

    def command(self) -> list[str]:
        return [str(Path(__file__).resolve()), "--latency-ms", str(self.latency_ms)]

    def _call(self, method: str, path: str) -> dict:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, headers={"Connection": "close"})
            response = conn.getresponse()
            payload = json.loads(response.read())
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"fake ESP API: {method} {path} answered {response.status}")
        return payload

    def stats(self) -> dict[str, float]:
        return {k: float(v) for k, v in self._call("GET", "/_bench/stats").items()}

    def reset(self) -> None:
        self._call("POST", "/_bench/reset")

    def set_latency(self, ms: float) -> None:
        self._call("POST", f"/_bench/latency?ms={ms:g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="each send call's delay")
    args = parser.parse_args()
    serve(args.host, args.port, args.latency_ms)


if __name__ == "__main__":
    main()
