"""Failover: when the default provider certainly did not take a message, its fallbacks are
tried in order, and a message is never sent through two providers."""

import pytest
from django.utils import timezone

from api import drain
from api.models import Message, MessageEvent
from providers.models import Provider
from tests import factories
from tests.smtp_sink import closed_port

pytestmark = pytest.mark.django_db(transaction=True)  # the queue sends from threads

PAYLOAD = {"to": "user@example.com", "subject": "Hi", "text": "Hello"}


@pytest.fixture
def fallback(account, sink):
    return factories.make_provider(account, port=sink.port, name="Backup relay", is_default=False)


@pytest.fixture
def dead_primary(account, fallback):
    return factories.make_provider(
        account, port=closed_port(), name="Main relay", timeout=2, fallbacks=[fallback.pk]
    )


def test_send_with_a_dead_primary_goes_out_once_through_the_fallback(
    api, dead_primary, fallback, sink
):
    response = api.post("/api/v1/mail/send", PAYLOAD, format="json")

    assert response.status_code == 200, response.content
    assert len(sink.received) == 1
    message = Message.objects.get()
    assert (message.status, message.provider_id) == ("sent", fallback.pk)
    events = api.get(f"/api/v1/mail/status/{message.message_id}").json()["data"]["events"]
    assert [e["event_type"] for e in events] == ["failover"]
    assert events[0]["description"].startswith("Main relay did not take it (connection error")
    assert events[0]["description"].endswith("trying Backup relay")


def test_the_queue_with_a_dead_primary_delivers_each_message_once_through_the_fallback(
    account, dead_primary, fallback, sink
):
    messages = [
        factories.make_message(account, provider=dead_primary, next_attempt_at=timezone.now())
        for _ in range(6)
    ]

    stats = drain.process_due()

    assert (stats.sent, stats.retried, stats.failed) == (6, 0, 0)
    assert sorted(r.message["Message-ID"] for r in sink.received) == sorted(
        m.message_id for m in messages
    )
    assert set(Message.objects.values_list("provider_id", flat=True)) == {fallback.pk}
    assert MessageEvent.objects.filter(event_type="failover").count() == 6


def test_an_envelope_refusal_fails_over(account, sink, fallback, counting_sinks):
    refusing, _ = counting_sinks
    refusing.fail_rcpt("user@example.com", "451 4.7.1 Greylisted, try again later")
    primary = factories.make_provider(
        account, port=refusing.port, name="Greylisted", fallbacks=[fallback.pk]
    )
    message = factories.make_message(
        account, provider=primary, to_email="user@example.com", next_attempt_at=timezone.now()
    )

    assert drain.process_due().sent == 1

    assert refusing.received == [] and len(sink.received) == 1
    message.refresh_from_db()
    assert message.provider_id == fallback.pk


def test_a_provider_that_may_have_taken_the_message_is_not_failed_over(
    account, sink, counting_sinks
):
    # The primary takes the content and then never answers the final ".": it may have
    # kept the message, so sending it elsewhere could deliver it twice. It is retried.
    slow, backup = counting_sinks
    slow.handler.data_delay_seconds = 3
    second = factories.make_provider(account, port=backup.port, name="B", is_default=False)
    primary = factories.make_provider(
        account, port=slow.port, name="A", timeout=1, fallbacks=[second.pk]
    )
    message = factories.make_message(account, provider=primary, next_attempt_at=timezone.now())

    stats = drain.process_due()

    assert (stats.sent, stats.retried) == (0, 1)
    assert backup.received == []
    message.refresh_from_db()
    assert (message.status, message.provider_id) == ("queued", primary.pk)
    assert not MessageEvent.objects.filter(event_type="failover").exists()


def test_another_accounts_provider_is_never_used_as_a_fallback(
    api, account, outsider_account, sink
):
    theirs = factories.make_provider(outsider_account, port=sink.port, name="Theirs")
    mine = factories.make_provider(account, port=closed_port(), name="Mine", timeout=2)
    # provider_set_fallbacks refuses this; a row changed behind its back is ignored too.
    Provider.objects.filter(pk=mine.pk).update(fallbacks=[theirs.pk])

    response = api.post("/api/v1/mail/send", PAYLOAD, format="json")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "SEND_FAILED"
    assert sink.received == []


def test_fallbacks_must_be_other_providers_of_the_same_account(account, outsider_account, sink):
    from django.core.exceptions import ValidationError

    from providers.services import provider_set_fallbacks

    mine = factories.make_provider(account, port=sink.port, name="A")
    other = factories.make_provider(account, port=sink.port, name="B", is_default=False)
    theirs = factories.make_provider(outsider_account, port=sink.port, name="C")

    for bad in ([theirs], [mine], [other, other]):
        with pytest.raises(ValidationError):
            provider_set_fallbacks(provider=mine, fallbacks=bad)
    provider_set_fallbacks(provider=mine, fallbacks=[other])
    mine.refresh_from_db()
    assert mine.fallbacks == [other.pk]


def test_add_provider_takes_fallbacks_in_order(owner, account, sink):
    from io import StringIO

    from django.core.management import call_command

    first = factories.make_provider(account, port=sink.port, name="First", is_default=False)
    second = factories.make_provider(account, port=sink.port, name="Second", is_default=False)

    call_command(
        "add_provider", "owner", "--name", "Main", "--host", "127.0.0.1", "--port", str(sink.port),
        "--security", "none", "--fallback", str(second.pk), "--fallback", str(first.pk),
        stdout=StringIO(),
    )  # fmt: skip

    assert Provider.objects.get(name="Main").fallbacks == [second.pk, first.pk]
