from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import account_for_user
from providers.models import Provider
from providers.services import provider_create


class Command(BaseCommand):
    help = "Add a sending provider to USERNAME's account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--kind", choices=Provider.Kind.values, default=Provider.Kind.SMTP)
        parser.add_argument("--name", required=True)
        parser.add_argument("--host", required=True)
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--username", dest="login", default="", help="SMTP login.")
        parser.add_argument("--password", default="", help="SMTP password (stored encrypted).")
        parser.add_argument(
            "--security", choices=Provider.Security.values, default=Provider.Security.STARTTLS
        )
        parser.add_argument("--timeout", type=int, default=10, help="Seconds.")
        parser.add_argument("--from-email", default="")
        parser.add_argument("--from-name", default="")
        parser.add_argument("--hourly-limit", type=int, default=None)
        parser.add_argument("--daily-limit", type=int, default=None)
        parser.add_argument("--default", action="store_true", help="Make it the account's default.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        try:
            provider = provider_create(
                account=account_for_user(user=user),
                name=options["name"],
                kind=options["kind"],
                host=options["host"],
                port=options["port"],
                username=options["login"],
                security=options["security"],
                timeout=options["timeout"],
                from_email=options["from_email"],
                from_name=options["from_name"],
                hourly_limit=options["hourly_limit"],
                daily_limit=options["daily_limit"],
                credentials={"password": options["password"]},
                is_default=options["default"],
            )
        except ValidationError as err:
            problems = "; ".join(
                f"{field}: {' '.join(msgs)}" for field, msgs in err.message_dict.items()
            )
            raise CommandError(f"Provider not saved. {problems}") from err
        default = " (default)" if provider.is_default else ""
        self.stdout.write(f"Added provider #{provider.pk} {provider}{default}.")
