"""`make serve` (bin/serve): the production layout starts, answers, sends, and stops on
SIGTERM with everything it started."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from django.conf import settings

from tests import factories
from tests.processes import worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def test_make_serve_runs_the_production_layout(account, sink, test_database_url, tmp_path):
    factories.make_provider(account, port=sink.port)
    _, key = factories.make_api_key(account)
    port = _free_port()
    env = worker_env(test_database_url, SERVE_DIR=str(tmp_path / "serve"), SERVE_PORT=str(port))
    env.pop("DEBUG", None)
    env.pop("MAILPASS_ENV_FILE", None)
    env["GUNICORN_WORKERS"] = "2"
    serve = subprocess.Popen(
        ["bin/serve"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline and serve.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/api/v1/health", timeout=5) as answer:
                    health = json.loads(answer.read())["data"]
                    break
            except OSError:
                time.sleep(0.2)
        assert health is not None, "bin/serve did not answer"
        assert health["cache"] == "ok"  # its own redis-server
        children = _children(serve.pid)

        request = urllib.request.Request(
            f"{base}/api/v1/mail/send",
            data=json.dumps(
                {"from_email": "a@example.com", "to": "b@example.org", "subject": "s", "text": "t"}
            ).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.loads(answer.read())["data"]["status"] == "sent"
        assert len(sink.received) == 1
        # DEBUG is off: an unknown page is the plain 404, not Django's debug page.
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/no-such-page", timeout=5)
        assert b"DEBUG = True" not in missing.value.read()
    finally:
        if serve.poll() is None:
            serve.terminate()  # what systemd or Ctrl-C does
        try:
            output, _ = serve.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            raise

    assert serve.returncode == 0, output
    assert (tmp_path / "serve" / "mailpass.env").exists()
    assert all(not os.path.exists(f"/proc/{pid}") for pid in children), output
