"""The queue worker's concurrency parts (api/drain.py): the DatabaseLane every sending
thread queries through, the group commit of `sent` outcomes, and how lanes widen."""

import threading
import time
from concurrent.futures import Future

import pytest

from api import drain, queue
from api.models import Message
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def on_sending_thread(work):
    """Run `work` on a fresh sending thread and return its result (or raise its error)."""
    thread = drain._SenderThread("test")
    thread.start()
    done: Future = Future()
    thread.inbox.put((work, done))
    try:
        return done.result(timeout=10)
    finally:
        thread.stop()
        thread.join()


def test_a_sending_thread_that_queries_the_database_itself_is_refused(account):
    with pytest.raises(RuntimeError, match="DatabaseLane"):
        on_sending_thread(lambda: Message.objects.count())


def test_the_lane_runs_a_sending_threads_queries_on_its_own_connections(account):
    factories.make_message(account)
    lane = drain.DatabaseLane(threads=2)
    try:
        count, where = on_sending_thread(
            lambda: lane.run(lambda: (Message.objects.count(), threading.current_thread().name))
        )
        assert count == 1
        assert where.startswith("mailpass-db-")
        with pytest.raises(ZeroDivisionError):
            on_sending_thread(lambda: lane.run(lambda: 1 / 0))
        # Anywhere else (the worker's main thread) the work runs right where it is asked.
        assert lane.run(threading.current_thread) is threading.current_thread()
    finally:
        lane.close()


def test_sent_outcomes_of_many_threads_are_committed_in_a_few_grouped_writes(account, monkeypatch):
    messages = [factories.make_message(account) for _ in range(40)]
    writes: list[int] = []
    under_way, most_at_once = 0, 0
    lock = threading.Lock()

    def slow_mark_sent(sent):
        nonlocal under_way, most_at_once
        with lock:
            under_way += 1
            most_at_once = max(most_at_once, under_way)
            writes.append(len(sent))
        time.sleep(0.02)  # a commit: others gather meanwhile
        with lock:
            under_way -= 1
        return {message.pk for message, _, _ in sent}

    monkeypatch.setattr(queue, "mark_sent", slow_mark_sent)
    lane = drain.DatabaseLane()
    recorder = drain._SentRecorder(lane)
    results: list[bool] = []

    def record(message):
        results.append(recorder.record(message, "", 1))

    threads = [threading.Thread(target=record, args=(m,)) for m in messages]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        lane.close()

    assert results == [True] * 40
    assert sum(writes) == 40
    assert len(writes) < 40  # grouped
    assert most_at_once <= drain.GROUP_WRITES


def test_a_lane_starts_narrow_and_widens_fourfold_up_to_the_most():
    widths = drain._Widths(most=64)
    assert widths.of(1) == drain.LANE_MIN_THREADS
    assert [widths.widen(1) for _ in range(3)] == [16, 64, 64]
    assert widths.of(2) == drain.LANE_MIN_THREADS
    assert drain._Widths(most=2).of(1) == 2


def test_the_cpu_is_looked_at_no_more_often_than_every_look_seconds():
    widths = drain._Widths(most=64)
    assert widths.cpu_has_room() is False  # too soon after the last look
    time.sleep(drain.LOOK_SECONDS * 1.5)
    assert widths.cpu_has_room() in (True, False)
    assert widths.cpu_has_room() is False
