"""`manage.py crontab add|show|remove|run`: django-crontab's command, failing loudly.

It shadows django-crontab's own (INSTALLED_APPS lists api first, and the first app with a
command name wins); the arguments are the same. The work is in api/cron.py.
"""

import os
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django_crontab.management.commands.crontab import Command as DjangoCrontabCommand

from api import cron


class Command(DjangoCrontabCommand):
    help = (
        "Put the CRONJOBS lines into this user's crontab (add; MAILPASS_ENV_FILE names the "
        "env file each run loads), list them (show), take them out (remove), or run one job "
        "(run HASH: what the line does; output and errors go to MAILPASS_CRON_LOG, a run "
        "that fails exits 1, one that finds the previous run still going exits 0 at once)."
    )
    # `run` starts every minute: the system checks belong to deploy time, and `add` runs
    # them anyway (migrate --check, as cron would run it).
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, subcommand: str, jobhash: str | None, **options: Any) -> None:
        executable = settings.CRONTAB_EXECUTABLE
        try:
            if subcommand == "add":
                lines = cron.crontab_install(
                    env_file=os.environ.get("MAILPASS_ENV_FILE"),
                    log_path=settings.MAILPASS_CRON_LOG,
                    executable=executable,
                )
                for line in lines:
                    self.stdout.write(f"installed: {line.rstrip()}")
                self.stdout.write(f"log: {settings.MAILPASS_CRON_LOG}")
            elif subcommand == "show":
                self.stdout.write("Currently active jobs in crontab:")
                for installed in cron.crontab_show(executable=executable):
                    self.stdout.write(f"{installed.job_hash} -> {_describe(installed)}")
            elif subcommand == "remove":
                for installed in cron.crontab_uninstall(executable=executable):
                    self.stdout.write(f"removed: {installed.line}")
            elif subcommand == "run":
                if not jobhash:
                    raise CommandError("run needs the job's hash, as the crontab line has it")
                cron.job_run(jobhash, log_path=settings.MAILPASS_CRON_LOG)
        except (cron.CronError, cron.CronJobFailed) as err:
            raise CommandError(str(err)) from err


def _describe(installed: cron.InstalledJob) -> str:
    if installed.job is None:
        return "(no such job in CRONJOBS any more: run `crontab add` again)"
    return str(installed.job)
