from typing import Any

from django.core.management.base import BaseCommand, CommandError

from api.models import WebhookEndpoint
from providers import crypto


class Command(BaseCommand):
    help = (
        "Encrypt every webhook endpoint's signing secrets again with the newest key of "
        "MAILPASS_ENCRYPTION_KEYS; run it with rotate_provider_secrets when rotating that key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = crypto.reencrypt_rows(WebhookEndpoint.objects.all(), "secrets")
        self.stdout.write(
            f"Re-encrypted the secrets of {rotated} webhook endpoint(s) with the newest key."
        )
        if unreadable:
            ids = ", ".join(f"#{pk}" for pk in unreadable)
            raise CommandError(
                f"No configured key reads the secrets of webhook endpoint(s) {ids}: keep the "
                "old keys, or rotate these endpoints' secrets, before dropping any key."
            )
