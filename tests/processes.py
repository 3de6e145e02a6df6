"""For tests that run MailPass in other processes (queue workers, seeding scripts)."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection

# What a production configuration sets at the least: check --deploy is clean with it.
PRODUCTION_ENV = {
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "mail.example.com",
    "MAILPASS_PUBLIC_URL": "https://mail.example.com",
    "DATABASE_URL": "postgres://mailpass@127.0.0.1:5432/mailpass",
    "MAILPASS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "MAILPASS_API_KEY_HMAC_KEY": secrets.token_urlsafe(48),
}
_OURS = ("SECURE_", "MAILPASS_", "EMAIL_", "DEFAULT_FROM", "SESSION_", "CSRF_")
_DJANGO = {"DEBUG", "SECRET_KEY", "SECRET_KEY_FALLBACKS", "ALLOWED_HOSTS", "DATABASE_URL"}


def run_configured(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Python in a process of its own, configured by `env` alone: none of the test run's
    own MailPass or Django settings get through."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(_OURS) and k not in _DJANGO}
    return subprocess.run(
        [sys.executable, *args],
        env={**clean, "DJANGO_SETTINGS_MODULE": "mailpass.settings", **env},
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        timeout=120,
    )


def database_url(settings_dict: dict | None = None) -> str:
    """A DATABASE_URL that reaches this test's database from another process.

    Both databases qualify: the SQLite test database is a file (see settings).
    """
    db = settings_dict or connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


def worker_env(database_url: str, **extra: str) -> dict[str, str]:
    """This test run's environment (its SECRET_KEY decrypts provider credentials), aimed
    at `database_url`, quiet and unbuffered."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS": "1",
        "MAILPASS_MESSAGE_ID_DOMAIN": "mailpass.test",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class WebServer:
    """gunicorn serving mailpass.wsgi on a free loopback port, configured by `env` (e.g.
    worker_env(...)): one "host" of a several-host layout. stop() sends SIGTERM and waits."""

    def __init__(self, env: dict[str, str], *gunicorn_args: str, log_path: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "w")  # closed by stop()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        argv = [gunicorn, "mailpass.wsgi", "-b", f"127.0.0.1:{self.port}", *gunicorn_args]
        env = {**env, "ALLOWED_HOSTS": "127.0.0.1"}
        self.process = subprocess.Popen(
            argv, env=env, cwd=settings.BASE_DIR, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.log_path = log_path
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + Path(self.log_path).read_text())
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=5):
                    return
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.1)
        self.stop()
        log = Path(self.log_path).read_text()
        raise RuntimeError(f"gunicorn did not answer within 60 s:\n{log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
