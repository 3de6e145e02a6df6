"""The queue, in this process, against each fault of the fault sink.

What we promise: temporary trouble (421 greeting, 451, a reply lost after the final ".",
a server that hangs) is retried, never failed; a permanent refusal fails that message only;
every attempt carries the same Message-ID, so the one possible duplicate (a reply lost after
"." on a connection) is recognisable downstream.
"""

import time

import pytest

from api import drain, queue
from api.models import Message
from api.services import batch_enqueue
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fast_retries(settings):
    # Retries due at once: one process_due(limit=n) pass is one attempt per message.
    settings.MAILPASS_RETRY_BASE_SECONDS = 0
    settings.MAILPASS_RETRY_CAP_SECONDS = 0
    settings.MAILPASS_RETRY_MAX_ATTEMPTS = 10
    return settings


@pytest.fixture
def sink_provider(account, fault_sink):
    return factories.make_provider(account, port=fault_sink.port, timeout=1)


def enqueue(account, recipients: list[str]) -> list[Message]:
    items = [
        {"to": rcpt, "subject": f"Message {i}", "text": "x"} for i, rcpt in enumerate(recipients)
    ]
    return [r.message for r in batch_enqueue(account=account, api_key=None, items=items)]


def one_pass(messages: list[Message]) -> queue.QueueStats:
    return drain.process_due(batch_size=len(messages), limit=len(messages))


def statuses(messages: list[Message]) -> dict[str, str]:
    by_pk = dict(
        Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("pk", "status")
    )
    return {m.to_email: by_pk[m.pk] for m in messages}


def test_a_421_greeting_is_retried_and_the_retry_carries_the_same_message_id(
    fast_retries, account, sink_provider, fault_sink
):
    messages = enqueue(account, ["a@example.com", "b@example.com"])
    fault_sink.set_faults(connect="421 4.3.2 Service not available")

    first = one_pass(messages)
    fault_sink.clear_faults()
    second = one_pass(messages)

    assert (first.retried, first.failed, second.sent) == (2, 0, 2)
    assert fault_sink.record.dispositions()["421"] == 2
    assert fault_sink.record.accepted() == {m.message_id: 1 for m in messages}
    m = Message.objects.get(pk=messages[0].pk)
    assert (m.status, m.attempts) == (Message.Status.SENT, 2)


def test_a_reply_lost_after_the_final_dot_is_retried_and_the_copy_has_the_same_message_id(
    fast_retries, account, sink_provider, fault_sink
):
    # The sink read the whole message and hung up before its 250: a real server may have
    # delivered it. We must retry (at-least-once), and the second copy must be recognisable.
    [message] = enqueue(account, ["a@example.com"])
    fault_sink.set_faults(after_data="drop")

    first = one_pass([message])
    fault_sink.clear_faults()
    second = one_pass([message])

    assert (first.retried, second.sent) == (1, 1)
    assert fault_sink.record.lines == [
        ("drop", message.message_id, "a@example.com"),
        ("250", message.message_id, "a@example.com"),
    ]


@pytest.mark.parametrize("connections", [1, 4])
def test_a_server_that_hangs_after_data_costs_two_timeouts_per_chunk_and_fails_nothing(
    fast_retries, account, sink_provider, fault_sink, connections
):
    fast_retries.MAILPASS_QUEUE_CONNECTIONS = connections
    messages = enqueue(account, [f"r{i}@example.com" for i in range(12)])
    fault_sink.set_faults(after_data="hang")
    started = time.monotonic()

    first = one_pass(messages)
    elapsed = time.monotonic() - started
    fault_sink.clear_faults()
    second = one_pass(messages)

    # Provider timeout 1 s. Two hung messages in a row and the provider counts as down for
    # the chunk; with several connections they hang side by side, each at most twice.
    hangs = fault_sink.record.dispositions()["hang"]
    assert elapsed < 4, f"{elapsed:.1f}s: one timeout per message?"
    assert hangs == 2 if connections == 1 else 2 <= hangs <= 2 * connections
    assert (first.retried, first.failed) == (12, 0)
    assert second.sent == 12
    assert fault_sink.record.accepted() == {m.message_id: 1 for m in messages}


def test_faults_per_recipient_in_one_chunk_fail_only_the_permanently_refused_message(
    fast_retries, account, sink_provider, fault_sink
):
    rcpts = ["ok1@example.com", "gone@example.com", "grey@example.com", "lost@example.com"]
    messages = enqueue(account, [*rcpts, "ok2@example.com"])
    fault_sink.set_faults(
        rcpt={"gone@example.com": "550 5.1.1 No such user"},
        data_for={"grey@example.com": "451 4.7.1 Greylisted"},
        after_data_for={"lost@example.com": "drop"},
    )

    stats = one_pass(messages)

    assert (stats.sent, stats.retried, stats.failed) == (2, 2, 1)
    assert statuses(messages) == {
        "ok1@example.com": "sent",
        "gone@example.com": "failed",
        "grey@example.com": "queued",
        "lost@example.com": "queued",
        "ok2@example.com": "sent",
    }
    gone = Message.objects.get(to_email="gone@example.com")
    assert "550 5.1.1 No such user" in gone.error_message
