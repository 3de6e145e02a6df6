"""The cron job: its line in the user's crontab, and one run of it.

django-crontab 0.7.1 writes a line that inherits no configuration, ignores a crontab
program that is missing or fails (os.popen/os.system), runs the job under a bare except
(so `crontab run` exits 0 whatever happened) and lets runs overlap. These functions keep
its line format, so a line it wrote is replaced by ours and its code reads ours, and do the
rest loudly. api/management/commands/crontab.py, which shadows its command, calls them.

    * * * * * MAILPASS_ENV_FILE=/etc/mailpass.env /srv/mailpass/.venv/bin/python \
        /srv/mailpass/manage.py crontab run <job hash> # django-cronjobs for mailpass

(one line in the crontab). manage.py loads the env file before the settings.
"""

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import pwd
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django_crontab.app_settings import Settings as CrontabSettings

from mailpass.envfile import read_env_file

logger = logging.getLogger(__name__)

# crontab(5): cron runs a job with /bin/sh in the owner's HOME and passes nothing on but
# HOME, LOGNAME, SHELL and this PATH.
CRON_PATH = "/usr/bin:/bin"
# Cron cuts a command at "%" (the rest becomes its stdin), and django-crontab's line pattern
# ends the command at "#".
_UNSAFE_IN_LINE = {"%": "a % sign", "#": "a # sign", "\n": "a line break"}
_JOB_HASH = re.compile(r"[0-9a-f]{32}")
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class CronError(Exception):
    """The crontab cannot be read or written, or the line would not work; nothing changed."""


class CronJobFailed(Exception):
    """A run of a cron job failed; the failure is in the cron log."""


@dataclass(frozen=True)
class InstalledJob:
    """A line of ours in the crontab, and the CRONJOBS entry it runs (None: not any more)."""

    line: str
    job_hash: str
    job: tuple | None


def job_hash(job: Sequence) -> str:
    """The id of a CRONJOBS entry that its line carries: django-crontab's own (md5 of the
    entry as sorted JSON), so each side reads the other's lines."""
    encoded = json.dumps(job, sort_keys=True).encode()
    return hashlib.md5(encoded, usedforsecurity=False).hexdigest()


def crontab_install(*, env_file: str | None, log_path: Path, executable: str) -> list[str]:
    """Put one line per CRONJOBS entry into this user's crontab, in place of every line an
    earlier install wrote (whatever CRONJOBS was then); the user's other lines stay.

    Each line sets MAILPASS_ENV_FILE (`env_file`, made absolute) and runs `manage.py crontab
    run <hash>` with this interpreter. Before writing, the line's command runs once as cron
    would run it, with `migrate --check` in place of `crontab run`: the configuration must
    load from the file alone and the database must answer with every migration applied.
    Returns the lines installed. Raises CronError, having written nothing, when env_file is
    unset, unreadable or malformed, `log_path` cannot be written, the line would contain
    % or #, the crontab program (`executable`) is missing or fails, or the check fails.
    """
    if not env_file:
        raise CronError(
            "MAILPASS_ENV_FILE is not set. Cron starts the job with an empty environment: "
            "put the configuration in a file (KEY=value lines) and run "
            "MAILPASS_ENV_FILE=/path/to/that/file python manage.py crontab add"
        )
    env_path = os.path.abspath(env_file)
    try:
        read_env_file(env_path)
    except ImproperlyConfigured as err:
        raise CronError(f"MAILPASS_ENV_FILE: {err}") from err
    program = _crontab_program(executable)
    crontab_settings = CrontabSettings(settings)
    command = shlex.join([crontab_settings.PYTHON_EXECUTABLE, crontab_settings.DJANGO_MANAGE_PATH])
    command = f"MAILPASS_ENV_FILE={shlex.quote(env_path)} {command}"
    for char, name in _UNSAFE_IN_LINE.items():
        if char in command:
            raise CronError(
                f"the cron line would contain {name}, which cron or django-crontab take as "
                f"the end of the command: {command}. Move the env file or the checkout."
            )
    _check_log_writable(log_path)
    _check_in_cron_environment(command)
    lines = [
        crontab_settings.CRONTAB_LINE_PATTERN
        % {
            "time": job[0],
            "command": f"{command} crontab run {job_hash(job)}",
            "comment": crontab_settings.CRONTAB_COMMENT,
        }
        for job in crontab_settings.CRONJOBS
    ]
    others = [line for line in crontab_read(program) if _job_of(line, crontab_settings) is None]
    crontab_write(program, others + lines)
    return lines


