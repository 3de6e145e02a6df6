from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from providers.domains import check_due_domains


class Command(BaseCommand):
    help = (
        "Check the DNS records of the sender domains whose next check is due: every hour "
        "for verified ones, spaced out up to a day for those that keep failing (cron runs "
        "it hourly)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="Print nothing.")

    def handle(self, *args: Any, quiet: bool, **options: Any) -> None:
        checked, unavailable = check_due_domains()
        if not quiet:
            self.stdout.write(
                f"Checked {checked} sender domain(s); the DNS did not answer for {unavailable}."
            )
