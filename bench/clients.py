"""HTTP load clients for the bench, run in separate processes (stdlib only, no Django).

Each client posts the same pre-built body over http.client (keep-alive when the server
allows it; gunicorn's sync workers close after each response and http.client reconnects),
so the per-request work on the client side is a send and a short read.
"""

from __future__ import annotations

import http.client
import time


def post_many(
    port: int, path: str, headers: dict[str, str], body: bytes, count: int, start_at: float
) -> dict:
    """POST `body` `count` times, starting at time.monotonic() == start_at.

    Returns the start/end monotonic times (comparable across processes on Linux), how many
    requests answered 200 and a few of the other answers.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    delay = start_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    started = time.monotonic()
    ok = 0
    errors: list[str] = []
    for _ in range(count):
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            continue
        if response.status == 200:
            ok += 1
        elif len(errors) < 5:
            errors.append(f"HTTP {response.status}: {data[:300]!r}")
    ended = time.monotonic()
    conn.close()
    return {"started": started, "ended": ended, "ok": ok, "errors": errors}


def main() -> None:
    """`python bench/clients.py` reads one JSON job on stdin and prints its result as JSON."""
    import json
    import sys

    job = json.load(sys.stdin)
    result = post_many(
        job["port"],
        job["path"],
        job["headers"],
        job["body"].encode(),
        job["count"],
        job["start_at"],
    )
    result["cpu"] = time.process_time()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
