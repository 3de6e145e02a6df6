"""Limits that hold across processes and hosts: two gunicorn servers ("hosts", two worker
processes each) share a real redis-server through MAILPASS_CACHE_URL. And a Redis outage
does not take the API down: requests go on being served, the outage is logged, and
/api/v1/health reports it."""

import http.cookiejar
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches

from mailpass import cache as shared_cache
from tests import factories
from tests.processes import WebServer, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

RATE = 40  # per minute per key: what the hosts are started with
GUNICORN = ("-w", "2", "--threads", "4")


def get(url: str, key: str | None = None) -> int:
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def health(host: WebServer) -> dict:
    with urllib.request.urlopen(f"{host.url}/api/v1/health", timeout=10) as answer:
        return json.loads(answer.read())["data"]


@pytest.fixture
def hosts_with(test_database_url, tmp_path) -> Iterator:
    started: list[WebServer] = []

    def start(cache_url: str = "", **extra: str) -> list[WebServer]:
        env = worker_env(test_database_url, MAILPASS_CACHE_URL=cache_url, **extra)
        env.setdefault("MAILPASS_API_RATE_LIMIT", f"{RATE}/min")
        pair = [
            WebServer(env, *GUNICORN, log_path=str(tmp_path / f"host{len(started) + i}.log"))
            for i in range(2)
        ]
        started.extend(pair)
        return pair

    yield start
    for host in started:
        host.stop()


def hammer(hosts: list[WebServer], key: str, requests: int) -> list[int]:
    """`requests` API requests alternating between the hosts, eight at a time."""
    urls = [f"{hosts[i % 2].url}/api/v1/mail/status/nope@example.com" for i in range(requests)]
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda url: get(url, key), urls))


def test_the_per_key_limit_holds_across_two_hosts_sharing_redis(account, redis_server, hosts_with):
    _, key = factories.make_api_key(account)
    hosts = hosts_with(redis_server.url)

    answers = hammer(hosts, key, 2 * RATE)

    allowed = sum(1 for status in answers if status != 429)
    assert RATE * 0.9 <= allowed <= RATE * 1.1, answers
    assert set(answers) <= {404, 429}
    assert all(health(host)["cache"] == "ok" for host in hosts)


def test_without_a_shared_cache_each_process_counts_on_its_own(account, hosts_with):
    """What the shared cache fixes: four processes, four windows."""
    _, key = factories.make_api_key(account)
    hosts = hosts_with()

    answers = hammer(hosts, key, 2 * RATE)

    assert sum(1 for status in answers if status != 429) > RATE * 1.1
    assert health(hosts[0])["cache"] == "local"


def test_failed_log_ins_count_across_hosts(owner, redis_server, hosts_with):
    hosts = hosts_with(
        redis_server.url,
        MAILPASS_LOGIN_FAILURE_LIMIT="3",
        # Plain http on loopback: cookies that are not https-only.
        CSRF_COOKIE_SECURE="0",
        SESSION_COOKIE_SECURE="0",
    )
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = browser.open(f"{hosts[0].url}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": owner.username, "password": "wrong"}
    ).encode()

    statuses = []
    for attempt in range(5):
        host = hosts[attempt % 2]
        request = urllib.request.Request(
            f"{host.url}/accounts/login/", data=form, headers={"Referer": host.url}
        )
        try:
            statuses.append(browser.open(request).status)
        except urllib.error.HTTPError as err:
            statuses.append(err.code)

    assert statuses == [200, 200, 200, 429, 429]


def test_a_redis_outage_leaves_the_api_up_logged_and_reported(account, redis_server, hosts_with):
    _, key = factories.make_api_key(account)
    hosts = hosts_with(redis_server.url, MAILPASS_API_RATE_LIMIT="5/min")
    assert hammer(hosts, key, 5).count(404) == 5

    redis_server.stop()
    during = hammer(hosts, key, 10)
    states = [health(host) for host in hosts]

    assert during == [404] * 10  # served, limits not enforced (fail open)
    assert [state["cache"] for state in states] == ["unavailable", "unavailable"]
    assert all(state["database"] == "ok" for state in states)
    logs = "".join(open(host.log_path).read() for host in hosts)
    assert "cache unavailable" in logs
    # Once a minute per process, not once a request.
    assert logs.count("cache unavailable") <= 2 * len(hosts)

    redis_server.start()
    assert [health(host)["cache"] for host in hosts] == ["ok", "ok"]
    # Each process leaves Redis alone for a second after its last failure.
    time.sleep(shared_cache.RETRY_AFTER_SECONDS + 0.1)
    after = hammer(hosts, key, 10)
    assert 4 <= after.count(404) <= 5 and after.count(429) >= 5


# --- the cache itself, in this process ---------------------------------------------------


@pytest.fixture
def redis_cache(redis_server, settings) -> Iterator[shared_cache.FailOpenRedisCache]:
    settings.CACHES = {
        "default": {
            "BACKEND": "mailpass.cache.FailOpenRedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.5},
        }
    }
    shared_cache._outage.down_until = 0.0
    yield caches["default"]  # a new handler: the settings change reset them
    shared_cache._outage.down_until = 0.0


def test_the_window_counts_every_request_of_concurrent_threads_once(redis_cache):
    results: list[shared_cache.Window] = []
    lock = threading.Lock()

    def take() -> None:
        window = shared_cache.count_in_window("k", limit=50, seconds=60)
        with lock:
            results.append(window)

    threads = [threading.Thread(target=take) for _ in range(80)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(window.allowed for window in results) == 50
    assert sorted(w.count for w in results if w.allowed) == list(range(1, 51))
    refused = [w for w in results if not w.allowed]
    assert all(0 < w.wait <= 60 for w in refused)


def test_the_window_slides(redis_cache):
    for second in range(3):
        assert shared_cache.count_in_window("s", limit=3, seconds=10, now=1000.0 + second).allowed
    refused = shared_cache.count_in_window("s", limit=3, seconds=10, now=1005.0)
    assert not refused.allowed and refused.wait == pytest.approx(5.0)
    assert shared_cache.count_in_window("s", limit=3, seconds=10, now=1010.5).allowed


def test_an_unreachable_redis_answers_like_an_empty_cache_and_fast(redis_cache, redis_server):
    redis_cache.set("a", 1)
    assert redis_cache.get("a") == 1
    redis_server.stop()

    assert redis_cache.get("a", "missing") == "missing"
    assert redis_cache.add("b", 0) is True
    assert redis_cache.incr("b", 3) == 3
    assert redis_cache.set("c", 1) is None
    assert shared_cache.count_in_window("w", limit=1, seconds=60).allowed
    assert shared_cache.count_in_window("w", limit=1, seconds=60).allowed
    assert shared_cache.cache_state() == "unavailable"

    redis_server.start()
    assert shared_cache.cache_state() == "ok"
    redis_cache.set("a", 2)
    assert redis_cache.get("a") == 2
