"""providers.deadline: scopes, what is left of them, and each provider's time."""

import threading
import time

import pytest

from providers import deadline
from providers.deadline import DeadlineExceeded
from providers.models import Provider


def test_without_a_deadline_nothing_is_remaining_and_nothing_expires():
    assert deadline.remaining() is None


def test_remaining_counts_down_from_the_scopes_seconds():
    with deadline.within(5):
        first = deadline.remaining()
        time.sleep(0.05)
        second = deadline.remaining()

    assert 4.9 < first <= 5
    assert second < first


def test_a_passed_deadline_raises_a_timeout_error():
    with deadline.within(0.01):
        time.sleep(0.02)
        with pytest.raises(DeadlineExceeded) as raised:
            deadline.remaining()

    assert isinstance(raised.value, TimeoutError)


def test_a_nested_scope_keeps_the_earlier_expiry():
    with deadline.within(0.5):
        with deadline.within(30):
            inner_longer = deadline.remaining()
        with deadline.within(0.1):
            inner_shorter = deadline.remaining()
        outer = deadline.remaining()

    assert inner_longer <= 0.5
    assert inner_shorter <= 0.1
    assert 0.1 < outer <= 0.5


def test_leaving_a_scope_restores_the_enclosing_deadline_even_on_error():
    with deadline.within(10):
        with pytest.raises(RuntimeError), deadline.within(0.1):
            raise RuntimeError("boom")
        restored = deadline.remaining()

    assert restored > 9
    assert deadline.remaining() is None


def test_a_nested_scope_inside_a_passed_deadline_has_passed_too():
    with deadline.within(0.01):
        time.sleep(0.02)
        with deadline.within(10), pytest.raises(DeadlineExceeded):
            deadline.remaining()


def test_another_thread_does_not_inherit_the_deadline():
    seen: list[float | None] = []
    with deadline.within(0.01):
        time.sleep(0.02)
        thread = threading.Thread(target=lambda: seen.append(deadline.remaining()))
        thread.start()
        thread.join()

    assert seen == [None]


def test_a_providers_time_is_its_timeout_capped_at_the_web_requests_budget(settings):
    # An older row (or a raised timeout setting) may hold more than the budget allows now.
    settings.MAILPASS_REQUEST_TIMEOUT_SECONDS = 25
    quick = Provider(kind=Provider.Kind.SMTP, timeout=3)
    slow = Provider(kind=Provider.Kind.SMTP, timeout=300)
    esp = Provider(kind=Provider.Kind.POSTMARK, timeout=300)

    assert deadline.timeout_for(quick) == 3.0
    assert deadline.timeout_for(slow) == 25.0
    assert deadline.timeout_for(esp) == 25.0


def test_the_instance_relays_time_is_email_timeout_capped_the_same_way(settings):
    relay = Provider(kind=Provider.Kind.MAILPASS, timeout=3)
    settings.MAILPASS_REQUEST_TIMEOUT_SECONDS = 25
    settings.EMAIL_TIMEOUT = 7
    assert deadline.timeout_for(relay) == 7.0
    settings.EMAIL_TIMEOUT = 60
    assert deadline.timeout_for(relay) == 25.0
