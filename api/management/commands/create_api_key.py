from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import account_for_user
from api.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key for USERNAME's account. The key is printed once, alone on the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Default key", help="A label for the key.")

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        account = account_for_user(user=user)
        api_key, secret = api_key_create(account=account, name=name, created_by=user)
        self.stderr.write(
            f"Created API key {api_key.prefix}… ({name}) for account {account.name!r}. "
            "Store it now: it cannot be shown again."
        )
        self.stdout.write(secret)
