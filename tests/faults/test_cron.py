"""Issue 11, finding 4: the line `manage.py crontab add` installs must really send.

Each test puts the line into the crontab of the user running the tests (saved before and
put back after, whatever happens), reads it back with `crontab -l` and runs its command as
cron would: `/bin/sh -c` in the owner's HOME with HOME, LOGNAME, SHELL=/bin/sh and
PATH=/usr/bin:/bin and nothing else (crontab(5)). No cron daemon is started. `crontab add`
runs with MAILPASS_ENV_FILE and a PATH only, as the README's procedure has it, or, where a
test needs the old code to get that far, with the whole configuration exported as well.
"""

import fcntl
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from api.cron import job_hash
from tests.faults.fault_sink import ROOT, FaultSink, free_port
from tests.faults.harness import QueueDb, wait_until
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)

CRONTAB = shutil.which("crontab")
COMMENT = "# django-cronjobs for mailpass"
# Test runs on one machine share the user's crontab: they take turns.
CRONTAB_TURN = Path(tempfile.gettempdir()) / "mailpass-tests-crontab.lock"
USER = pwd.getpwuid(os.getuid())
CRON_ENV = {
    "HOME": USER.pw_dir,
    "LOGNAME": USER.pw_name,
    "PATH": "/usr/bin:/bin",
    "SHELL": "/bin/sh",
}
LOGGED_SUMMARY = re.compile(r" INFO api\.cron: claimed (\d+), sent (\d+), ")


