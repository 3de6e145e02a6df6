import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection

from api import drain, metrics, queue

logger = logging.getLogger(__name__)
# --loop's line per chunk: timestamped, and JSON with MAILPASS_LOG_FORMAT=json (settings).
progress = logging.getLogger("mailpass.progress")

# Which of --workers N a child is (1…N): its metrics port is the configured one plus this.
WORKER_NUMBER = "MAILPASS_WORKER_NUMBER"
# How long --loop waits before trying again while the database is unreachable.
DATABASE_RETRY_SECONDS = (1, 2, 5, 10, 30)


class Command(BaseCommand):
    help = "Deliver due queued messages. Cron runs it every minute; --loop keeps it running."
    # Cron starts it every minute: the system checks (which import every view) belong to
    # deploy time (`manage.py check`, migrate, runserver), not to each start of a worker.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="Claim at most N messages.")
        parser.add_argument("--batch-size", type=int, default=settings.MAILPASS_QUEUE_BATCH_SIZE)
        parser.add_argument("--loop", action="store_true", help="Keep polling until SIGTERM.")
        parser.add_argument(
            "--quiet",
            action="store_true",
            help="Print no summary line when nothing was claimed (the cron job: an idle "
            "minute prints nothing). --loop prints a line only for chunks anyway.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Run N worker processes side by side (they share the queue like workers on "
            "separate machines do).",
        )

    def handle(
        self,
        *args: Any,
        limit: int | None,
        batch_size: int,
        loop: bool,
        workers: int,
        quiet: bool,
        **options: Any,
    ) -> None:
        self.stopping = False
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        if loop and workers == 1:
            metrics.serve_worker_metrics(int(os.environ.get(WORKER_NUMBER, "0")))
        try:
            if workers > 1:
                self._supervise(workers, limit=limit, batch_size=batch_size, loop=loop, quiet=quiet)
            else:
                self._run(limit=limit, batch_size=batch_size, loop=loop, quiet=quiet)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _supervise(
        self, workers: int, *, limit: int | None, batch_size: int, loop: bool, quiet: bool
    ) -> None:
        """Start `workers` copies of this command and wait for them; pass SIGTERM on."""
        manage_py = str(settings.BASE_DIR / "manage.py")
        argv = [sys.executable, manage_py, "process_mail_queue", "--batch-size", str(batch_size)]
        argv += ["--loop"] if loop else []
        argv += ["--limit", str(limit)] if limit is not None else []
        argv += ["--quiet"] if quiet else []
        children = [
            subprocess.Popen(argv, env={**os.environ, WORKER_NUMBER: str(number)})
            for number in range(1, workers + 1)
        ]
        while any(child.poll() is None for child in children):
            if self.stopping:
                for child in children:
                    if child.poll() is None:
                        child.send_signal(signal.SIGTERM)
                self.stopping = False  # signalled once; now just wait for them
            time.sleep(0.1)
        failed = [child.returncode for child in children if child.returncode != 0]
        if failed:
            raise CommandError(f"{len(failed)} of {workers} workers failed: {failed}")

    def _run(self, *, limit: int | None, batch_size: int, loop: bool, quiet: bool) -> None:
        if not loop:
            started = time.monotonic()
            stats = drain.process_due(
                batch_size=batch_size, limit=limit, should_stop=self._should_stop
            )
            if stats.claimed or not quiet:
                self.stdout.write(self._summary(stats, time.monotonic() - started))
            return
        outage = 0
        while not self.stopping:
            try:
                # Drains until nothing is due; connections stay open while there is work.
                stats = drain.process_due(
                    batch_size=batch_size, should_stop=self._should_stop, on_chunk=self._progress
                )
            except DatabaseError as err:
                # The database went away (restart, failover). Whatever this worker had
                # claimed comes back after its lease; keep trying until it is back.
                pause = DATABASE_RETRY_SECONDS[min(outage, len(DATABASE_RETRY_SECONDS) - 1)]
                outage += 1
                logger.warning("database unavailable (%s); retrying in %ss", err, pause)
                connection.close()
                self._sleep(pause)
                continue
            outage = 0
            if not stats.claimed:
                self._sleep(settings.MAILPASS_QUEUE_POLL_SECONDS)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        # Finish the message in flight, put the rest of the chunk back, then leave.
        self.stopping = True

    def _should_stop(self) -> bool:
        return self.stopping

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, seconds))

    def _progress(self, stats: queue.QueueStats, elapsed: float) -> None:
        progress.info("%s", self._summary(stats, elapsed))

    @staticmethod
    def _summary(stats: queue.QueueStats, elapsed: float) -> str:
        """The health line: one per chunk with --loop, else one for the whole run."""
        rate = stats.sent / elapsed if elapsed > 0 else 0.0
        return (
            f"claimed {stats.claimed}, sent {stats.sent}, retried {stats.retried}, "
            f"failed {stats.failed}, deferred {stats.deferred} in {elapsed:.2f}s "
            f"({rate:.1f} msg/s)"
        )
