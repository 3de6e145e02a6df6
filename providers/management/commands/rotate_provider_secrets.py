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
        rotated, unreadable = 0, []
        # Read first, then write: SQLite gives no isolation between a cursor still being
        # read and updates of the same table on the same connection.
        stored = list(
            Provider.objects.exclude(credentials_encrypted="").values_list(
                "pk", "credentials_encrypted"
            )
        )
        for pk, token in stored:
            try:
                new_token = crypto.reencrypt(token)
            except crypto.CredentialsUnreadableError:
                unreadable.append(pk)
                continue
            # Guarded: a provider edited since it was read was saved with the newest key
            # already, and its new secrets must not be overwritten with the old ones.
            rotated += Provider.objects.filter(pk=pk, credentials_encrypted=token).update(
                credentials_encrypted=new_token
            )
        self.stdout.write(
            f"Re-encrypted the credentials of {rotated} provider(s) with the newest key."
        )
        if unreadable:
            ids = ", ".join(f"#{pk}" for pk in unreadable)
            raise CommandError(
                f"No configured key reads the credentials of provider(s) {ids}: keep the old "
                "keys, or enter these providers' secrets again, before dropping any key."
            )
