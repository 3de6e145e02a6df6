"""A loopback HTTP server for the unit tests: it records every request and answers what
the test told it to, whatever the method (the retry fake knows no PATCH)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import mailpass_client


class Recorder:
    """`requests`: what arrived, oldest first, each `{"method", "path", "headers" (names
    in lower case), "body"}` (the JSON body decoded, None without one). `answer(status,
    data=..., error=...)` sets what every request gets until the next call or `reset()`
    (a 204 without any body)."""

    def __init__(self) -> None:
        self.reset()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset(self) -> None:
        """Forget the requests; answer 200 with empty data."""
        self.requests: list[dict[str, Any]] = []
        self.answer()

    def client(self) -> mailpass_client.Client:
        return mailpass_client.Client("mp_live_recorder", base_url=self.url, max_retries=0)

    def answer(
        self,
        status: int = 200,
        *,
        data: dict[str, Any] | None = None,
        error: tuple[str, str, dict[str, Any]] | None = None,
    ) -> None:
        if error is None:
            self._body = {"success": True, "data": data or {}}
        else:
            code, message, details = error
            self._body = {
                "success": False,
                "error": {"code": code, "message": message, "details": details},
            }
        self._status = status

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._record()

            do_POST = do_PATCH = do_DELETE = do_GET

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                recorder.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(raw) if raw else None,
                    }
                )
                self.send_response(recorder._status)
                if recorder._status == 204:  # No Content: no body, not even an envelope
                    self.end_headers()
                    return
                payload = json.dumps(recorder._body).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
