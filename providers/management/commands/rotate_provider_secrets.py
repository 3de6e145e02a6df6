from typing import Any

from django.core.management.base import BaseCommand, CommandError

from providers import crypto
from providers.models import Provider


class Command(BaseCommand):
    help = (
        "Encrypt every provider's credentials again with the newest key of "
        "MAILPASS_ENCRYPTION_KEYS. Put the new key first and keep the old ones after it, run "
        "this, and drop the old keys once it reports no unreadable provider."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = crypto.reencrypt_rows(Provider.objects.all(), "credentials_encrypted")
        self.stdout.write(
            f"Re-encrypted the credentials of {rotated} provider(s) with the newest key."
        )
        if unreadable:
            ids = ", ".join(f"#{pk}" for pk in unreadable)
            raise CommandError(
                f"No configured key reads the credentials of provider(s) {ids}: keep the old "
                "keys, or enter these providers' secrets again, before dropping any key."
            )
