"""A customer's webhook endpoint on 127.0.0.1, for the outbound webhook tests and bench:
it records every POST and answers from a script, and a Standard Webhooks verifier written
from the specification (it shares no code with the signer, the standardwebhooks package).

    with WebhookReceiver(script=[500, 500]) as receiver:   # two failures, then 200s
        ...
        receiver.requests[0].headers["webhook-id"]

A script entry is a status code, or a Reply for a body, headers or a delay.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, script: list[int | Reply] | None = None, *, latency: float = 0.0) -> None:
        self.script: list[int | Reply] = list(script or [])
        self.latency = latency  # added to every answer: an endpoint far away
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    step = receiver.script.pop(0) if receiver.script else 200
                reply = step if isinstance(step, Reply) else Reply(status=step)
                if reply.delay or receiver.latency:
                    time.sleep(reply.delay + receiver.latency)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the sender gave up first

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/mailpass"

    def __enter__(self) -> Self:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(body: bytes, headers: dict[str, str], secret: str, *, now: float | None = None) -> bool:
    """Whether a request carries a valid Standard Webhooks signature made with `secret`:
    HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>" keyed with the base64 part
    of whsec_…, one of the space-separated v1 signatures, the timestamp within 5 minutes."""
    names = {name.lower(): value for name, value in headers.items()}
    event_id, timestamp = names["webhook-id"], names["webhook-timestamp"]
    if abs((now if now is not None else time.time()) - int(timestamp)) > 300:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = event_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [entry.partition(",") for entry in names["webhook-signature"].split(" ")]
    return any(
        version == "v1" and hmac.compare_digest(signature, expected)
        for version, _, signature in offered
    )
