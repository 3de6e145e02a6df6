from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from api.attachments import purge


class Command(BaseCommand):
    help = (
        "Delete messages older than MAILPASS_MESSAGE_RETENTION_DAYS (0: none) that are no "
        "longer queued or being sent, webhook events as old that nothing waits to post, and "
        "the stored attachments no message carries any more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Retention in days for this run (default: MAILPASS_MESSAGE_RETENTION_DAYS).",
        )
        parser.add_argument("--quiet", action="store_true", help="Print nothing.")

    def handle(self, *args: Any, days: int | None, quiet: bool, **options: Any) -> None:
        retention = settings.MAILPASS_MESSAGE_RETENTION_DAYS if days is None else max(days, 0)
        purged = purge(retention_days=retention)
        if not quiet:
            self.stdout.write(
                f"Deleted {purged.messages} message(s), {purged.webhook_events} webhook "
                f"event(s) and {purged.files} stored file(s)."
            )
