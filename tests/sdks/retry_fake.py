#!/usr/bin/env python3
"""A stand-in for the MailPass API that fails on purpose, for the SDKs' retry tests.

The Bearer key is the script: steps separated by ".", one per attempt, the last one
repeating; anything after "~" is ignored, so each test can make its key unique.

    ok          200 with a success envelope (a message_id for /mail/send)
    drop        read the request, then close the connection without answering
    r429-N      429 RATE_LIMITED, Retry-After: N
    q429-N      429 SEND_LIMIT_EXCEEDED, Retry-After: N (details.scope "provider")
    e500        500 INTERNAL_ERROR
    e503        503 UNAVAILABLE
    e502html    502 with an HTML page, as a proxy in front of MailPass would answer
    failed      500 SEND_FAILED (details.message_id)
    invalid     400 VALIDATION_ERROR
    sleep-S     wait S seconds (a fraction is fine), then as "ok"

`GET /_log/<key>` (no Authorization) lists what arrived with that key, oldest first:
[{"method", "path", "headers" (lower-case names), "body", "at" (Unix time, float)}].

    python3 tests/sdks/retry_fake.py [--port N]   prints "http://127.0.0.1:PORT" when ready
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

_log: dict[str, list[dict]] = {}
_lock = threading.Lock()


def _error(code: str, message: str, details: dict | None = None) -> dict:
    return {"success": False, "error": {"code": code, "message": message, "details": details or {}}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/_log/"):
            key = unquote(self.path[len("/_log/") :])
            with _lock:
                entries = list(_log.get(key, []))
            self._json(200, entries)
        else:
            self._api()

    def do_POST(self) -> None:
        self._api()

    def do_DELETE(self) -> None:
        self._api()

    def _api(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        key = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": body,
            "at": time.time(),
        }
        with _lock:
            attempts = _log.setdefault(key, [])
            attempts.append(entry)
            attempt = len(attempts) - 1
        steps = key.split("~", 1)[0].split(".")
        step = steps[min(attempt, len(steps) - 1)]
        self._answer(step, attempt)

    def _answer(self, step: str, attempt: int) -> None:
        name, _, arg = step.partition("-")
        if name == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if name == "sleep":
            time.sleep(float(arg))
            name = "ok"
        if name == "ok":
            data = {"attempt": attempt}
            if self.path.startswith("/api/v1/mail/send") and not self.path.endswith("-batch"):
                data |= {"message_id": f"<fake.{attempt}@fake.test>", "status": "sent"}
            self._json(200, {"success": True, "data": data})
        elif name in ("r429", "q429"):
            seconds = int(arg or 1)
            if name == "r429":
                body = _error("RATE_LIMITED", "Too many requests.", {"retry_after": seconds})
            else:
                details = {"scope": "provider", "retry_after": seconds}
                body = _error("SEND_LIMIT_EXCEEDED", "Sending limit reached.", details)
            self._json(429, body, {"Retry-After": str(seconds)})
        elif name == "e500":
            self._json(500, _error("INTERNAL_ERROR", "Something went wrong on our side."))
        elif name == "e503":
            self._json(503, _error("UNAVAILABLE", "The database cannot be reached."))
        elif name == "e502html":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            self._raw(502, page, "text/html")
        elif name == "failed":
            details = {"message_id": "<failed@fake.test>", "provider_error": "550 refused"}
            self._json(500, _error("SEND_FAILED", "The provider refused the message.", details))
        elif name == "invalid":
            details = {"to": ["Enter a valid email address."]}
            self._json(400, _error("VALIDATION_ERROR", "The request is not valid.", details))
        else:
            self._json(400, _error("VALIDATION_ERROR", f"retry_fake: unknown step {step!r}"))

    def _json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(body).encode(), "application/json", headers)

    def _raw(self, status: int, payload: bytes, content_type: str, headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the timeout tests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
