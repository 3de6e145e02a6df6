import logging
import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, connection

from api import webhook_sender

logger = logging.getLogger(__name__)
progress = logging.getLogger("mailpass.progress")

DATABASE_RETRY_SECONDS = (1, 2, 5, 10, 30)


class Command(BaseCommand):
    help = (
        "Post due webhook deliveries to customers' endpoints. Cron runs it every minute; "
        "--loop keeps it running."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="Claim at most N deliveries.")
        parser.add_argument(
            "--threads",
            type=int,
            default=webhook_sender.THREADS,
            help="POSTs under way at once (each waits on its endpoint, not on the CPU).",
        )
        parser.add_argument("--loop", action="store_true", help="Keep polling until SIGTERM.")
        parser.add_argument("--quiet", action="store_true", help="No line for an idle run.")

    def handle(
        self, *args: Any, limit: int | None, threads: int, loop: bool, quiet: bool, **options: Any
    ) -> None:
        self.stopping = False
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self._run(limit=limit, threads=threads, loop=loop, quiet=quiet)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self, *, limit: int | None, threads: int, loop: bool, quiet: bool) -> None:
        outage = 0
        while True:
            started = time.monotonic()
            try:
                stats = webhook_sender.process_due(
                    threads=threads, limit=limit, should_stop=lambda: self.stopping
                )
            except DatabaseError as err:
                if not loop:
                    raise
                pause = DATABASE_RETRY_SECONDS[min(outage, len(DATABASE_RETRY_SECONDS) - 1)]
                outage += 1
                logger.warning("database unavailable (%s); retrying in %ss", err, pause)
                connection.close()
                self._sleep(pause)
                continue
            outage = 0
            if stats.attempted or not quiet:
                elapsed = time.monotonic() - started
                line = (
                    f"attempted {stats.attempted}, succeeded {stats.succeeded}, "
                    f"failed {stats.failed} in {elapsed:.2f}s"
                )
                if loop:  # timestamped, and JSON when asked: the settings' progress logger
                    progress.info("%s", line)
                else:
                    self.stdout.write(line)
            if not loop or self.stopping:
                return
            if not stats.attempted:
                self._sleep(settings.MAILPASS_QUEUE_POLL_SECONDS)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        # Finish the POSTs under way and record them, then leave.
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, seconds))
