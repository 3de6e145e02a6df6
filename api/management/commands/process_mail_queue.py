import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from api import queue


class Command(BaseCommand):
    help = "Deliver due queued messages. Cron runs it every minute; --loop keeps it running."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="Claim at most N messages.")
        parser.add_argument("--batch-size", type=int, default=settings.MAILPASS_QUEUE_BATCH_SIZE)
        parser.add_argument("--loop", action="store_true", help="Keep polling until SIGTERM.")

    def handle(
        self, *args: Any, limit: int | None, batch_size: int, loop: bool, **options: Any
    ) -> None:
        if not loop:
            started = time.monotonic()
            self._report(queue.process_due(batch_size=batch_size, limit=limit), started)
            return
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self.stopping:
            started = time.monotonic()
            stats = queue.process_due(batch_size=batch_size, limit=batch_size)
            if stats.claimed:
                self._report(stats, started)
            else:
                time.sleep(settings.MAILPASS_QUEUE_POLL_SECONDS)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        # Finish the chunk in hand, then leave: its outcomes are committed one by one.
        self.stopping = True

    def _report(self, stats: queue.QueueStats, started: float) -> None:
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"claimed {stats.claimed}, sent {stats.sent}, retried {stats.retried}, "
            f"failed {stats.failed}, deferred {stats.deferred} in {elapsed:.2f}s"
        )
