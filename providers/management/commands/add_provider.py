from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import account_for_user
from providers import kinds
from providers.models import Provider
from providers.services import provider_create

HELP = {
    "password": "smtp: password (stored encrypted).",
    "api_key": "sendgrid, mailgun, resend, brevo: API key (stored encrypted).",
    "server_token": "postmark: server token (stored encrypted).",
    "access_key_id": "amazon_ses: access key ID (stored encrypted).",
    "secret_access_key": "amazon_ses: secret access key (stored encrypted).",
    "region": "amazon_ses: AWS region (eu-west-1); mailgun: us (default) or eu.",
    "configuration_set": "amazon_ses: configuration set name (optional).",
    "domain": "mailgun: sending domain.",
    "webhook_secret": "ESPs: user:password the ESP sends to the provider's webhook URL.",
    "webhook_signing_key": "mailgun: webhook signing key, checks each event's signature.",
    "webhook_signing_secret": "resend: webhook signing secret (whsec_...).",
    "webhook_verification_key": "sendgrid: signed event webhook verification key.",
}


class Command(BaseCommand):
    help = (
        "Add a sending provider to USERNAME's account. Each kind takes its own flags: "
        "smtp --host --port [--username --password], mailpass none (the instance relay), "
        "amazon_ses --access-key-id --secret-access-key --region [--configuration-set], "
        "sendgrid/resend/brevo --api-key, mailgun --api-key --domain [--region], "
        "postmark --server-token. ESP kinds also take --webhook-secret (and "
        "--webhook-signing-key, --webhook-signing-secret or --webhook-verification-key) "
        "for their events webhook."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--kind", choices=Provider.Kind.values, default=Provider.Kind.SMTP)
        parser.add_argument("--name", required=True)
        parser.add_argument("--host", default="", help="smtp: server host name (required).")
        parser.add_argument("--port", type=int, default=None, help="smtp: port (required).")
        parser.add_argument("--username", dest="login", default="", help="smtp: login.")
        for field in kinds.ALL_FIELDS:
            parser.add_argument(
                "--" + field.name.replace("_", "-"), default="", help=HELP[field.name]
            )
        parser.add_argument(
            "--security", choices=Provider.Security.values, default=Provider.Security.STARTTLS
        )
        parser.add_argument("--timeout", type=int, default=10, help="Seconds.")
        parser.add_argument("--from-email", default="")
        parser.add_argument("--from-name", default="")
        parser.add_argument("--hourly-limit", type=int, default=None)
        parser.add_argument("--daily-limit", type=int, default=None)
        parser.add_argument("--default", action="store_true", help="Make it the account's default.")
        parser.add_argument(
            "--fallback",
            type=int,
            action="append",
            default=[],
            metavar="PROVIDER_ID",
            help="A provider of the same account to try when this one certainly did not take "
            "a message; repeat for more, in order.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        kind = options["kind"]
        self._check_flags(kind, options)
        credentials, kind_options = kinds.split_values(kind, options)
        columns: dict[str, Any] = {}
        if kind == Provider.Kind.SMTP:
            columns = {
                "host": options["host"],
                "port": options["port"],
                "username": options["login"],
                "security": options["security"],
            }
        try:
            provider = provider_create(
                account=account_for_user(user=user),
                name=options["name"],
                kind=kind,
                timeout=options["timeout"],
                from_email=options["from_email"],
                from_name=options["from_name"],
                hourly_limit=options["hourly_limit"],
                daily_limit=options["daily_limit"],
                options=kind_options,
                credentials=credentials,
                is_default=options["default"],
                fallbacks=options["fallback"],
                **columns,
            )
        except ValidationError as err:
            problems = "; ".join(
                f"{field}: {' '.join(msgs)}" for field, msgs in err.message_dict.items()
            )
            raise CommandError(f"Provider not saved. {problems}") from err
        default = " (default)" if provider.is_default else ""
        self.stdout.write(f"Added provider #{provider.pk} {provider}{default}.")

    def _check_flags(self, kind: str, options: dict[str, Any]) -> None:
        # Flags of another kind would be silently dropped; say so instead.
        own = {field.name for field in kinds.fields_for(kind)}
        if kind == Provider.Kind.SMTP:
            missing = [f"--{name}" for name in ("host", "port") if not options[name]]
            if missing:
                raise CommandError(f"Kind smtp needs {' and '.join(missing)}.")
            own |= {"host", "port", "login"}
        flags = {"host": "--host", "port": "--port", "login": "--username"}
        flags |= {f.name: "--" + f.name.replace("_", "-") for f in kinds.ALL_FIELDS}
        foreign = [flag for name, flag in flags.items() if options[name] and name not in own]
        if foreign:
            raise CommandError(f"Kind {kind} does not take {', '.join(foreign)}.")
