from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from api import retention


class Command(BaseCommand):
    help = (
        "Delete messages older than MAILPASS_RETENTION_DAYS that are no longer scheduled, "
        "queued or being sent (with their events and attachments), webhook events as old "
        "that nothing waits to post, the stored files no message carries, and the per-day "
        "counts older than MAILPASS_USAGE_RETENTION_DAYS. Cron runs it daily."
    )
    # Cron starts it: the system checks belong to deploy time.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Message retention in days for this run (default: MAILPASS_RETENTION_DAYS; "
            "0 keeps them).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=retention.BATCH_SIZE,
            help="Messages deleted per transaction.",
        )
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            help="Stop deleting messages after this long; the next run goes on.",
        )
        parser.add_argument("--quiet", action="store_true", help="Print nothing.")

    def handle(
        self,
        *args: Any,
        days: int | None,
        batch_size: int,
        max_seconds: float | None,
        quiet: bool,
        **options: Any,
    ) -> None:
        purged = retention.purge(
            retention_days=settings.MAILPASS_RETENTION_DAYS if days is None else max(days, 0),
            usage_days=settings.MAILPASS_USAGE_RETENTION_DAYS,
            batch_size=max(batch_size, 1),
            max_seconds=max_seconds,
        )
        if not quiet:
            rest = "" if purged.finished else " (stopped at --max-seconds: more to delete)"
            self.stdout.write(
                f"Deleted {purged.messages} message(s){rest}, {purged.webhook_events} webhook "
                f"event(s), {purged.files} stored file(s) and {purged.usage_rows} usage row(s)."
            )
