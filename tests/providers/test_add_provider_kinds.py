"""manage.py add_provider for every kind: its own flags, checked per kind."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from providers.models import Provider

pytestmark = pytest.mark.django_db


def add_provider(*args: str) -> str:
    out = StringIO()
    call_command("add_provider", "owner", "--name", "P", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("args", "credentials", "options"),
    [
        pytest.param(
            [
                "--kind", "amazon_ses",
                "--access-key-id", "AKIAEXAMPLE",
                "--secret-access-key", "ses-secret",
                "--region", "eu-west-1",
                "--configuration-set", "transactional",
            ],
            {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "ses-secret"},
            {"region": "eu-west-1", "configuration_set": "transactional"},
            id="amazon_ses",
        ),
        pytest.param(
            ["--kind", "sendgrid", "--api-key", "SG.key"],
            {"api_key": "SG.key"},
            {},
            id="sendgrid",
        ),
        pytest.param(
            ["--kind", "mailgun", "--api-key", "mg-key", "--domain", "mg.example.com",
             "--region", "eu"],
            {"api_key": "mg-key"},
            {"domain": "mg.example.com", "region": "eu"},
            id="mailgun",
        ),
        pytest.param(
            ["--kind", "postmark", "--server-token", "pm-token"],
            {"server_token": "pm-token"},
            {},
            id="postmark",
        ),
        pytest.param(
            ["--kind", "resend", "--api-key", "re_key"], {"api_key": "re_key"}, {}, id="resend"
        ),
        pytest.param(
            ["--kind", "brevo", "--api-key", "xkeysib-key"],
            {"api_key": "xkeysib-key"},
            {},
            id="brevo",
        ),
    ],
)  # fmt: skip
def test_add_provider_stores_each_esps_secrets_encrypted_and_settings_as_options(
    account, args, credentials, options
):
    output = add_provider(*args, "--from-email", "news@example.com", "--default")

    provider = Provider.objects.get()
    assert provider.kind == args[1]
    assert provider.credentials == credentials
    assert provider.options == options
    assert provider.host == ""
    assert provider.is_default is True
    assert provider.from_email == "news@example.com"
    [row] = Provider.objects.values()
    assert all(secret not in str(row.values()) for secret in credentials.values())
    assert output == f"Added provider #{provider.pk} {provider} (default).\n"


def test_add_provider_adds_the_instance_relay_with_no_flags_of_its_own(settings, relay_allowed):
    settings.EMAIL_HOST = "relay.internal"

    output = add_provider("--kind", "mailpass")

    provider = Provider.objects.get()
    assert (provider.kind, provider.credentials, provider.options) == ("mailpass", {}, {})
    assert output.endswith("P (MailPass relay).\n")


def test_add_provider_refuses_the_instance_relay_when_none_is_configured(settings, account):
    settings.EMAIL_HOST = ""

    with pytest.raises(CommandError, match="kind: This MailPass instance has no relay"):
        add_provider("--kind", "mailpass")


def test_add_provider_refuses_the_relay_to_an_account_the_operator_did_not_allow(settings, account):
    settings.EMAIL_HOST = "relay.internal"

    with pytest.raises(CommandError, match="kind: The MailPass relay is not enabled"):
        add_provider("--kind", "mailpass")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--kind", "smtp"], "Kind smtp needs --host and --port.", id="smtp"),
        pytest.param(
            ["--kind", "smtp", "--host", "127.0.0.1"],
            "Kind smtp needs --port.",
            id="smtp-port",
        ),
        pytest.param(
            ["--kind", "sendgrid"], "api_key: SendGrid needs its API key.", id="sendgrid"
        ),
        pytest.param(
            ["--kind", "postmark"], "server_token: Postmark needs its server token.", id="postmark"
        ),
        pytest.param(
            ["--kind", "mailgun", "--api-key", "k"],
            "domain: Mailgun needs its sending domain.",
            id="mailgun-domain",
        ),
        pytest.param(
            ["--kind", "mailgun", "--api-key", "k", "--domain", "mg.example.com",
             "--region", "asia"],
            "region: Mailgun's region is us or eu.",
            id="mailgun-region",
        ),
        pytest.param(
            ["--kind", "mailgun", "--api-key", "k", "--domain", "example.com/../x"],
            "domain: 'example.com/../x' is not a domain name.",
            id="mailgun-domain-path",
        ),
        pytest.param(
            ["--kind", "amazon_ses", "--access-key-id", "A", "--secret-access-key", "S"],
            "region: Amazon SES needs its region.",
            id="ses-region",
        ),
        pytest.param(
            ["--kind", "amazon_ses", "--access-key-id", "A", "--secret-access-key", "S",
             "--region", "evil.example.com#"],
            "region: 'evil.example.com#' is not an AWS region name",
            id="ses-bad-region",
        ),
        pytest.param(
            ["--kind", "resend", "--api-key", "k", "--host", "smtp.example.com"],
            "Kind resend does not take --host.",
            id="foreign-host",
        ),
        pytest.param(
            ["--kind", "brevo", "--api-key", "k", "--server-token", "t"],
            "Kind brevo does not take --server-token.",
            id="foreign-flag",
        ),
        pytest.param(
            ["--kind", "smtp", "--host", "127.0.0.1", "--port", "25", "--api-key", "k"],
            "Kind smtp does not take --api-key.",
            id="smtp-foreign-flag",
        ),
    ],
)  # fmt: skip
def test_add_provider_explains_what_a_kind_is_missing_or_does_not_take(account, args, message):
    with pytest.raises(CommandError) as excinfo:
        add_provider(*args)

    assert message in str(excinfo.value)
    assert not Provider.objects.exists()


def test_add_provider_stores_the_webhook_secrets_encrypted(account):
    add_provider(
        "--kind", "mailgun", "--api-key", "key-1", "--domain", "mg.example.com",
        "--webhook-secret", "hook:s3cret", "--webhook-signing-key", "signing-1",
    )  # fmt: skip

    provider = Provider.objects.get()
    assert provider.credentials == {
        "api_key": "key-1",
        "webhook_secret": "hook:s3cret",
        "webhook_signing_key": "signing-1",
    }
    assert "s3cret" not in provider.credentials_encrypted


def test_add_provider_refuses_a_webhook_secret_that_is_not_user_and_password(account):
    with pytest.raises(CommandError, match="user:password"):
        add_provider("--kind", "brevo", "--api-key", "x", "--webhook-secret", "just-a-password")
    assert not Provider.objects.exists()
