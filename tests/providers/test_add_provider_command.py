"""manage.py add_provider: a thin wrapper over providers.services.provider_create."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from providers.management.commands.add_provider import Command as AddProvider
from providers.models import Provider

pytestmark = pytest.mark.django_db

PASSWORD = "Tr0ub4dor&3-only-in-this-test"


def add_provider(*args: str) -> str:
    out = StringIO()
    call_command("add_provider", *args, stdout=out)
    return out.getvalue()


def required(name: str = "Relay", host: str = "127.0.0.1", port: int = 2525) -> list[str]:
    return ["--name", name, "--host", host, "--port", str(port)]


def test_add_provider_creates_a_provider_with_every_option(account):
    output = add_provider(
        "owner",
        *required(port=465),
        "--username", "relay-user",
        "--password", PASSWORD,
        "--security", "ssl",
        "--timeout", "25",
        "--from-email", "news@example.com",
        "--from-name", "News",
        "--hourly-limit", "100",
        "--daily-limit", "1000",
        "--max-in-flight", "8",
        "--max-per-second", "14",
    )  # fmt: skip

    provider = Provider.objects.get()
    assert provider.account == account
    assert (provider.name, provider.kind, provider.host, provider.port) == (
        "Relay",
        "smtp",
        "127.0.0.1",
        465,
    )
    assert (provider.username, provider.security, provider.timeout) == ("relay-user", "ssl", 25)
    assert (provider.from_email, provider.from_name) == ("news@example.com", "News")
    assert (provider.hourly_limit, provider.daily_limit) == (100, 1000)
    assert (provider.max_in_flight, provider.max_per_second) == (8, 14)
    assert provider.credentials == {"password": PASSWORD}
    assert provider.is_default is False
    assert output == f"Added provider #{provider.pk} Relay (SMTP server).\n"


def test_add_provider_uses_safe_defaults_for_omitted_options(account):
    add_provider("owner", *required())

    provider = Provider.objects.get()
    assert provider.security == Provider.Security.STARTTLS
    assert provider.timeout == 10
    assert provider.username == ""
    assert provider.credentials_encrypted == ""
    assert (provider.hourly_limit, provider.daily_limit) == (None, None)
    assert (provider.max_in_flight, provider.max_per_second) == (None, None)


def test_add_provider_with_default_makes_it_the_only_default(account):
    add_provider("owner", *required(name="Old"), "--default")

    output = add_provider("owner", *required(name="New"), "--default")

    assert list(Provider.objects.filter(is_default=True).values_list("name", flat=True)) == ["New"]
    assert output.endswith("New (SMTP server) (default).\n")


def test_add_provider_for_a_teammate_adds_to_the_shared_account(account):
    add_provider("teammate", *required())

    assert Provider.objects.get().account == account


def test_add_provider_for_a_user_without_an_account_creates_one(owner):
    add_provider("owner", *required())

    provider = Provider.objects.get()
    assert provider.account.owner == owner


def test_add_provider_for_an_unknown_user_is_a_command_error(account):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        add_provider("ghost", *required())

    assert not Provider.objects.exists()


def test_add_provider_refuses_a_private_host_with_the_reason(settings, account):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    with pytest.raises(CommandError) as excinfo:
        add_provider("owner", *required(host="10.0.0.1"))

    message = str(excinfo.value)
    assert message.startswith("Provider not saved. host: ")
    assert "private or reserved address (10.0.0.1)" in message
    assert not Provider.objects.exists()


def test_add_provider_reports_an_invalid_port_by_field(account):
    with pytest.raises(CommandError, match="port: "):
        add_provider("owner", *required(port=70000))

    assert not Provider.objects.exists()


@pytest.mark.parametrize(
    ("flag", "value", "field", "bound"),
    [
        ("--max-in-flight", "0", "max_in_flight", "greater than or equal to 1"),
        ("--max-in-flight", "257", "max_in_flight", "less than or equal to 256"),
        ("--max-per-second", "0", "max_per_second", "greater than or equal to 1"),
    ],
)
def test_add_provider_refuses_a_courtesy_cap_out_of_range_by_field(
    account, flag, value, field, bound
):
    with pytest.raises(CommandError) as excinfo:
        add_provider("owner", *required(), flag, value)

    assert str(excinfo.value) == f"Provider not saved. {field}: Ensure this value is {bound}."
    assert not Provider.objects.exists()


def test_add_provider_help_names_each_kinds_default_in_flight_cap():
    parser = AddProvider().create_parser("manage.py", "add_provider")

    text = " ".join(parser.format_help().split())
    assert "Default: 50 for smtp, mailpass; 100 for amazon_ses, sendgrid, mailgun" in text


def test_add_provider_stores_the_password_only_encrypted(account):
    add_provider("owner", *required(), "--username", "relay-user", "--password", PASSWORD)

    [row] = Provider.objects.values()
    assert all(PASSWORD not in str(value) for value in row.values())
    assert row["credentials_encrypted"]
    assert Provider.objects.get().credentials == {"password": PASSWORD}
