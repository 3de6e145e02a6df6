import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from accounts.services import (
    account_for_user,
    account_set_access,
    account_set_verified_domains_only,
)
from api.selectors import api_key_get_active
from api.services import api_key_create
from providers.models import Provider
from providers.services import provider_create, provider_set_default

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = (
        "Make sure a demo account with an API key and a default provider (the local SMTP "
        "sink) exists, and print how to use it. For `make run` only, never production."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--smtp-port", type=int, default=2525)
        parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", "mailpass-demo"))
        parser.add_argument(
            "--key-file",
            default=str(settings.VAR_DIR / "demo_api_key"),
            help="Where the demo key is kept between runs (git-ignored).",
        )

    def handle(
        self, *args: Any, smtp_port: int, password: str, key_file: str, **options: Any
    ) -> None:
        user, created = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        if created:
            user.set_password(password)
            user.save()
        account = account_for_user(user=user)
        # The operator's permissions, for the demo: the instance relay (the sink) and
        # tracking, so every part of the tour works.
        account_set_access(
            account=account,
            relay_enabled=True,
            tracking_enabled=True,
            daily_recipient_limit=account.daily_recipient_limit,
            daily_byte_limit=account.daily_byte_limit,
        )
        # Its mail goes to the local sink only, from demo@mailpass.localhost, whose DNS
        # nobody can publish: the demo may send from any domain.
        account_set_verified_domains_only(account=account, on=False)

        provider = Provider.objects.filter(account=account, name="Local SMTP sink").first()
        if provider is None:
            provider = provider_create(
                account=account,
                name="Local SMTP sink",
                host="127.0.0.1",
                port=smtp_port,
                security=Provider.Security.NONE,
                from_email="demo@mailpass.localhost",
                from_name="MailPass Demo",
                is_default=True,
            )
        elif provider.port != smtp_port:
            Provider.objects.filter(pk=provider.pk).update(port=smtp_port)
        if not Provider.objects.filter(account=account, is_default=True).exists():
            provider_set_default(provider=provider)

        # Only a digest is stored, so the demo key itself is kept in a git-ignored file.
        path = Path(key_file)
        secret = path.read_text().strip() if path.exists() else ""
        if not secret or api_key_get_active(key=secret) is None:
            _, secret = api_key_create(account=account, name="Demo key", created_by=user)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secret + "\n")
            path.chmod(0o600)

        base = settings.MAILPASS_PUBLIC_URL
        login = f"{DEMO_USERNAME} / {password}" + ("" if created else ", unless you changed it")
        send_example = (
            '{"to": "user@example.com", "subject": "Hello", "html": "<p>Hello World</p>"}'
        )
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "MailPass demo is ready.",
                    f"  Dashboard:  {base}/   (log in as {login})",
                    f"  API docs:   {base}/api/docs/",
                    f"  SMTP sink:  127.0.0.1:{smtp_port} -> var/mail/new/",
                    f"  API key:    {secret}",
                    "",
                    "Try it:",
                    f"  curl -X POST {base}/api/v1/mail/send \\",
                    f'    -H "Authorization: Bearer {secret}" \\',
                    '    -H "Content-Type: application/json" \\',
                    f"    -d '{send_example}'",
                    "",
                ]
            )
        )
