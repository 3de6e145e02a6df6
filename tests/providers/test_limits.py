"""providers.limits: hourly and daily capacity over fixed UTC clock windows."""

import datetime as dt
import threading
import time

import pytest
import time_machine
from django.db import connection, transaction

from providers import limits
from providers.models import Provider, ProviderUsage
from providers.services import provider_create

pytestmark = pytest.mark.django_db

# 10:15 UTC: 45 minutes to the next hour, 13h45m to the next UTC day.
NOW = dt.datetime(2024, 5, 10, 10, 15, tzinfo=dt.UTC)
HOUR = dt.datetime(2024, 5, 10, 10, 0, tzinfo=dt.UTC)
TO_NEXT_HOUR = 45 * 60
TO_NEXT_DAY = (13 * 60 + 45) * 60


def make_limited(account, *, hourly=None, daily=None, name="Limited") -> Provider:
    return provider_create(
        account=account,
        name=name,
        host="127.0.0.1",
        port=2525,
        security=Provider.Security.NONE,
        hourly_limit=hourly,
        daily_limit=daily,
    )


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_acquire_within_the_hourly_limit_grants_everything_and_counts_it(account, at_now):
    provider = make_limited(account, hourly=10)

    grant = limits.acquire(provider=provider, wanted=4)

    assert grant == limits.Grant(granted=4, window_start=HOUR, retry_after=0)
    assert limits.usage(provider=provider) == (4, 4)


def test_acquire_grants_part_of_a_request_that_crosses_the_hourly_limit(account, at_now):
    provider = make_limited(account, hourly=10)
    limits.acquire(provider=provider, wanted=7)

    grant = limits.acquire(provider=provider, wanted=5)

    assert grant.granted == 3
    assert grant.retry_after == TO_NEXT_HOUR
    assert limits.usage(provider=provider) == (10, 10)


def test_acquire_grants_nothing_once_the_hour_is_used_up(account, at_now):
    provider = make_limited(account, hourly=10)
    limits.acquire(provider=provider, wanted=10)

    grant = limits.acquire(provider=provider, wanted=1)

    assert grant.granted == 0
    assert grant.retry_after == TO_NEXT_HOUR
    assert limits.usage(provider=provider) == (10, 10)


def test_retry_after_counts_down_to_the_next_clock_hour(account):
    provider = make_limited(account, hourly=1)
    with time_machine.travel(dt.datetime(2024, 5, 10, 10, 59, 30, tzinfo=dt.UTC), tick=False):
        limits.acquire(provider=provider, wanted=1)
        grant = limits.acquire(provider=provider, wanted=1)

    assert grant.retry_after == 30


def test_retry_after_is_never_zero_when_something_was_refused(account):
    provider = make_limited(account, hourly=1)
    just_before = dt.datetime(2024, 5, 10, 10, 59, 59, 500000, tzinfo=dt.UTC)
    with time_machine.travel(just_before, tick=False):
        limits.acquire(provider=provider, wanted=1)
        grant = limits.acquire(provider=provider, wanted=1)

    assert grant.granted == 0
    assert grant.retry_after == 1


def test_the_hourly_window_rolls_over_at_the_next_clock_hour(account, at_now):
    provider = make_limited(account, hourly=10)
    limits.acquire(provider=provider, wanted=10)

    at_now.move_to(NOW + dt.timedelta(hours=1))
    grant = limits.acquire(provider=provider, wanted=4)

    assert grant == limits.Grant(
        granted=4, window_start=HOUR + dt.timedelta(hours=1), retry_after=0
    )
    assert limits.usage(provider=provider) == (4, 14)


def test_the_daily_limit_sums_the_hours_of_the_utc_day(account, at_now):
    provider = make_limited(account, daily=10)
    limits.acquire(provider=provider, wanted=6)

    at_now.move_to(NOW + dt.timedelta(hours=1))
    grant = limits.acquire(provider=provider, wanted=6)

    assert grant.granted == 4
    assert grant.retry_after == TO_NEXT_DAY - 3600
    assert limits.usage(provider=provider) == (4, 10)


def test_retry_after_counts_down_to_the_next_utc_day_when_the_day_is_used_up(account, at_now):
    provider = make_limited(account, daily=5)
    limits.acquire(provider=provider, wanted=5)

    grant = limits.acquire(provider=provider, wanted=1)

    assert grant.granted == 0
    assert grant.retry_after == TO_NEXT_DAY


def test_the_daily_window_rolls_over_at_utc_midnight(account):
    provider = make_limited(account, daily=5)
    with time_machine.travel(dt.datetime(2024, 5, 10, 23, 30, tzinfo=dt.UTC), tick=False) as t:
        limits.acquire(provider=provider, wanted=5)
        assert limits.acquire(provider=provider, wanted=1).retry_after == 30 * 60

        t.move_to(dt.datetime(2024, 5, 11, 0, 5, tzinfo=dt.UTC))
        grant = limits.acquire(provider=provider, wanted=5)

        assert grant.granted == 5
        assert limits.usage(provider=provider) == (5, 5)


def test_a_stricter_daily_limit_caps_the_grant_and_waits_for_the_next_day(account, at_now):
    provider = make_limited(account, hourly=10, daily=7)

    grant = limits.acquire(provider=provider, wanted=10)

    assert grant.granted == 7
    assert grant.retry_after == TO_NEXT_DAY