def crontab_uninstall(*, executable: str) -> list[InstalledJob]:
    """Remove every line of ours from this user's crontab and return them; the user's
    other lines stay. Raises CronError when the crontab program is missing or fails."""
    program = _crontab_program(executable)
    lines = crontab_read(program)
    ours = crontab_jobs(lines)
    if ours:
        crontab_settings = CrontabSettings(settings)
        crontab_write(program, [line for line in lines if _job_of(line, crontab_settings) is None])
    return ours


def crontab_show(*, executable: str) -> list[InstalledJob]:
    """The lines of ours in this user's crontab. Raises CronError as crontab_uninstall."""
    return crontab_jobs(crontab_read(_crontab_program(executable)))


def crontab_jobs(lines: list[str]) -> list[InstalledJob]:
    """Which of these crontab lines are ours (django-crontab's comment for this project)."""
    crontab_settings = CrontabSettings(settings)
    jobs_by_hash = {job_hash(job): tuple(job) for job in crontab_settings.CRONJOBS}
    found = []
    for line in lines:
        hashed = _job_of(line, crontab_settings)
        if hashed is not None:
            found.append(InstalledJob(line.rstrip("\n"), hashed, jobs_by_hash.get(hashed)))
    return found


def crontab_read(program: list[str]) -> list[str]:
    """This user's crontab, one string a line; [] when the user has none.
    Raises CronError when the program fails otherwise."""
    proc = _crontab(program, "-l")
    if proc.returncode == 0:
        return proc.stdout.splitlines(keepends=True)
    if "no crontab for" in proc.stderr:
        return []
    raise CronError(f"{shlex.join(program)} -l exited {proc.returncode}: {proc.stderr.strip()}")


def crontab_write(program: list[str], lines: list[str]) -> None:
    """Replace this user's crontab with `lines`. Raises CronError when the program refuses."""
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    proc = _crontab(program, "-", stdin=text)
    if proc.returncode != 0:
        raise CronError(f"{shlex.join(program)} - exited {proc.returncode}: {proc.stderr.strip()}")


def job_run(hash_: str, *, log_path: Path) -> bool:
    """Run the CRONJOBS entry with this hash once, unless its previous run still goes on.

    While another run of it holds its lock (a file beside the log), returns False at once,
    having done and written nothing: that run drains whatever is due until the queue is
    empty, and waiting would stack up one process a minute behind a long backlog.
    Otherwise runs the job, with what it prints and logs appended to `log_path` (created,
    and its directory, if missing) instead of stdout/stderr, and returns True. Raises
    CronJobFailed, chained, once the failure is in the log: when the job raised, or no entry
    has this hash (a crontab older than CRONJOBS), or when the log cannot be written.
    """
    if not _JOB_HASH.fullmatch(hash_):
        raise CronJobFailed(f"not a cron job hash: {hash_!r}")
    lock_path = Path(f"{log_path}.{hash_[:12]}.lock")
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        lock = lock_path.open("a")
    except OSError as err:
        raise CronJobFailed(f"cannot write next to the cron log {log_path}: {err}") from err
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        with _logging_to(log_path):
            _run_logged(hash_, log_path)
    return True