def crontab_l() -> str | None:
    """The user's crontab; None when there is none."""
    proc = subprocess.run([CRONTAB, "-l"], capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode == 0:
        return proc.stdout
    if "no crontab for" in proc.stderr:
        return None
    raise AssertionError(f"crontab -l exited {proc.returncode}: {proc.stderr}")


def crontab_set(text: str | None) -> None:
    """Install `text` as the user's crontab; None removes it."""
    args = [CRONTAB, "-r"] if text is None else [CRONTAB, "-"]
    proc = subprocess.run(args, input=text, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0 or "no crontab for" in proc.stderr, proc.stderr


def cron_job(command: str) -> tuple:
    """The CRONJOBS entry that runs this management command."""
    [job] = [job for job in settings.CRONJOBS if job[2][0] == command]
    return tuple(job)


def our_lines() -> list[str]:
    return [line for line in (crontab_l() or "").splitlines() if line.endswith(COMMENT)]


def cron_daemon() -> str | None:
    """A running cron daemon ("cron (pid 123)"), or None."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            name = comm.read_text().strip()
        except OSError:  # the process has just ended
            continue
        if name in {"cron", "crond"}:
            return f"{name} (pid {comm.parent.name})"
    return None


@pytest.fixture
def user_crontab() -> Iterator[None]:
    """The crontab of the user running the tests, put back as it was after the test."""
    if CRONTAB is None:
        pytest.skip("no crontab program: Debian's cron package (bin/test-all installs it as root)")
    if daemon := cron_daemon():
        pytest.skip(f"a cron daemon runs ({daemon}): it would run the tests' lines as well")
    with open(CRONTAB_TURN, "a") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)
        try:
            saved = crontab_l()
        except AssertionError as err:
            pytest.skip(f"this user cannot use crontab: {err}")
        try:
            yield
        finally:
            crontab_set(saved)


@dataclass
class Cron:
    db: QueueDb
    env_file: Path
    log: Path
    config: dict[str, str]

    def write_env(self, **changes: str) -> None:
        self.config.update(changes)
        lines = [f"{key}={value}\n" for key, value in self.config.items()]
        self.env_file.write_text("# the test's MailPass\n" + "".join(lines), encoding="utf-8")

    def manage(
        self, *args: str, exported: bool = False, **env: str | None
    ) -> subprocess.CompletedProcess:
        """manage.py with MAILPASS_ENV_FILE and a PATH in its environment; `exported`: the
        configuration too. A None in `env` removes that variable."""
        base = {
            "PATH": os.environ["PATH"],
            "HOME": USER.pw_dir,
            "MAILPASS_ENV_FILE": str(self.env_file),
        }
        merged = {**base, **(self.config if exported else {}), **env}
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={key: value for key, value in merged.items() if value is not None},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def add(self, *, exported: bool = False, **env: str | None) -> subprocess.CompletedProcess:
        return self.manage("crontab", "add", exported=exported, **env)

    def installed_command(self, job: str = "process_mail_queue") -> str:
        """The command of the line that runs that management command (the queue's, by
        default): what follows the five time fields, up to the comment."""
        [line] = [line for line in our_lines() if job_hash(cron_job(job)) in line]
        command = line.split(None, 5)[5].split("#", 1)[0].strip()
        assert "%" not in command, f"cron would cut the line at its %: {line}"
        return command

    def start(self, command: str) -> subprocess.Popen:
        return subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=USER.pw_dir,
            env=CRON_ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, command: str, timeout: float = 120) -> tuple[int, str, str]:
        proc = self.start(command)
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return proc.returncode, out, err

    def summaries(self) -> list[tuple[int, int]]:
        """(claimed, sent) of each run's summary line in the log."""
        text = self.log.read_text() if self.log.exists() else ""
        return [(int(c), int(s)) for c, s in LOGGED_SUMMARY.findall(text)]


def _configuration(db: QueueDb, log: Path) -> dict[str, str]:
    """This test run's own settings (its SECRET_KEY decrypts what seed_queue encrypted, its
    MAILPASS_* let a sink on any loopback port in), aimed at the test's database and log."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if key == "SECRET_KEY" or (key.startswith("MAILPASS_") and key != "MAILPASS_ENV_FILE")
    }
    return {
        **inherited,
        "DATABASE_URL": db.url,
        "MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS": "1",
        "MAILPASS_CRON_LOG": str(log),
    }


@pytest.fixture
def cron(user_crontab: None, queue_db: QueueDb, tmp_path: Path) -> Cron:
    log = tmp_path / "log" / "cron.log"  # its directory does not exist yet
    setup = Cron(queue_db, tmp_path / "mailpass.env", log, _configuration(queue_db, log))
    setup.write_env()
    return setup


def test_the_installed_line_delivers_the_queue_under_cron_and_an_idle_run_says_nothing(
    cron: Cron, fault_sink: FaultSink
):
    cron.db.seed(port=fault_sink.port, messages=2)
    added = cron.add()
    assert added.returncode == 0, added.stderr
    command = cron.installed_command()
    assert command.startswith(f"MAILPASS_ENV_FILE={cron.env_file} ")

    assert cron.run(command) == (0, "", "")
    assert set(fault_sink.record.accepted()) == cron.db.message_ids()
    assert cron.db.statuses() == {"sent": 2}
    assert cron.summaries() == [(2, 2)]
    logged = cron.log.read_text()

    assert cron.run(command) == (0, "", "")
    assert cron.log.read_text() == logged  # no line per idle minute


def test_the_installed_webhook_line_posts_the_events_under_cron_and_says_nothing(
    cron: Cron, fault_sink: FaultSink
):
    with WebhookReceiver() as receiver:
        cron.db.seed(port=fault_sink.port, messages=2, webhook_url=receiver.url)
        added = cron.add()
        assert added.returncode == 0, added.stderr
        assert cron.run(cron.installed_command()) == (0, "", "")  # sends: two events

        ran = cron.run(cron.installed_command("process_webhooks"))
        logged = cron.log.read_text()
        idle = cron.run(cron.installed_command("process_webhooks"))

    assert ran == (0, "", ""), ran[2]
    assert sorted(r.event["data"]["to"] for r in receiver.requests) == [
        "r0@example.com",
        "r1@example.com",
    ]
    assert "attempted 2, succeeded 2, failed 0" in logged
    assert idle == (0, "", "") and cron.log.read_text() == logged  # an idle minute: nothing


def test_the_installed_purge_line_runs_under_cron_says_nothing_and_keeps_queued_mail(
    cron: Cron, fault_sink: FaultSink
):
    cron.db.seed(port=fault_sink.port, messages=2)
    cron.write_env(
        MAILPASS_RETENTION_DAYS="1",
        MAILPASS_ATTACHMENT_DIR=str(cron.log.parent / "attachments"),  # not made yet
    )
    added = cron.add()
    assert added.returncode == 0, added.stderr

    ran = cron.run(cron.installed_command("purge_messages"))
    assert ran == (0, "", ""), ran[2]
    assert cron.db.statuses() == {"queued": 2}  # retention never takes unsent mail
    assert fault_sink.record.accepted() == {}


def test_a_run_that_cannot_reach_the_database_exits_non_zero_and_logs_why(
    cron: Cron, fault_sink: FaultSink
):
    cron.db.seed(port=fault_sink.port, messages=1)
    added = cron.add()
    assert added.returncode == 0, added.stderr
    command = cron.installed_command()
    cron.write_env(DATABASE_URL=f"postgres://mailpass@127.0.0.1:{free_port()}/mailpass")

    returncode, out, err = cron.run(command)

    assert returncode != 0
    assert out == ""
    assert "process_mail_queue --quiet failed: OperationalError" in err
    assert str(cron.log) in err
    logged = cron.log.read_text()
    assert re.search(
        r"^\S+ \S+ ERROR api\.cron: cron job .*process_mail_queue.* failed$", logged, re.M
    )
    assert "OperationalError" in logged
    assert fault_sink.record.accepted() == {}
    assert cron.db.statuses() == {"queued": 1}


def test_crontab_add_fails_loudly_when_the_crontab_program_is_missing(cron: Cron, tmp_path: Path):
    missing = tmp_path / "nowhere" / "crontab"

    added = cron.add(exported=True, CRONTAB_EXECUTABLE=str(missing))

    assert added.returncode != 0
    assert f"no crontab program at '{missing}'" in added.stderr
    assert our_lines() == []


@pytest.mark.parametrize(
    "case, expected",
    [
        ("unset", "MAILPASS_ENV_FILE is not set"),
        ("missing", "cannot read it (No such file or directory)"),
        ("a directory", "cannot read it (Is a directory)"),
        ("not KEY=value", "line 3: not a KEY=value line"),
        ("a quoted value", "the value of SECRET_KEY starts with a quote"),
        ("a % in its path", "the cron line would contain a % sign"),
    ],
)
def test_crontab_add_refuses_an_env_file_the_job_could_not_use(
    cron: Cron, tmp_path: Path, case: str, expected: str
):
    env_file: str | None = str(cron.env_file)
    if case == "unset":
        env_file = None
    elif case == "missing":
        env_file = str(tmp_path / "no-such.env")
    elif case == "a directory":
        env_file = str(tmp_path)
    elif case == "not KEY=value":
        cron.env_file.write_text("# MailPass\nSECRET_KEY=x\nexport DEBUG=0\n")
    elif case == "a quoted value":
        cron.env_file.write_text(f'SECRET_KEY="{cron.config["SECRET_KEY"]}"\n')
    elif case == "a % in its path":
        (tmp_path / "100%").mkdir()
        env_file = str(shutil.copy(cron.env_file, tmp_path / "100%" / "mailpass.env"))

    added = cron.add(exported=True, MAILPASS_ENV_FILE=env_file)

    assert added.returncode != 0
    assert expected in added.stderr
    assert cron.config["SECRET_KEY"] not in added.stderr + added.stdout
    assert our_lines() == []


@pytest.mark.parametrize("case", ["no SECRET_KEY in the file", "a database without tables"])
def test_crontab_add_refuses_a_line_that_would_die_under_cron(
    cron: Cron, tmp_path: Path, case: str
):
    # The shell that runs `crontab add` has the whole configuration; cron has only the file.
    exported = dict(cron.config)
    if case == "no SECRET_KEY in the file":
        del cron.config["SECRET_KEY"]
        expected = "SECRET_KEY is required when DEBUG is off"
    else:
        cron.config["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        expected = "the database lacks migrations"
    cron.write_env()

    added = cron.manage("crontab", "add", **exported)

    assert added.returncode != 0
    assert "the job would fail under cron" in added.stderr
    assert expected in added.stderr
    assert our_lines() == []


def test_a_run_that_starts_while_the_previous_one_drains_exits_at_once_and_sends_nothing(
    cron: Cron, fault_sink: FaultSink
):
    # One message a chunk over one connection: a run without the lock would claim some.
    cron.write_env(MAILPASS_QUEUE_BATCH_SIZE="1", MAILPASS_QUEUE_CONNECTIONS="1")
    cron.db.seed(port=fault_sink.port, messages=20)
    added = cron.add()
    assert added.returncode == 0, added.stderr
    command = cron.installed_command()
    fault_sink.set_faults(delay=0.5)  # a backlog of 10 s

    first = cron.start(command)
    try:
        wait_until(lambda: fault_sink.record.accepted(), timeout=60, what="the first run to send")
        second = cron.run(command, timeout=60)
        first_still_draining = first.poll() is None
        fault_sink.clear_faults()
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

    assert first_still_draining, "the second run did not start while the first one drained"
    assert second == (0, "", "")
    assert (first.returncode, out, err) == (0, "", "")
    assert cron.summaries() == [(20, 20)]  # one run sent everything, the other nothing
    assert sorted(fault_sink.record.accepted().values()) == [1] * 20


def test_add_replaces_its_older_lines_keeps_the_users_own_and_show_and_remove_work(cron: Cron):
    own = "0 4 * * * /bin/true # the user's own job\n"
    older = f"* * * * * /usr/bin/python3 /srv/old/manage.py crontab run {'0' * 32} {COMMENT}\n"
    crontab_set(own + older)

    for _ in range(2):  # a second add replaces the first one's line
        added = cron.add()
        assert added.returncode == 0, added.stderr
    # Every minute, every minute; daily at 03:17; hourly at minute 7.
    queue, webhooks, purge, domains = our_lines()
    assert queue.startswith("* * * * * ") and webhooks.startswith("* * * * * ")
    assert purge.startswith("17 3 * * * ") and domains.startswith("7 * * * * ")
    assert job_hash(cron_job("process_webhooks")) in webhooks
    assert job_hash(cron_job("check_domains")) in domains
    assert crontab_l() == own + "".join(line + "\n" for line in (queue, webhooks, purge, domains))
    queue_hash = queue.split("crontab run ")[1].split()[0]

    shown = cron.manage("crontab", "show")
    assert shown.returncode == 0, shown.stderr
    assert f"{queue_hash} -> ('* * * * *', 'django.core.management.call_command', " in (
        shown.stdout
    )

    removed = cron.manage("crontab", "remove")
    assert removed.returncode == 0, removed.stderr
    assert crontab_l() == own
