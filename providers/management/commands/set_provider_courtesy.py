import argparse
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.courtesy import in_flight_cap
from providers.models import Provider
from providers.services import provider_update


def _number_or(word: str) -> Callable[[str], int | None]:
    """An argparse type: a whole number, or `word` for an empty column (None)."""

    def parse(value: str) -> int | None:
        if value == word:
            return None
        try:
            return int(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"a whole number or {word}, not {value!r}") from err

    return parse


class Command(BaseCommand):
    help = (
        "Set how gently all workers together treat an existing provider: the most "
        "connections or requests it gets at once, and the most messages per second. Prints "
        "the values in force afterwards."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "provider_id", type=int, help="As add_provider printed it, or as the admin shows it."
        )
        parser.add_argument(
            "--max-in-flight",
            type=_number_or("default"),
            default=argparse.SUPPRESS,
            metavar="N|default",
            help="The most connections (SMTP) or requests (ESP APIs) open to the provider at "
            "once, from all workers together; default: the kind's own.",
        )
        parser.add_argument(
            "--max-per-second",
            type=_number_or("none"),
            default=argparse.SUPPRESS,
            metavar="N|none",
            help="The most messages handed to the provider per second, from all workers "
            "together; none: no cap.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        provider = Provider.objects.filter(pk=options["provider_id"]).first()
        if provider is None:
            raise CommandError(f"No provider #{options['provider_id']}.")
        # None is a value here ("default", "none"): a flag not given is absent (SUPPRESS).
        changes = {
            name: options[name] for name in ("max_in_flight", "max_per_second") if name in options
        }
        if not changes:
            raise CommandError("Nothing to change: give --max-in-flight, --max-per-second or both.")
        try:
            provider_update(provider=provider, **changes)
        except ValidationError as err:
            problems = "; ".join(
                f"{field}: {' '.join(msgs)}" for field, msgs in err.message_dict.items()
            )
            raise CommandError(f"Provider not saved. {problems}") from err
        self.stdout.write(f"Provider #{provider.pk} {provider}: {_courtesy(provider)}.")


def _courtesy(provider: Provider) -> str:
    """The provider's caps in force, in the words of the flags."""
    in_flight = f"max in flight {in_flight_cap(provider)}"
    if provider.max_in_flight is None:
        in_flight += f" (the {provider.kind} default)"
    per_second = provider.max_per_second or "none (no cap)"
    return f"{in_flight}, max per second {per_second}"
