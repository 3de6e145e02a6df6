"""dashboard.forms.ProviderForm: each kind's fields, the service's rules, secrets write-only."""

import pytest

from dashboard.forms import ProviderForm
from providers.models import Provider

pytestmark = pytest.mark.django_db

COMMON = {"name": "Main", "timeout": "10", "from_email": "", "from_name": ""}

VALID = {
    "smtp": {"host": "127.0.0.1", "port": "2525", "security": "none", "password": "smtp-pw"},
    "amazon_ses": {
        "access_key_id": "AKIAEXAMPLE",
        "secret_access_key": "ses-secret",
        "region": "us-east-1",
        "configuration_set": "",
    },
    "sendgrid": {"api_key": "SG.key"},
    "mailgun": {"api_key": "mg-key", "domain": "mg.example.com", "region": "us"},
    "postmark": {"server_token": "pm-token"},
    "resend": {"api_key": "re_key"},
    "brevo": {"api_key": "xkeysib-key"},
}

EXPECTED = {
    "smtp": ({"password": "smtp-pw"}, {}),
    "amazon_ses": (
        {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "ses-secret"},
        {"region": "us-east-1"},
    ),
    "sendgrid": ({"api_key": "SG.key"}, {}),
    "mailgun": ({"api_key": "mg-key"}, {"domain": "mg.example.com", "region": "us"}),
    "postmark": ({"server_token": "pm-token"}, {}),
    "resend": ({"api_key": "re_key"}, {}),
    "brevo": ({"api_key": "xkeysib-key"}, {}),
}


def form_for(account, kind: str, **data: str) -> ProviderForm:
    return ProviderForm(data={**COMMON, "kind": kind, **data}, account=account)


@pytest.mark.parametrize("kind", list(VALID))
def test_a_valid_form_creates_the_provider_with_its_kinds_secrets_and_options(account, kind):
    form = form_for(account, kind, **VALID[kind])

    assert form.is_valid(), form.errors
    provider = form.save()

    saved = Provider.objects.get(pk=provider.pk)
    assert saved.account == account
    assert saved.kind == kind
    assert (saved.credentials, saved.options) == EXPECTED[kind]


def test_the_form_creates_the_instance_relay_with_nothing_else(settings, account, relay_allowed):
    settings.EMAIL_HOST = "relay.internal"
    form = form_for(account, "mailpass", is_default="on")

    assert form.is_valid(), form.errors
    provider = form.save()

    assert (provider.kind, provider.credentials, provider.is_default) == ("mailpass", {}, True)


@pytest.mark.parametrize(
    ("kind", "data", "field", "message"),
    [
        ("sendgrid", {}, "api_key", "SendGrid needs its API key."),
        ("postmark", {"api_key": "x"}, "server_token", "Postmark needs its server token."),
        ("mailgun", {"api_key": "k"}, "domain", "Mailgun needs its sending domain."),
        ("mailgun", {"api_key": "k", "domain": "mg.example.com", "region": "mars"}, "region",
         "Mailgun's region is us or eu."),
        ("amazon_ses", {"access_key_id": "A", "region": "eu-west-1"}, "secret_access_key",
         "Amazon SES needs its secret access key."),
        ("smtp", {"port": "25"}, "host", "An SMTP provider needs a host."),
    ],
)  # fmt: skip
def test_the_form_reports_each_kinds_missing_or_bad_fields_on_the_field(
    account, kind, data, field, message
):
    form = form_for(account, kind, **data)

    assert not form.is_valid()
    assert form.errors[field] == [message]


def test_the_form_refuses_a_private_smtp_host_like_the_service(settings, account):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False
    form = form_for(account, "smtp", host="10.0.0.8", port="25")

    assert not form.is_valid()
    assert "private or reserved address" in form.errors["host"][0]


def test_the_form_refuses_the_instance_relay_when_there_is_none(settings, account):
    settings.EMAIL_HOST = ""
    form = form_for(account, "mailpass")

    assert not form.is_valid()
    assert "EMAIL_HOST is unset" in form.errors["kind"][0]


def test_the_form_refuses_an_unknown_kind(account):
    form = form_for(account, "pigeon")

    assert not form.is_valid()
    assert "kind" in form.errors


def test_secrets_are_password_inputs_that_never_render_their_value(account):
    form = form_for(account, "sendgrid", api_key="SG.very-secret", name="")

    assert not form.is_valid()  # re-rendered with errors, as a page would be
    html = form.as_p()
    assert "SG.very-secret" not in html
    assert 'type="password" name="api_key"' in html
    assert 'type="text" name="region"' in html


def test_kind_fields_say_which_kinds_use_them(account):
    form = ProviderForm(account=account)

    assert form.fields["api_key"].widget.attrs["data-kinds"] == "sendgrid mailgun resend brevo"
    assert form.fields["region"].widget.attrs["data-kinds"] == "amazon_ses mailgun"
    assert form.fields["host"].widget.attrs["data-kinds"] == "smtp"


def test_another_kinds_fields_are_not_stored(account):
    form = form_for(account, "resend", api_key="re_key", server_token="pm", domain="x.example")

    assert form.is_valid(), form.errors
    provider = form.save()

    assert (provider.credentials, provider.options) == ({"api_key": "re_key"}, {})


def test_an_esp_provider_needs_no_smtp_columns(account):
    form = form_for(account, "brevo", api_key="k", timeout="")

    assert form.is_valid(), form.errors
    provider = form.save()

    assert (provider.host, provider.port, provider.timeout) == ("", 587, 10)


def test_each_kind_shows_its_own_label_and_help_from_its_row(account):
    ses = ProviderForm(account=account, kind="amazon_ses")
    mailgun = ProviderForm(account=account, kind="mailgun")

    assert ses.fields["access_key_id"].label == "Access key ID"
    assert ses.fields["region"].help_text == "The AWS region, like eu-west-1."
    assert mailgun.fields["region"].help_text == "us (the default) or eu."


def test_the_all_kinds_form_names_the_in_flight_default_of_each_kind(account):
    form = ProviderForm(account=account)

    assert form.fields["max_in_flight"].help_text == (
        "All workers together keep to it. Empty means the kind's default: 50 for SMTP servers "
        "and the MailPass relay, 100 for the ESPs' APIs."
    )