def _run_logged(hash_: str, log_path: Path) -> None:
    jobs = {job_hash(job): job for job in settings.CRONJOBS}
    if hash_ not in jobs:
        logger.error("no cron job has the hash %s: run `manage.py crontab add` again", hash_)
        raise CronJobFailed(
            f"no cron job has the hash {hash_}: the crontab is older than CRONJOBS; "
            "run `manage.py crontab add` again"
        )
    job = jobs[hash_]
    args = list(job[2]) if len(job) > 2 else []
    kwargs: dict[str, Any] = dict(job[3]) if len(job) > 3 else {}
    name = " ".join([job[1], *map(str, args)])
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            module_path, function_name = job[1].rsplit(".", 1)
            getattr(import_module(module_path), function_name)(*args, **kwargs)
    except Exception as err:
        _log_lines(output)
        logger.exception("cron job %s failed", name)
        raise CronJobFailed(
            f"cron job {name} failed: {type(err).__name__}: {err} (traceback in {log_path})"
        ) from err
    _log_lines(output)


def _log_lines(output: io.StringIO) -> None:
    for line in output.getvalue().splitlines():
        if line.strip():
            logger.info("%s", line)


@contextlib.contextmanager
def _logging_to(log_path: Path) -> Iterator[None]:
    """Send every log record to `log_path` alone for the duration: what reaches stderr,
    cron mails, so only the failure itself goes there (as a CommandError)."""
    try:
        handler = logging.FileHandler(log_path, encoding="utf-8")
    except OSError as err:
        raise CronJobFailed(f"cannot write the cron log {log_path}: {err}") from err
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    root = logging.getLogger()
    replaced = list(root.handlers)
    for each in replaced:
        root.removeHandler(each)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        for each in replaced:
            root.addHandler(each)


def _job_of(line: str, crontab_settings: CrontabSettings) -> str | None:
    """The job hash of a crontab line of ours ("" if it has none), None for other lines."""
    match = crontab_settings.CRONTAB_LINE_REGEXP.match(line)
    if not match or match.group(5) != crontab_settings.CRONTAB_COMMENT:
        return None
    hashed = re.search(r"\bcrontab run ([0-9a-f]+)", match.group(3))
    return hashed.group(1) if hashed else ""


def _crontab_program(executable: str) -> list[str]:
    program = shlex.split(executable)
    if not program or shutil.which(program[0]) is None:
        raise CronError(
            f"no crontab program at {executable!r} (CRONTAB_EXECUTABLE): install cron "
            "(Debian: apt-get install cron) or set CRONTAB_EXECUTABLE to its path"
        )
    return program


def _crontab(
    program: list[str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [*program, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CronError(f"{shlex.join(program)} {' '.join(args)} did not run: {err}") from err


def _check_log_writable(log_path: Path) -> None:
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8"):
            pass
    except OSError as err:
        raise CronError(f"cannot write the cron log {log_path} (MAILPASS_CRON_LOG): {err}") from err


def _check_in_cron_environment(command: str) -> None:
    """Run `command` (the line's, up to `crontab run`) with `migrate --check` the way cron
    runs a job. Raises CronError with the last line of its error when it fails."""
    try:
        user = pwd.getpwuid(os.getuid())
    except KeyError as err:
        raise CronError(f"uid {os.getuid()} has no passwd entry: cron cannot run its jobs") from err
    env = {"HOME": user.pw_dir, "LOGNAME": user.pw_name, "SHELL": "/bin/sh", "PATH": CRON_PATH}
    # The job runs no system checks either; without them, what stderr holds is the error.
    check = f"{command} migrate --check --skip-checks --verbosity 0"
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", check],
            env=env,
            cwd=user.pw_dir if os.path.isdir(user.pw_dir) else "/",
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CronError(f"the job's command could not be tried as cron runs it: {err}") from err
    if proc.returncode != 0:
        errors = proc.stderr.strip().splitlines()
        reason = errors[-1] if errors else "the database lacks migrations: run migrate"
        raise CronError(
            "the job would fail under cron: run as cron runs it (/bin/sh, only HOME, LOGNAME, "
            f"SHELL and PATH={CRON_PATH}), `{check}` exited {proc.returncode}: {reason}"
        )
