"""A customer's webhook endpoint for benchmarks, some distance away (not for tests, not for
production; tests/webhook_receiver.py is the test suite's).

    python bench/webhook_receiver.py --port P [--latency-ms L]   # serve until SIGTERM/SIGINT

It answers every POST outside /_bench/ with 200 "ok", --latency-ms after the request
arrived (an endpoint across the internet), without holding up other connections.
HTTP/1.1 with keep-alive: a client's connection may serve POST after POST.

It counts what the bench verifies and reports: the POSTs, each webhook-id header (to check
that every delivery arrived exactly once), the POSTs without a webhook-signature header and,
once the bench has told it the endpoint's secret, those whose Standard Webhooks signature
does not verify (HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>", one of the
space-separated v1 signatures; the timestamp's age is not checked), the most POSTs in flight
at once (received, not yet answered) and the connections opened. It runs as its own process
on uvloop when that is importable, like bench/sink.py and bench/esp_fake.py, so it never
shares a GIL with the sender.

Control, on paths the sender never uses (they count in none of the figures):
    GET  /_bench/stats         -> {"requests": N, "unique_ids": N, "duplicate_ids": N,
                                   "no_id": N, "unsigned": N, "bad_signature": N,
                                   "connections": N, "peak_connections": N,
                                   "peak_in_flight": N, "latency_ms": L}
    POST /_bench/reset         -> zero the counters, forget the webhook-ids seen
    POST /_bench/latency?ms=L  -> answer POSTs after L ms from now on
    POST /_bench/secret        -> the body is the endpoint's secret (whsec_...): check the
                                  signatures with it from now on (an empty body: do not)
The port actually bound (with --port 0) is printed as "READY <port> <loop>" on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import http.client
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from esp_fake import read_body
from sink import ServerProcess, run_until_signalled

PATH = "/hooks/mailpass"  # where the bench's endpoint points; any other path answers the same


class Stats:
    def __init__(self) -> None:
        self.latency = 0.0
        self.key: bytes | None = None  # the secret's key bytes, once the bench gave it
        self.open_connections = 0  # sender connections (a control call takes its own out)
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.no_id = 0
        self.unsigned = 0
        self.bad_signature = 0
        self.ids: set[str] = set()
        self.duplicates = 0
        self.connections = 0
        self.peak_connections = self.open_connections
        self.peak_in_flight = self.in_flight

    def client_connected(self) -> None:
        self.connections += 1
        self.open_connections += 1
        self.peak_connections = max(self.peak_connections, self.open_connections)

    def count(self, headers: dict[str, str], body: bytes) -> None:
        self.requests += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        event_id = headers.get("webhook-id")
        if not event_id:
            self.no_id += 1
        elif event_id in self.ids:
            self.duplicates += 1
        else:
            self.ids.add(event_id)
        signature = headers.get("webhook-signature")
        if not signature:
            self.unsigned += 1
        elif self.key is not None and not self._signed(headers, body, signature):
            self.bad_signature += 1

    def _signed(self, headers: dict[str, str], body: bytes, signature: str) -> bool:
        assert self.key is not None
        signed = (
            headers.get("webhook-id", "").encode()
            + b"."
            + headers.get("webhook-timestamp", "").encode()
            + b"."
            + body
        )
        expected = base64.b64encode(hmac.new(self.key, signed, hashlib.sha256).digest()).decode()
        return any(
            version == "v1" and hmac.compare_digest(value, expected)
            for version, _, value in (entry.partition(",") for entry in signature.split(" "))
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "unique_ids": len(self.ids),
            "duplicate_ids": self.duplicates,
            "no_id": self.no_id,
            "unsigned": self.unsigned,
            "bad_signature": self.bad_signature,
            "connections": self.connections,
            "peak_connections": self.peak_connections,
            "peak_in_flight": self.peak_in_flight,
            "latency_ms": self.latency * 1000,
        }


STATS = Stats()


def control(method: str, path: str, query: str, body: bytes) -> tuple[int, bytes]:
    if path == "/_bench/stats":
        return 200, json.dumps(STATS.as_dict()).encode()
    if path == "/_bench/reset" and method == "POST":
        STATS.reset()
        return 200, b"{}"
    if path == "/_bench/latency" and method == "POST":
        try:
            STATS.latency = max(0.0, float(parse_qs(query)["ms"][0]) / 1000)
        except (KeyError, ValueError):
            return 400, b'{"message": "/_bench/latency?ms=<milliseconds>"}'
        return 200, b"{}"
    if path == "/_bench/secret" and method == "POST":
        secret = body.decode().strip()
        STATS.key = base64.b64decode(secret.removeprefix("whsec_")) if secret else None
        return 200, b"{}"
    return 404, b'{"message": "not found"}'


def _response(status: int, body: bytes, *, close: bool) -> bytes:
    reason = http.client.responses.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
    )
    return head.encode() + body


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
                status, payload = control(method, url.path, url.query, body)
            elif method != "POST":
                status, payload = 405, b"POST only"
            else:
                if not counted:
                    counted = True
                    STATS.client_connected()
                STATS.count(headers, body)
                try:
                    if STATS.latency > 0:
                        await asyncio.sleep(STATS.latency)
                finally:
                    STATS.in_flight -= 1
                status, payload = 200, b"ok"
            writer.write(_response(status, payload, close=close))
            if close:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass  # the client went away, or spoke something that is not HTTP/1.1
    except asyncio.CancelledError:
        pass  # the receiver is stopping: leave quietly
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


class WebhookReceiverProcess(ServerProcess):
    """The receiver as a child process: start(), stats(), reset(), set_latency(),
    set_secret(), stop()."""

    name = "webhook receiver"

    def __init__(self, latency_ms: float = 0, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.latency_ms = latency_ms

    @property
    def url(self) -> str:
        """The endpoint's URL, as a WebhookEndpoint stores it."""
        return f"http://{self.host}:{self.port}{PATH}"

    def command(self) -> list[str]:
        return [str(Path(__file__).resolve()), "--latency-ms", str(self.latency_ms)]

    def _call(self, method: str, path: str, body: bytes | None = None) -> dict:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers={"Connection": "close"})
            response = conn.getresponse()
            payload = json.loads(response.read())
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"webhook receiver: {method} {path} answered {response.status}")
        return payload

    def stats(self) -> dict[str, float]:
        return {k: float(v) for k, v in self._call("GET", "/_bench/stats").items()}

    def reset(self) -> None:
        self._call("POST", "/_bench/reset")

    def set_latency(self, ms: float) -> None:
        self._call("POST", f"/_bench/latency?ms={ms:g}")

    def set_secret(self, secret: str) -> None:
        self._call("POST", "/_bench/secret", secret.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="each answer's delay")
    args = parser.parse_args()
    serve(args.host, args.port, args.latency_ms)


if __name__ == "__main__":
    main()
