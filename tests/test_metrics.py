"""GET /metrics for Prometheus, scraped and parsed with prometheus_client's own parser; the
gunicorn processes' counters summed (multiprocess mode); a worker's own metrics port."""

import ipaddress
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings as django_settings
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from api import drain
from api.services import batch_enqueue
from tests import factories
from tests.processes import WebServer, worker_env

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"
MAIL = {"from_email": "shop@example.com", "to": "ann@example.org", "subject": "Hi", "text": "x"}


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a scrape."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def scrape(settings):
    settings.MAILPASS_METRICS_TOKEN = TOKEN

    def read() -> dict:
        response = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        return samples(response.content.decode())

    return read


def test_metrics_are_a_404_until_the_operator_protects_them(client):
    assert client.get("/metrics").status_code == 404


def test_a_wrong_token_or_address_is_refused(client, settings):
    settings.MAILPASS_METRICS_TOKEN = TOKEN
    settings.MAILPASS_METRICS_ALLOWED_IPS = [ipaddress.ip_network("10.0.0.0/8")]

    for authorization in ["", f"Bearer {TOKEN}x", TOKEN, f"Basic {TOKEN}"]:
        answer = client.get("/metrics", HTTP_AUTHORIZATION=authorization)
        assert answer.status_code == 403 and answer.content == b"Forbidden."
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_an_allowed_address_needs_no_token(client, settings):
    settings.MAILPASS_METRICS_ALLOWED_IPS = [ipaddress.ip_network("127.0.0.1/32")]
    assert client.get("/metrics").status_code == 200


def test_send_counts_the_accepted_message_its_delivery_and_latency(api, provider, sink, scrape):
    before = scrape()
    assert api.post("/api/v1/mail/send", MAIL, format="json").status_code == 200
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("mailpass_messages_accepted_total", endpoint="send") == 1
    assert moved("mailpass_deliveries_total", provider="smtp", outcome="sent") == 1
    assert moved("mailpass_delivery_latency_seconds_count", provider="smtp") == 1
    route = "api/v1/mail/send"
    assert (
        moved(
            "mailpass_http_request_duration_seconds_count", route=route, method="POST", status="200"
        )
        == 1
    )


def test_the_queue_counts_batches_retries_and_provider_errors(api, account, sink, scrape):
    factories.make_provider(account, port=9, name="nothing listens")  # connection refused
    before = scrape()
    answer = api.post("/api/v1/mail/send-batch", {"messages": [MAIL, MAIL, MAIL]}, format="json")
    assert answer.status_code == 200
    queued = scrape()
    drain.process_due()
    after = scrape()

    assert (
        value(queued, "mailpass_messages_accepted_total", endpoint="send_batch")
        - value(before, "mailpass_messages_accepted_total", endpoint="send_batch")
        == 3
    )
    assert value(queued, "mailpass_queue_messages", status="queued") == 3
    assert value(queued, "mailpass_queue_messages", status="due") == 3
    retried = ("mailpass_deliveries_total", {"provider": "smtp", "outcome": "retried"})
    errors = ("mailpass_provider_errors_total", {"provider": "smtp", "error_class": "connection"})
    for name, labels in (retried, errors):
        assert value(after, name, **labels) - value(before, name, **labels) == 3
    assert value(after, "mailpass_queue_messages", status="due") == 0  # retrying later
    assert ("mailpass_webhook_backlog", ()) in after
    assert ("mailpass_queue_oldest_due_age_seconds", ()) in after


def test_a_scrape_names_no_key_address_or_secret(api, api_key, provider, sink, settings):
    api.post("/api/v1/mail/send", MAIL, format="json")
    settings.MAILPASS_METRICS_TOKEN = TOKEN
    text = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()

    for secret in (api_key[1], "@", django_settings.SECRET_KEY, provider.name):
        assert secret not in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, **headers: str) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        return r.read().decode()


@pytest.mark.django_db(transaction=True)
def test_gunicorn_processes_add_up_in_multiprocess_mode(
    api_key, provider, sink, test_database_url, tmp_path
):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = worker_env(
        test_database_url,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        MAILPASS_METRICS_TOKEN=TOKEN,
        MAILPASS_SMTP_PORTS="*",
    )
    host = WebServer(env, "-w", "2", "--threads", "2", log_path=str(tmp_path / "web.log"))
    try:
        for _ in range(6):
            request = urllib.request.Request(
                f"{host.url}/api/v1/mail/send",
                data=b'{"from_email": "shop@example.com", "to": "a@example.org", '
                b'"subject": "s", "text": "t"}',
                headers={
                    "Authorization": f"Bearer {api_key[1]}",
                    "Content-Type": "application/json",
                },
            )
            urllib.request.urlopen(request, timeout=10).read()
        scrape = samples(_get(f"{host.url}/metrics", Authorization=f"Bearer {TOKEN}"))
    finally:
        host.stop()

    assert value(scrape, "mailpass_messages_accepted_total", endpoint="send") == 6
    assert value(scrape, "mailpass_deliveries_total", provider="smtp", outcome="sent") == 6
    assert len(list(metrics_dir.iterdir())) >= 2  # both processes wrote their values


@pytest.mark.django_db(transaction=True)
def test_a_worker_serves_its_own_metrics(account, provider, sink, test_database_url):
    batch_enqueue(account=account, api_key=None, items=[MAIL, {**MAIL, "to": "b@example.org"}])
    port = _free_port()
    env = worker_env(test_database_url, MAILPASS_WORKER_METRICS_ADDRESS=f"127.0.0.1:{port}")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "process_mail_queue", "--loop"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        sent = 0.0
        while time.monotonic() < deadline and sent < 2:
            try:
                scrape = samples(_get(f"http://127.0.0.1:{port}/"))
                sent = value(scrape, "mailpass_deliveries_total", provider="smtp", outcome="sent")
            except OSError:
                pass
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)

    assert sent == 2, err
    assert value(scrape, "mailpass_delivery_latency_seconds_count", provider="smtp") == 2
