"""gunicorn for MailPass in production: `gunicorn -c deploy/gunicorn.conf.py mailpass.wsgi`.

/send holds its request while the provider answers (up to
MAILPASS_REQUEST_TIMEOUT_SECONDS), so a worker must not be one request at a time: each
process serves GUNICORN_THREADS requests at once on threads that mostly wait on the
network. `make bench` (the web rows) measures /send with the provider 100 ms away against
0 ms with this file. Every setting can be changed from the environment.
"""

import os
import shutil
import sys
from pathlib import Path
from typing import Any

# The configuration file of MAILPASS_ENV_FILE (mailpass/envfile.py) holds the GUNICORN_*
# settings below too: read before they are, as the app reads it (mailpass/wsgi.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if os.environ.get("MAILPASS_ENV_FILE"):
    from mailpass.envfile import apply_env_file

    apply_env_file(os.environ["MAILPASS_ENV_FILE"])

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", os.cpu_count() or 2))
# Each thread holds its own PostgreSQL connection while it serves: workers x threads
# connections at most, plus the queue workers'. PostgreSQL's default max_connections is 100.
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
# Above MAILPASS_REQUEST_TIMEOUT_SECONDS (25 by default), so the app answers in JSON first.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM, requests in flight get this long to finish (a /send waiting on its provider).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Behind a proxy that keeps connections to us open between requests.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# The proxy's address: only its X-Forwarded-* headers are believed by gunicorn itself.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None  # "-": stdout
errorlog = "-"
proc_name = "mailpass-web"


def on_starting(server: Any) -> None:
    """Prometheus' multiprocess mode (api/metrics.py) keeps one file per process: a new
    master starts from an empty directory, or it would add up the last run's counts."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
