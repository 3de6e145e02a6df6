"""An ESP call ends within the provider's timeout, connect to the last byte of the answer.

A read timeout bounds one read: an API that sends its answer a byte at a time, each in
time, held a delivery for as long as it liked. The loopback fakes stall on demand
("drip": headers a byte every 0.1 s, never ended; "hang": no answer at all). Every ESP
kind goes through the same deadline-keeping transport: requests for anymail's HTTP
backends and the connection checks, and the same under boto3 for Amazon SES.
"""

import time
from typing import Any

import pytest
from django.core.mail import EmailMessage

from providers.delivery import Outcome
from providers.services import provider_test_connection
from tests.factories import make_esp_provider
from tests.providers.esp_servers import ESP_KINDS
from tests.sending import deliver_via

pytestmark = pytest.mark.django_db

TIMEOUT = 1
MARGIN = 1.0  # seconds beyond the provider's timeout: a busy machine, Django's own work


def email() -> EmailMessage:
    return EmailMessage("Hi", "Body", "sender@example.com", ["rcpt@example.com"])


def timed(call: Any, *args: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call(*args)
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    ("kind", "mode"),
    [*((kind, "drip") for kind in ESP_KINDS), ("postmark", "hang"), ("amazon_ses", "hang")],
)
def test_a_delivery_to_an_esp_that_stalls_ends_within_the_providers_timeout(
    account, esp_server, kind, mode
):
    server = esp_server(kind)
    server.stall(mode)
    provider = make_esp_provider(account, kind, timeout=TIMEOUT)

    [result], seconds = timed(lambda: list(deliver_via(provider, [email()])))

    assert seconds < TIMEOUT + MARGIN, f"{seconds:.1f}s: {result}"
    assert result.outcome is Outcome.RETRY
    assert result.error_text.startswith("cannot reach "), result.error_text
    # The request went out whole: the ESP may have taken the message, so no failover.
    assert result.not_accepted is False
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", ["postmark", "amazon_ses"])
def test_the_connection_test_of_an_esp_that_drips_ends_within_the_providers_timeout(
    account, esp_server, kind
):
    server = esp_server(kind)
    server.stall("drip")
    provider = make_esp_provider(account, kind, timeout=TIMEOUT)

    (ok, said), seconds = timed(provider_test_connection, provider)

    assert seconds < TIMEOUT + MARGIN, f"{seconds:.1f}s: {said!r}"
    assert ok is False
    assert said.startswith(f"{provider.get_kind_display()}: "), said
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", ["postmark", "amazon_ses"])
def test_an_esp_that_answers_in_time_still_works_over_the_deadline_transport(
    account, esp_server, kind
):
    server = esp_server(kind)
    provider = make_esp_provider(account, kind, timeout=TIMEOUT)

    # Two messages: the second goes over the connection the first one opened.
    results = list(deliver_via(provider, [email(), email()]))
    ok, said = provider_test_connection(provider)

    assert [r.outcome for r in results] == [Outcome.SENT] * 2
    assert all(r.provider_message_id for r in results)
    assert ok, said
    assert [r.method for r in server.requests] == ["POST", "POST", "GET"]
