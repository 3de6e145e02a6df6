"""api.services.message_send_test: one short message through the named provider alone,
recorded like any message and tagged "test"."""

import datetime as dt

import pytest
import time_machine
from rest_framework.exceptions import ValidationError

from api.errors import RecipientSuppressedError, SendFailedError, SendLimitExceededError
from api.models import Message, MessageEvent
from api.services import message_send_test, suppression_add
from providers import limits
from providers.services import provider_set_fallbacks
from tests import factories
from tests.smtp_sink import closed_port

pytestmark = pytest.mark.django_db

# 10:15 UTC: the limit windows cannot roll over between two sends of a test.
NOW = dt.datetime(2024, 5, 10, 10, 15, tzinfo=dt.UTC)
TO_NEXT_HOUR = 45 * 60


@pytest.fixture
def mid_hour():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def second(account, counting_sinks):
    """A provider that is not the account's default, on a sink of its own."""
    return factories.make_provider(
        account,
        port=counting_sinks[0].port,
        name="Second",
        from_email="second@example.com",
        from_name="Second Sender",
        is_default=False,
    )


def send_test(provider, to_email: str = "me@example.com") -> Message:
    return message_send_test(account=provider.account, provider=provider, to_email=to_email)


def test_a_test_email_goes_out_once_through_that_provider_and_not_the_default(
    provider, sink, second, counting_sinks
):
    message = send_test(second)

    assert sink.received == []
    [received] = counting_sinks[0].received
    assert received.mail_from == "second@example.com"
    assert received.rcpt_tos == ["me@example.com"]
    mail = received.message
    assert mail["Message-ID"] == message.message_id
    assert mail["From"] == "Second Sender <second@example.com>"
    assert mail["To"] == "me@example.com"
    assert mail["Subject"] == "MailPass test email"
    assert mail.get_content_type() == "text/plain"
    assert "sent through the provider Second" in mail.get_content()


def test_a_test_email_is_recorded_as_a_sent_message_tagged_test(account, second, counting_sinks):
    returned = send_test(second)

    message = Message.objects.get()
    assert message.pk == returned.pk
    assert (message.account, message.provider, message.api_key) == (account, second, None)
    assert (message.status, message.tags) == (Message.Status.SENT, ["test"])
    assert (message.to_email, message.from_email) == ("me@example.com", "second@example.com")
    assert message.subject == "MailPass test email"
    assert message.sent_at is not None
    assert message.attempts == 1
    assert message.claim_token is None
    assert (message.error_message, message.failure_reason) == (None, None)
    assert not MessageEvent.objects.exists()


def test_a_test_email_is_never_tracked_even_when_the_account_tracks(
    account, second, counting_sinks
):
    account.track_opens = True
    account.track_clicks = True
    account.save()

    message = send_test(second)

    assert (message.track_opens, message.track_clicks) == (False, False)
    assert Message.objects.filter(track_opens=False, track_clicks=False).count() == 1


def test_a_test_email_goes_out_from_an_account_without_a_default_provider(account, sink):
    spare = factories.make_provider(account, port=sink.port, name="Spare", is_default=False)

    message = send_test(spare)

    assert len(sink.received) == 1
    assert (message.provider_id, message.status) == (spare.pk, Message.Status.SENT)


def test_a_test_email_to_a_mixed_case_address_is_delivered_to_it(provider, sink):
    send_test(provider, "Me@Example.com")

    [received] = sink.received
    assert received.rcpt_tos == ["Me@Example.com"]


# --- failures ---------------------------------------------------------------------------------


def test_a_test_email_through_a_dead_provider_fails_in_its_words_and_tries_no_fallback(
    account, counting_sinks
):
    backup_sink = counting_sinks[1]
    backup = factories.make_provider(account, port=backup_sink.port, name="Backup")
    dead = factories.make_provider(
        account, port=closed_port(), name="Dead", timeout=2, is_default=False
    )
    provider_set_fallbacks(provider=dead, fallbacks=[backup])

    with pytest.raises(SendFailedError) as excinfo:
        send_test(dead)

    provider_error = excinfo.value.details["provider_error"]
    assert provider_error.startswith("connection error: ")
    assert "refused" in provider_error.lower()
    assert provider_error in str(excinfo.value.detail)
    assert backup_sink.received == []
    assert backup_sink.sessions == 0  # not even a connection to the fallback
    message = Message.objects.get()
    assert excinfo.value.details["message_id"] == message.message_id
    assert (message.provider_id, message.status) == (dead.pk, Message.Status.FAILED)
    assert message.failure_reason == Message.FailureReason.TEMPORARY
    assert message.error_message == provider_error
    assert message.tags == ["test"]
    assert not MessageEvent.objects.filter(event_type=MessageEvent.Type.FAILOVER).exists()


