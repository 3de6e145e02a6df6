"""`manage.py process_mail_queue`: the summary line, --limit, --loop and SIGTERM, cron."""

import datetime as dt
import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.utils import timezone
from django_crontab.crontab import Crontab

from api.models import Message
from api.services import batch_enqueue
from tests import factories
from tests.processes import worker_env

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(django_settings.BASE_DIR)
T0 = dt.datetime(2030, 1, 15, 10, 15, tzinfo=dt.UTC)
SUMMARY = re.compile(
    r"^claimed (\d+), sent (\d+), retried (\d+), failed (\d+), deferred (\d+)"
    r" in \d+\.\d\ds \(\d+\.\d msg/s\)$"
)
# --loop writes the same line per chunk as a log line: time first, so an operator reading
# the service's output knows when each chunk ran.
LOOP_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO mailpass\.progress: " + SUMMARY.pattern[1:]
)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


def queued(account, n: int = 1, **fields) -> list[Message]:
    return [
        factories.make_message(account, next_attempt_at=timezone.now(), **fields) for _ in range(n)
    ]


def run_command(*args: str) -> tuple[int, ...]:
    """Run the command in-process; return the numbers of its one summary line."""
    out = StringIO()
    call_command("process_mail_queue", *args, stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    match = SUMMARY.match(lines[0])
    assert match, lines[0]
    return tuple(int(n) for n in match.groups())


def test_the_command_prints_one_summary_line_of_what_it_did(clock, account, provider, sink):
    messages = queued(account, 3)

    assert run_command() == (3, 3, 0, 0, 0)
    assert sorted(r.message["Message-ID"] for r in sink.received) == sorted(
        m.message_id for m in messages
    )


def test_the_command_reports_an_empty_queue_as_all_zeros(clock, account, provider, sink):
    assert run_command() == (0, 0, 0, 0, 0)
    assert sink.received == []


def test_quiet_prints_nothing_when_nothing_was_claimed(clock, account, provider, sink):
    out = StringIO()
    call_command("process_mail_queue", "--quiet", stdout=out)
    assert out.getvalue() == ""


def test_quiet_still_prints_the_summary_when_messages_were_claimed(clock, account, provider, sink):
    queued(account, 2)
    assert run_command("--quiet") == (2, 2, 0, 0, 0)


def test_the_summary_counts_retried_failed_and_deferred_messages(clock, settings, account, sink):
    settings.MAILPASS_RETRY_BASE_SECONDS = 60
    limited = factories.make_provider(account, port=sink.port, hourly_limit=3)
    sink.fail_data("later@example.com", "451 4.3.0 try later")
    sink.fail_rcpt("nobody@example.com", "550 5.1.1 No such user")
    for to in ("ok", "later", "nobody", "x", "y", "z"):
        queued(account, provider=limited, to_email=f"{to}@example.com")

    # The limit counts accepted messages: 3 go out, one is retried, one refused, one waits.
    assert run_command() == (6, 3, 1, 1, 1)
    statuses = dict(Message.objects.values_list("to_email", "status"))
    assert (statuses.pop("later@example.com"), statuses.pop("nobody@example.com")) == (
        "queued",
        "failed",
    )
    # Which of the other four waits depends on which sending thread got there first.
    assert sorted(statuses.values()) == ["queued", "sent", "sent", "sent"]


def test_limit_claims_at_most_that_many_messages(clock, account, provider, sink):
    queued(account, 5)

    assert run_command("--limit", "2") == (2, 2, 0, 0, 0)
    assert Message.objects.filter(status=Message.Status.QUEUED).count() == 3
    assert len(sink.received) == 2


def test_limit_spans_several_chunks_of_the_batch_size(clock, account, provider, sink):
    queued(account, 5)

    assert run_command("--limit", "3", "--batch-size", "2") == (3, 3, 0, 0, 0)
    assert Message.objects.filter(status=Message.Status.SENT).count() == 3


def test_batch_size_only_changes_the_chunks_not_what_is_sent(clock, account, provider, sink):
    queued(account, 7)

    assert run_command("--batch-size", "3") == (7, 7, 0, 0, 0)
    assert len(sink.received) == 7


# --- cron ----------------------------------------------------------------------------


def _queue_jobs(settings) -> list[tuple]:
    """CRONJOBS entries that run process_mail_queue (as a function path or its argument)."""
    return [
        job
        for job in settings.CRONJOBS
        if "process_mail_queue" in job[1]
        or (len(job) > 2 and not isinstance(job[2], str) and "process_mail_queue" in job[2])
    ]


def test_cron_runs_the_queue_every_minute(settings):
    assert "django_crontab" in settings.INSTALLED_APPS
    jobs = _queue_jobs(settings)
    assert len(jobs) == 1
    schedule, func, args, *_ = jobs[0]
    assert schedule == "* * * * *"
    assert func == "django.core.management.call_command"
    assert args == ["process_mail_queue", "--quiet"]


def test_manage_py_crontab_is_our_command_not_django_crontabs():
    assert get_commands()["crontab"] == "api"


def _job_hash(job: tuple) -> str:
    # What the installed crontab line runs: `manage.py crontab run <hash of the job>`.
    return Crontab(readonly=True)._Crontab__hash_job(job)


def test_the_cron_job_delivers_the_queue_when_django_crontab_runs_it(
    clock, settings, tmp_path, account, provider, sink
):
    settings.MAILPASS_CRON_LOG = tmp_path / "cron.log"
    [job] = _queue_jobs(settings)
    [message] = queued(account)

    call_command("crontab", "run", _job_hash(job), stdout=StringIO())

    assert [r.message["Message-ID"] for r in sink.received] == [message.message_id]
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert " INFO api.cron: claimed 1, sent 1, " in settings.MAILPASS_CRON_LOG.read_text()


def test_crontab_run_fails_and_logs_when_the_job_fails_instead_of_swallowing_it(settings, tmp_path):
    settings.MAILPASS_CRON_LOG = tmp_path / "cron.log"
    job = ("* * * * *", "django.core.management.call_command", ["process_mail_queue", "--nope"])
    settings.CRONJOBS = [job]

    with pytest.raises(CommandError, match="process_mail_queue --nope failed: CommandError"):
        call_command("crontab", "run", _job_hash(job), stdout=StringIO())

    assert " ERROR api.cron: cron job " in settings.MAILPASS_CRON_LOG.read_text()


def test_crontab_run_does_nothing_while_the_previous_run_holds_the_lock(
    clock, settings, tmp_path, account, provider, sink
):
    settings.MAILPASS_CRON_LOG = tmp_path / "cron.log"
    [job] = _queue_jobs(settings)
    [message] = queued(account)
    job_hash = _job_hash(job)

    with open(f"{settings.MAILPASS_CRON_LOG}.{job_hash[:12]}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a run still draining
        call_command("crontab", "run", job_hash, stdout=StringIO())

    assert sink.received == []
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED


# --- --loop and SIGTERM --------------------------------------------------------------


def _start_loop(database_url: str) -> subprocess.Popen[str]:
    env = worker_env(database_url, MAILPASS_QUEUE_POLL_SECONDS="1")
    return subprocess.Popen(
        [sys.executable, "manage.py", "process_mail_queue", "--loop", "--batch-size", "10"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(proc: subprocess.Popen[str], *, within: float) -> tuple[int, str, str]:
    """SIGTERM the loop and collect its exit code and output; never leave it running."""
    try:
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        out, err = proc.communicate(timeout=within)
        assert time.monotonic() - started < within
        return proc.returncode, out, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wait_for(predicate, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_loop_delivers_new_messages_and_exits_cleanly_on_sigterm(
    account, provider, sink, test_database_url
):
    proc = _start_loop(test_database_url)
    try:
        [message] = queued(account)
        sent = _wait_for(lambda: Message.objects.filter(pk=message.pk, status="sent").exists())
    finally:
        returncode, out, err = _stop(proc, within=5)

    assert sent, err
    assert returncode == 0, err
    assert "claimed 1, sent 1, retried 0, failed 0, deferred 0 in " in out
    assert all(LOOP_LINE.match(line) for line in out.splitlines()), out
    assert [r.message["Message-ID"] for r in sink.received] == [message.message_id]


def test_sigterm_during_a_busy_loop_finishes_the_message_in_flight_and_exits(
    account, provider, sink, test_database_url
):
    items = [{"to": f"r{i}@example.com", "subject": f"m{i}", "text": "x"} for i in range(300)]
    batch_enqueue(account=account, api_key=None, items=items)
    proc = _start_loop(test_database_url)
    try:
        started = _wait_for(lambda: Message.objects.filter(status="sent").exists())
    finally:
        returncode, out, err = _stop(proc, within=10)

    assert started, err
    assert returncode == 0, err
    # Every message it sent was reported; what it had claimed but not sent went back.
    reported = [LOOP_LINE.match(line) for line in out.splitlines()]
    assert reported and all(reported), out
    sent = sum(int(m.group(2)) for m in reported)
    assert sent == len(sink.received)
    assert Message.objects.filter(status="sent").count() == sent
    assert not Message.objects.filter(status="sending").exists()
    assert 0 < sent < 300  # it stopped early instead of draining the queue
    assert Message.objects.filter(status="queued").count() == 300 - sent


def _handles_sigterm(pid: int) -> bool:
    """Whether the process has installed a SIGTERM handler (the caught-signals mask)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))


def test_an_idle_loop_exits_with_code_0_on_sigterm(is_postgres, tmp_path: Path) -> None:
    if is_postgres:
        pytest.skip("the PostgreSQL leg runs the loop against the test database instead")
    # The in-memory SQLite test database is out of the worker's reach: a migrated SQLite
    # file will do, since an idle loop needs nothing but the tables.
    db_file = tmp_path / "queue.sqlite3"
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db_file}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    proc = _start_loop(env["DATABASE_URL"])
    # Once its SIGTERM handler is installed, give it a moment to be inside its poll sleep.
    try:
        polling = _wait_for(lambda: _handles_sigterm(proc.pid) or proc.poll() is not None)
        time.sleep(0.2)
        still_running = proc.poll() is None
    finally:
        returncode, out, err = _stop(proc, within=5)

    assert polling and still_running, err
    assert returncode == 0, err
    assert out == ""  # nothing was claimed, so nothing to report


def test_workers_runs_that_many_processes_sharing_the_queue(
    account, provider, sink, test_database_url
):
    items = [{"to": f"r{i}@example.com", "subject": f"m{i}", "text": "x"} for i in range(200)]
    batch_enqueue(account=account, api_key=None, items=items)
    env = worker_env(test_database_url)

    result = subprocess.run(
        [sys.executable, "manage.py", "process_mail_queue", "--workers", "2", "--batch-size", "10"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    summaries = [SUMMARY.match(line) for line in result.stdout.splitlines()]
    assert len(summaries) == 2 and all(summaries), result.stdout
    assert sum(int(m.group(2)) for m in summaries) == 200
    ids = [r.message["Message-ID"] for r in sink.received]
    assert len(ids) == len(set(ids)) == 200
