"""manage.py set_provider_courtesy: a thin wrapper over providers.services.provider_update for
an existing provider's max_in_flight and max_per_second."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from providers.models import Provider
from tests import factories

pytestmark = pytest.mark.django_db


def set_courtesy(*args: object) -> str:
    out = StringIO()
    call_command("set_provider_courtesy", *map(str, args), stdout=out)
    return out.getvalue()


def stored(provider: Provider) -> tuple[int | None, int | None]:
    provider.refresh_from_db()
    return provider.max_in_flight, provider.max_per_second


@pytest.fixture
def smtp(account) -> Provider:
    return factories.make_provider(account, port=2525, name="Relay")


def test_it_sets_both_caps_and_prints_them(smtp):
    output = set_courtesy(smtp.pk, "--max-in-flight", "8", "--max-per-second", "14")

    assert stored(smtp) == (8, 14)
    assert output == (
        f"Provider #{smtp.pk} Relay (SMTP server): max in flight 8, max per second 14.\n"
    )


def test_it_changes_only_the_cap_it_is_given(smtp):
    set_courtesy(smtp.pk, "--max-in-flight", "8", "--max-per-second", "14")

    set_courtesy(smtp.pk, "--max-per-second", "20")
    assert stored(smtp) == (8, 20)

    set_courtesy(smtp.pk, "--max-in-flight", "30")
    assert stored(smtp) == (30, 20)


def test_default_and_none_clear_the_caps_and_the_kinds_default_is_printed(smtp):
    set_courtesy(smtp.pk, "--max-in-flight", "8", "--max-per-second", "14")

    output = set_courtesy(smtp.pk, "--max-in-flight", "default", "--max-per-second", "none")

    assert stored(smtp) == (None, None)
    assert output.endswith(": max in flight 50 (the smtp default), max per second none (no cap).\n")


def test_an_esp_provider_falls_back_on_the_api_default(account):
    esp = factories.make_esp_provider(account, "amazon_ses", name="SES", max_in_flight=8)

    output = set_courtesy(esp.pk, "--max-in-flight", "default", "--max-per-second", "14")

    assert output == (
        f"Provider #{esp.pk} SES (Amazon SES): max in flight 100 (the amazon_ses default), "
        "max per second 14.\n"
    )


@pytest.mark.parametrize(
    ("flag", "value", "field", "bound"),
    [
        ("--max-in-flight", "0", "max_in_flight", "greater than or equal to 1"),
        ("--max-in-flight", "257", "max_in_flight", "less than or equal to 256"),
        ("--max-per-second", "0", "max_per_second", "greater than or equal to 1"),
        ("--max-per-second", "100001", "max_per_second", "less than or equal to 100000"),
    ],
)
def test_a_cap_out_of_range_is_refused_by_field_and_nothing_changes(
    smtp, flag, value, field, bound
):
    set_courtesy(smtp.pk, "--max-in-flight", "8", "--max-per-second", "14")

    with pytest.raises(CommandError) as excinfo:
        set_courtesy(smtp.pk, flag, value)

    assert str(excinfo.value) == f"Provider not saved. {field}: Ensure this value is {bound}."
    assert stored(smtp) == (8, 14)


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--max-in-flight", "none", "a whole number or default, not 'none'"),
        ("--max-per-second", "default", "a whole number or none, not 'default'"),
        ("--max-per-second", "2.5", "a whole number or none, not '2.5'"),
    ],
)
def test_a_value_that_is_not_a_number_or_its_word_is_refused(smtp, flag, value, words):
    with pytest.raises(CommandError) as excinfo:
        set_courtesy(smtp.pk, flag, value)

    assert str(excinfo.value) == f"Error: argument {flag}: {words}"
    assert stored(smtp) == (None, None)


def test_it_needs_a_cap_to_change(smtp):
    with pytest.raises(CommandError, match="Nothing to change"):
        set_courtesy(smtp.pk)


def test_an_unknown_provider_is_a_command_error(smtp):
    with pytest.raises(CommandError) as excinfo:
        set_courtesy(987654, "--max-in-flight", "8")

    assert str(excinfo.value) == "No provider #987654."


def test_it_applies_every_rule_of_provider_update(settings, smtp):
    # The stored host became unacceptable since it was saved: no change goes through then.
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    with pytest.raises(CommandError) as excinfo:
        set_courtesy(smtp.pk, "--max-in-flight", "8")

    assert str(excinfo.value).startswith("Provider not saved. host: ")
    assert stored(smtp) == (None, None)
