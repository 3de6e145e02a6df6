from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import account_for_user
from providers import kinds
from providers.models import Provider
from providers.services import provider_create


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _kind_flags(kind: str) -> str:
    """`kind` and the flags it takes ([optional] ones in brackets)."""
    flags = ["--host", "--port", "[--username]"] if kind == Provider.Kind.SMTP else []
    for field in kinds.fields_for(kind):
        flags.append(_flag(field.name) if field.required else f"[{_flag(field.name)}]")
    return f"{kind} {' '.join(flags) or '(no flags)'}"


def _flag_help(name: str) -> str:
    """What the flag `name` is to each kind that takes it, from the kinds' rows."""
    described: dict[str, list[str]] = {}  # the field's words → the kinds with that field
    for kind in kinds.kinds_with_field(name):
        [field] = [f for f in kinds.fields_for(kind) if f.name == name]
        words = f"{field.label}. {field.help}" if field.help else f"{field.label}."
        described.setdefault(words, []).append(kind)
    return " ".join(f"{', '.join(kinds_)}: {words}" for words, kinds_ in described.items())


def _in_flight_defaults() -> str:
    """Each kind's default --max-in-flight, from the kinds' rows: "50 for smtp, mailpass; …"."""
    kinds_by_cap: dict[int, list[str]] = {}
    for kind, spec in kinds.KINDS.items():
        kinds_by_cap.setdefault(spec.in_flight, []).append(kind)
    return "; ".join(f"{cap} for {', '.join(names)}" for cap, names in kinds_by_cap.items())


class Command(BaseCommand):
    help = (
        "Add a sending provider to USERNAME's account. Each kind takes its own flags: "
        + ", ".join(_kind_flags(kind) for kind in kinds.KINDS)
        + "."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--kind", choices=Provider.Kind.values, default=Provider.Kind.SMTP)
        parser.add_argument("--name", required=True)
        parser.add_argument("--host", default="", help="smtp: server host name (required).")
        parser.add_argument("--port", type=int, default=None, help="smtp: port (required).")
        parser.add_argument("--username", dest="login", default="", help="smtp: login.")
        for field in kinds.ALL_FIELDS:
            parser.add_argument(_flag(field.name), default="", help=_flag_help(field.name))
        parser.add_argument(
            "--security", choices=Provider.Security.values, default=Provider.Security.STARTTLS
        )
        parser.add_argument("--timeout", type=int, default=10, help="Seconds.")
        parser.add_argument("--from-email", default="")
        parser.add_argument("--from-name", default="")
        parser.add_argument("--hourly-limit", type=int, default=None)
        parser.add_argument("--daily-limit", type=int, default=None)
        parser.add_argument(
            "--max-in-flight",
            type=int,
            default=None,
            metavar="N",
            help="The most connections (SMTP) or requests (ESP APIs) open to the provider at "
            f"once, from all workers together. Default: {_in_flight_defaults()}.",
        )
        parser.add_argument(
            "--max-per-second",
            type=int,
            default=None,
            metavar="N",
            help="The most messages handed to the provider per second, from all workers "
            "together (an Amazon SES account's sending rate, say). Default: no cap.",
        )
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
                max_in_flight=options["max_in_flight"],
                max_per_second=options["max_per_second"],
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
        flags |= {f.name: _flag(f.name) for f in kinds.ALL_FIELDS}
        foreign = [flag for name, flag in flags.items() if options[name] and name not in own]
        if foreign:
            raise CommandError(f"Kind {kind} does not take {', '.join(foreign)}.")