def test_a_stricter_hourly_limit_caps_the_grant_and_waits_for_the_next_hour(account, at_now):
    provider = make_limited(account, hourly=5, daily=100)

    grant = limits.acquire(provider=provider, wanted=8)

    assert grant.granted == 5
    assert grant.retry_after == TO_NEXT_HOUR


@pytest.mark.parametrize(
    ("already_sent", "wanted", "granted"),
    [pytest.param(5, 1, 0, id="both-used-up"), pytest.param(0, 8, 5, id="both-filled-now")],
)
def test_retry_after_waits_for_the_next_day_when_the_day_is_used_up_with_the_hour(
    account, at_now, already_sent, wanted, granted
):
    provider = make_limited(account, hourly=5, daily=5)
    if already_sent:
        limits.acquire(provider=provider, wanted=already_sent)

    grant = limits.acquire(provider=provider, wanted=wanted)

    assert grant.granted == granted
    assert grant.retry_after == TO_NEXT_DAY


def test_a_provider_without_limits_is_always_granted_but_its_usage_is_counted(account, at_now):
    provider = make_limited(account)

    first = limits.acquire(provider=provider, wanted=1000)
    second = limits.acquire(provider=provider, wanted=1000)

    assert first == second == limits.Grant(granted=1000, window_start=HOUR, retry_after=0)
    assert limits.usage(provider=provider) == (2000, 2000)


def test_release_gives_capacity_back(account, at_now):
    provider = make_limited(account, hourly=10)
    grant = limits.acquire(provider=provider, wanted=10)

    limits.release(provider=provider, grant_window=grant.window_start, count=3)

    assert limits.usage(provider=provider) == (7, 7)
    assert limits.acquire(provider=provider, wanted=5).granted == 3


def test_release_after_the_hour_rolled_over_returns_capacity_to_the_granting_hour(account, at_now):
    provider = make_limited(account, daily=10)
    grant = limits.acquire(provider=provider, wanted=10)
    at_now.move_to(NOW + dt.timedelta(hours=1))
    limits.acquire(provider=provider, wanted=0)

    limits.release(provider=provider, grant_window=grant.window_start, count=4)

    assert limits.usage(provider=provider) == (0, 6)
    assert ProviderUsage.objects.get(provider=provider, window_start=HOUR).count == 6
    assert limits.acquire(provider=provider, wanted=10).granted == 4


def test_release_of_nothing_changes_nothing(account, at_now):
    provider = make_limited(account, hourly=10)
    grant = limits.acquire(provider=provider, wanted=2)

    limits.release(provider=provider, grant_window=grant.window_start, count=0)

    assert limits.usage(provider=provider) == (2, 2)


def test_usage_is_counted_per_provider(account, at_now):
    busy = make_limited(account, hourly=10, name="Busy")
    idle = make_limited(account, hourly=10, name="Idle")

    limits.acquire(provider=busy, wanted=10)

    assert limits.usage(provider=idle) == (0, 0)
    assert limits.acquire(provider=idle, wanted=10).granted == 10


def test_usage_of_a_provider_that_never_sent_is_zero(account, at_now):
    assert limits.usage(provider=make_limited(account, hourly=1)) == (0, 0)


def test_acquire_accepts_an_explicit_now(account):
    provider = make_limited(account, hourly=3)

    grant = limits.acquire(provider=provider, wanted=5, now=NOW)

    assert grant == limits.Grant(granted=3, window_start=HOUR, retry_after=TO_NEXT_HOUR)
    assert limits.usage(provider=provider, now=NOW) == (3, 3)


# --- concurrency (PostgreSQL: real row locks between two connections) ----------------------


def hold_a_grant_while_another_worker_acquires(provider: Provider) -> object:
    """Worker A acquires inside a transaction it keeps open; worker B acquires meanwhile.

    Returns B's grant, or the exception B raised.
    """
    a_holds = threading.Event()
    b_outcome: dict[str, object] = {}

    def worker_b() -> None:
        a_holds.wait(5)
        try:
            b_outcome["result"] = limits.acquire(provider=provider, wanted=1)
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            b_outcome["result"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=worker_b)
    thread.start()
    try:
        with transaction.atomic():
            limits.acquire(provider=provider, wanted=1)
            a_holds.set()
            time.sleep(0.3)  # B is now blocked on our lock (or, without one, done already)
    finally:
        a_holds.set()
        thread.join(10)
    return b_outcome["result"]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_acquire_serialises_concurrent_workers_so_a_limit_is_never_overshot(account, is_postgres):
    if not is_postgres:
        pytest.skip("needs PostgreSQL row locks between connections")
    provider = make_limited(account, hourly=1)

    grant = hold_a_grant_while_another_worker_acquires(provider)

    assert isinstance(grant, limits.Grant)
    assert grant.granted == 0
    assert limits.usage(provider=provider)[0] == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_acquire_for_an_unlimited_provider_survives_two_workers_opening_the_same_hour(
    account, is_postgres
):
    if not is_postgres:
        pytest.skip("needs PostgreSQL row locks between connections")
    provider = make_limited(account)

    grant = hold_a_grant_while_another_worker_acquires(provider)

    assert isinstance(grant, limits.Grant), f"the second worker got {grant!r}"
    assert grant.granted == 1
    assert limits.usage(provider=provider)[0] == 2
