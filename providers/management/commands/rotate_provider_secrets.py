from typing import Any

from django.core.management.base import BaseCommand, CommandError

from providers import crypto
from providers.models import DkimKey, Provider


class Command(BaseCommand):
    help = (
        "Encrypt every provider's credentials and every sender domain's DKIM private keys "
        "again with the newest key of MAILPASS_ENCRYPTION_KEYS. Put the new key first and "
        "keep the old ones after it, run this, and drop the old keys once it reports nothing "
        "unreadable."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = crypto.reencrypt_rows(Provider.objects.all(), "credentials_encrypted")
        keys, unreadable_keys = crypto.reencrypt_rows(
            DkimKey.objects.all(), "private_key_encrypted"
        )
        self.stdout.write(
            f"Re-encrypted the credentials of {rotated} provider(s) and {keys} DKIM private "
            "key(s) with the newest key."
        )
        problems = []
        if unreadable:
            ids = ", ".join(f"#{pk}" for pk in unreadable)
            problems.append(
                f"the credentials of provider(s) {ids} (enter these providers' secrets again)"
            )
        if unreadable_keys:
            ids = ", ".join(f"#{pk}" for pk in unreadable_keys)
            problems.append(f"DKIM key(s) {ids} (rotate their domains' keys)")
        if problems:
            raise CommandError(
                f"No configured key reads {'; '.join(problems)}: keep the old keys until "
                "then, before dropping any key."
            )