def test_a_test_email_the_provider_refuses_fails_with_its_reply(provider, sink):
    sink.fail_rcpt("nobody@example.com", "550 5.1.1 No such user here")

    with pytest.raises(SendFailedError) as excinfo:
        send_test(provider, "nobody@example.com")

    assert "550 5.1.1 No such user here" in excinfo.value.details["provider_error"]
    assert sink.received == []
    message = Message.objects.get()
    assert (message.status, message.failure_reason) == (
        Message.Status.FAILED,
        Message.FailureReason.REJECTED,
    )
    assert "550 5.1.1 No such user here" in message.error_message


def test_a_test_email_through_a_provider_without_a_sender_is_a_validation_error(account, sink):
    anonymous = factories.make_provider(
        account, port=sink.port, name="Anonymous", from_email="", is_default=False
    )

    with pytest.raises(ValidationError) as excinfo:
        send_test(anonymous)

    assert "from_email" in excinfo.value.detail
    assert sink.received == []
    assert not Message.objects.exists()
    assert limits.usage(provider=anonymous) == (0, 0)


def test_a_test_email_to_a_suppressed_address_is_refused_and_recorded_as_suppressed(
    account, provider, sink
):
    suppression_add(account=account, email="gone@example.com")

    with pytest.raises(RecipientSuppressedError) as excinfo:
        send_test(provider, "Gone@Example.com")

    assert excinfo.value.details["suppressed"] == ["gone@example.com"]
    assert sink.received == []
    message = Message.objects.get()
    assert excinfo.value.details["message_id"] == message.message_id
    assert (message.status, message.tags) == (Message.Status.SUPPRESSED, ["test"])
    assert "gone@example.com" in message.error_message
    assert limits.usage(provider=provider) == (0, 0)


def test_another_accounts_suppression_does_not_hold_a_test_email_back(
    outsider_account, provider, sink
):
    suppression_add(account=outsider_account, email="me@example.com")

    message = send_test(provider)

    assert message.status == Message.Status.SENT
    assert len(sink.received) == 1


# --- limits -----------------------------------------------------------------------------------


def test_a_test_email_counts_in_the_usage_of_a_provider_without_limits(mid_hour, provider, sink):
    send_test(provider)
    send_test(provider)

    assert limits.usage(provider=provider) == (2, 2)


def test_a_test_email_counts_against_the_limits_and_stops_at_them(mid_hour, account, sink):
    limited = factories.make_provider(account, port=sink.port, name="Small", hourly_limit=1)
    send_test(limited)

    with pytest.raises(SendLimitExceededError) as excinfo:
        send_test(limited)

    assert 0 < excinfo.value.details["retry_after"] <= TO_NEXT_HOUR
    assert len(sink.received) == 1
    assert limits.usage(provider=limited) == (1, 1)
    assert Message.objects.count() == 1  # the refused one is not recorded


def test_a_test_email_is_refused_by_a_full_daily_limit(mid_hour, account, sink):
    limited = factories.make_provider(account, port=sink.port, name="Daily", daily_limit=1)
    limits.acquire(provider=limited, wanted=1)

    with pytest.raises(SendLimitExceededError):
        send_test(limited)

    assert sink.received == []
    assert not Message.objects.exists()


def test_a_full_default_provider_does_not_stop_a_test_through_another(
    mid_hour, account, sink, counting_sinks
):
    full = factories.make_provider(account, port=sink.port, name="Full", hourly_limit=1)
    limits.acquire(provider=full, wanted=1)
    spare = factories.make_provider(
        account, port=counting_sinks[0].port, name="Spare", is_default=False, hourly_limit=5
    )

    send_test(spare)

    assert len(counting_sinks[0].received) == 1
    assert limits.usage(provider=spare) == (1, 1)
    assert limits.usage(provider=full) == (1, 1)


def test_a_failed_test_email_gives_back_the_capacity_it_took(mid_hour, account):
    dead = factories.make_provider(
        account, port=closed_port(), name="Dead", timeout=2, hourly_limit=1
    )

    with pytest.raises(SendFailedError):
        send_test(dead)

    assert limits.usage(provider=dead) == (0, 0)


def test_a_test_email_refuses_another_accounts_provider(outsider_account, provider, sink):
    with pytest.raises(ValueError, match="another account"):
        message_send_test(account=outsider_account, provider=provider, to_email="me@example.com")

    assert sink.received == [] and not Message.objects.exists()
