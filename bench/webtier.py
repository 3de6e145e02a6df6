"""The web tier under /send load: gunicorn as deploy/gunicorn.conf.py configures it (threads)
and, as the "before", plain `gunicorn -w 2` (sync workers), with the account's provider
the bench's Postmark pointed at the fake ESP answering at once or `far_ms` late.

/send holds its request while the provider answers, so what a web tier sustains with a
provider far away is a matter of how many requests it keeps open at once, not of CPU.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from pathlib import Path

from environment import PY, ROOT, Environment, free_port, log
from measurements import VerificationError
from probes import settle
from report import Results, percentile
from sink import stop_process

CONFIG = str(ROOT / "deploy" / "gunicorn.conf.py")
BODY_FIELDS = {"subject": "Your receipt", "text": "Thank you for your order."}


@contextlib.contextmanager
def gunicorn(env: Environment, args: list[str], name: str):
    """gunicorn on a free port with `args`; yields the port; stopped afterwards."""
    port = free_port()
    log_file = open(env.workdir / f"{name}.log", "w")
    proc = env.popen(
        [str(Path(PY).parent / "gunicorn"), "mailpass.wsgi", *args, "-b", f"127.0.0.1:{port}"],
        env=env.env,
        cwd=ROOT,
        stdout=log_file,
        stderr=log_file,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (env.workdir / f"{name}.log").read_text()[-2000:]
                raise VerificationError(f"{name} did not start: {tail}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/v1/health")
                if conn.getresponse().status == 200:
                    break
            time.sleep(0.2)
        yield port
    finally:
        stop_process(proc, timeout=30)
        log_file.close()


def _client(
    port: int,
    headers: dict[str, str],
    body: bytes,
    count: int,
    out: list,
    start: threading.Barrier,
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start.wait()
    for _ in range(count):
        began = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/mail/send", body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            status = answer.status
        except (OSError, http.client.HTTPException):
            conn.close()
            status = 0
        out.append((status, time.perf_counter() - began, time.perf_counter()))
    conn.close()


def send_load(env: Environment, port: int, *, clients: int, per_client: int) -> dict[str, float]:
    """`clients` threads, each POSTing /send `per_client` times back to back; requests per
    second over the wall time, and p50/p99 of each request's time."""
    body = json.dumps({"to": "customer@example.com", **BODY_FIELDS}).encode()
    results: list[tuple[int, float, float]] = []
    barrier = threading.Barrier(clients + 1)
    job = (port, env.headers(), body, per_client, results, barrier)
    threads = [threading.Thread(target=_client, args=job) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = max(ended for _, _, ended in results) - started
    failed = [status for status, _, _ in results if status != 200]
    if failed:
        raise VerificationError(f"/send under load: {len(failed)} answers not 200: {failed[:5]}")
    times = [seconds * 1000 for _, seconds, _ in results]
    return {"rate": len(results) / wall, "p50": percentile(times, 50), "p99": percentile(times, 99)}


def web_tier(
    env: Environment, results: Results, *, far_ms: float, clients: int, per_client: int
) -> None:
    """The rows: threads at 0 ms and `far_ms`, their ratio (target >= 0.7), and sync
    workers at `far_ms`."""
    from providers.models import Provider

    data = env.data
    postmark = data.esp_providers["postmark"]
    Provider.objects.filter(account=data.account).update(is_default=False)
    Provider.objects.filter(pk=postmark.pk).update(is_default=True)
    expected = 0
    try:
        env.esp.reset()
        runs = {}
        with gunicorn(env, ["-c", CONFIG], "gunicorn-threads") as port:
            for distance, ms in (("near", 0.0), ("far", far_ms)):
                env.esp.set_latency(ms)
                settle()
                send_load(env, port, clients=clients, per_client=2)  # warm-up: connections
                runs[distance] = send_load(env, port, clients=clients, per_client=per_client)
                expected += clients * (per_client + 2)
        with gunicorn(env, ["-w", "2", "--timeout", "120"], "gunicorn-sync") as port:
            env.esp.set_latency(far_ms)
            settle()
            sync_per_client = max(per_client // 8, 2)
            runs["sync_far"] = send_load(env, port, clients=clients, per_client=sync_per_client)
            expected += clients * sync_per_client
        accepted = env.esp.stats()["accepted"]
        if accepted != expected:
            raise VerificationError(
                f"/send under load: the fake ESP accepted {accepted:.0f} of {expected}"
            )
        counts = data.status_counts()
        if counts != {"sent": expected}:
            raise VerificationError(
                f"/send under load: statuses {counts}, {expected} sent expected"
            )
    finally:
        env.esp.set_latency(0)
        Provider.objects.filter(account=data.account).update(is_default=False)
        Provider.objects.filter(pk=data.provider.pk).update(is_default=True)
        data.clear_new_rows()
    for name, run in runs.items():
        results.record(f"web_{name}", run["rate"])
        results.record(f"web_{name}_p50", run["p50"])
        results.record(f"web_{name}_p99", run["p99"])
    results.record("web_far:vs_near", runs["far"]["rate"] / runs["near"]["rate"])
    near, far, sync = (runs[k]["rate"] for k in ("near", "far", "sync_far"))
    log(f"  web: threads near {near:.0f}/s, far {far:.0f}/s ({far / near:.2f}x); sync {sync:.0f}/s")
