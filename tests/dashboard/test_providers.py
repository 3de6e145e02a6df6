"""The SMTP settings pages: providers listed with usage, added and edited per kind,
deleted, made default, tested; secrets never rendered; other accounts' providers a 404."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import Account
from api.models import Message
from api.services import suppression_add
from api.webhooks import webhook_token
from providers import limits
from providers.models import Provider
from providers.selectors import provider_get_default
from providers.services import provider_set_fallbacks
from tests import factories
from tests.smtp_sink import closed_port

pytestmark = pytest.mark.django_db

LIST_URL = reverse("dashboard:provider-list")
CREATE_URL = reverse("dashboard:provider-create")

SMTP_FORM = {
    "name": "Office relay",
    "host": "127.0.0.1",
    "port": "2525",
    "security": "none",
    "username": "relay-user",
    "password": "smtp-secret-pw",
    "timeout": "7",
    "from_email": "news@example.com",
    "from_name": "News",
    "hourly_limit": "100",
    "daily_limit": "",
}
SENDGRID_FORM = {"name": "SendGrid", "api_key": "SG.very-secret-key", "from_email": "a@example.com"}


def notes(response) -> list[str]:
    return [str(note) for note in get_messages(response.wsgi_request)]


def url(name: str, provider: Provider) -> str:
    return reverse(f"dashboard:provider-{name}", args=[provider.pk])


def make_esp(account, *, kind: str = "sendgrid", **fields) -> Provider:
    values = {
        "key": "SG.very-secret-key",
        "name": "SendGrid",
        "credentials": {"webhook_secret": "hook:hook-secret-pw"},
        "from_email": "esp@example.com",
        "is_default": False,
    }
    return factories.make_esp_provider(account, kind, **{**values, **fields})


# --- the list ---------------------------------------------------------------------------


def test_the_provider_pages_send_anonymous_visitors_to_the_login_page(provider):
    for page in (LIST_URL, CREATE_URL, url("update", provider), url("delete", provider)):
        response = Client().get(page)

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_without_providers_the_list_explains_the_api_refuses_to_send_and_offers_to_add_one(
    owner_client,
):
    response = owner_client.get(LIST_URL)

    content = response.content.decode()
    assert response.status_code == 200
    assert "NO_SMTP_PROVIDER" in content
    assert f'href="{CREATE_URL}"' in content


def test_the_list_shows_each_provider_with_the_default_marked(owner_client, account, provider):
    other = make_esp(account, name="Backup ESP")

    content = owner_client.get(LIST_URL).content.decode()

    assert f"127.0.0.1:{provider.port}" in content
    assert "sender@example.com" in content
    assert "Backup ESP" in content
    assert content.count('class="badge default"') == 1
    default_row = content.index('class="badge default"')
    assert content.index("Test sink") < default_row < content.index("Backup ESP")
    # Only the other one offers to become the default.
    assert url("set-default", other) in content
    assert url("set-default", provider) not in content
    assert "NO_SMTP_PROVIDER" not in content


def test_the_list_warns_when_no_provider_is_the_default(owner_client, account):
    make_esp(account)

    content = owner_client.get(LIST_URL).content.decode()

    assert "No provider is the default" in content


def test_the_list_shows_usage_against_the_hourly_and_daily_limits(owner_client, account, sink):
    limited = factories.make_provider(account, port=sink.port, hourly_limit=100, daily_limit=1000)
    limits.acquire(provider=limited, wanted=100)

    content = owner_client.get(LIST_URL).content.decode()

    assert "100 of 100 this hour" in content
    assert "100 of 1,000 today" in content
    assert '<div class="meter full" aria-hidden="true"><span style="width:100%">' in content
    assert '<div class="meter" aria-hidden="true"><span style="width:10%">' in content


def test_the_list_says_no_limit_and_still_counts_for_a_provider_without_limits(
    owner_client, provider
):
    limits.record_usage(provider=provider, count=3)

    content = owner_client.get(LIST_URL).content.decode()

    assert "3 this hour, no limit" in content
    assert "3 today, no limit" in content
    assert 'class="meter' not in content


def test_the_list_shows_how_many_connections_or_requests_a_provider_gets_at_once(
    owner_client, account, provider
):
    make_esp(account, max_in_flight=7, max_per_second=14)

    content = owner_client.get(LIST_URL).content.decode()

    assert "At most 50 at once" in content  # the SMTP kind's default
    assert "At most 7 at once<br>At most 14 per second" in content
    assert content.count("per second</div>") == 1  # only where a cap is set


def test_the_list_shows_the_events_webhook_url_of_an_esp_provider(owner_client, settings, account):
    settings.MAILPASS_PUBLIC_URL = "https://mail.example.test"
    esp = make_esp(account)

    content = owner_client.get(LIST_URL).content.decode()

    webhook = f"https://mail.example.test/webhooks/{webhook_token(esp)}"
    assert f'<code id="webhook-{esp.pk}">{webhook}</code>' in content
    assert f'data-copy="#webhook-{esp.pk}"' in content


def test_an_smtp_provider_has_no_webhook_url(owner_client, settings, provider):
    settings.MAILPASS_PUBLIC_URL = "https://mail.example.test"

    assert "/webhooks/" not in owner_client.get(LIST_URL).content.decode()


def test_the_list_shows_only_the_accounts_own_providers(owner_client, outsider_account, sink):
    factories.make_provider(outsider_account, port=sink.port, name="Outsider relay")

    content = owner_client.get(LIST_URL).content.decode()

    assert "Outsider relay" not in content
    assert "NO_SMTP_PROVIDER" in content


# --- adding -----------------------------------------------------------------------------


def test_adding_starts_with_the_choice_of_kind(owner_client, settings):
    settings.EMAIL_HOST = ""

    content = owner_client.get(CREATE_URL).content.decode()

    for kind in ("smtp", "amazon_ses", "sendgrid", "mailgun", "postmark", "resend", "brevo"):
        assert f'href="?kind={kind}"' in content
    assert 'href="?kind=mailpass"' not in content  # no relay on this instance
    assert "Not available" in content


def test_an_unknown_kind_shows_the_choice_again(owner_client):
    response = owner_client.get(CREATE_URL + "?kind=pigeon")

    assert response.status_code == 200
    assert 'href="?kind=smtp"' in response.content.decode()
    assert "form" not in response.context


def test_the_smtp_form_has_only_the_smtp_fields(owner_client):
    form = owner_client.get(CREATE_URL + "?kind=smtp").context["form"]

    assert {"host", "port", "username", "security", "password", "timeout"} <= set(form.fields)
    assert not {"kind", "api_key", "region", "domain", "server_token"} & set(form.fields)


def test_an_esp_form_has_only_that_esps_fields(owner_client):
    response = owner_client.get(CREATE_URL + "?kind=mailgun")
    content = response.content.decode()

    fields = set(response.context["form"].fields)
    assert {"api_key", "domain", "region", "webhook_secret", "webhook_signing_key"} <= fields
    assert not {"kind", "host", "port", "username", "security", "password"} & fields
    assert 'name="host"' not in content
    assert 'type="password" name="api_key"' in content


def test_adding_an_smtp_provider_saves_it_with_its_password_encrypted(owner_client, account):
    response = owner_client.post(CREATE_URL + "?kind=smtp", SMTP_FORM)

    assert response.status_code == 302
    assert response["Location"] == LIST_URL
    assert notes(response) == ["Provider Office relay added."]
    provider = Provider.objects.get(account=account)
    assert (provider.kind, provider.host, provider.port, provider.security) == (
        "smtp",
        "127.0.0.1",
        2525,
        "none",
    )
    assert (provider.username, provider.timeout, provider.hourly_limit) == ("relay-user", 7, 100)
    assert provider.credentials == {"password": "smtp-secret-pw"}
    assert "smtp-secret-pw" not in provider.credentials_encrypted
    assert not provider.is_default  # the box was left unticked


def test_adding_a_provider_saves_its_courtesy_caps(owner_client, account):
    data = {**SENDGRID_FORM, "max_in_flight": "8", "max_per_second": "14"}

    response = owner_client.post(CREATE_URL + "?kind=sendgrid", data)

    assert response.status_code == 302
    provider = Provider.objects.get(account=account)
    assert (provider.max_in_flight, provider.max_per_second) == (8, 14)


def test_adding_a_provider_without_courtesy_caps_leaves_them_empty(owner_client, account):
    owner_client.post(CREATE_URL + "?kind=smtp", SMTP_FORM)

    provider = Provider.objects.get(account=account)
    assert (provider.max_in_flight, provider.max_per_second) == (None, None)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("max_in_flight", "0", "Ensure this value is greater than or equal to 1."),
        ("max_in_flight", "257", "Ensure this value is less than or equal to 256."),
        ("max_per_second", "0", "Ensure this value is greater than or equal to 1."),
        ("max_per_second", "100001", "Ensure this value is less than or equal to 100000."),
        ("max_per_second", "-3", "Ensure this value is greater than or equal to 0."),
        ("max_per_second", "fast", "Enter a whole number."),
    ],
)
def test_a_courtesy_cap_out_of_range_is_refused_on_its_field(
    owner_client, account, field, value, error
):
    response = owner_client.post(CREATE_URL + "?kind=sendgrid", {**SENDGRID_FORM, field: value})

    assert response.status_code == 200
    assert error in response.context["form"].errors[field]
    assert not Provider.objects.exists()


@pytest.mark.parametrize(
    ("kind", "default"),
    [("smtp", 50), ("mailpass", 50), ("amazon_ses", 100), ("mailgun", 100)],
)
def test_the_in_flight_help_names_the_default_of_the_providers_kind(
    owner_client, settings, kind, default
):
    settings.EMAIL_HOST = "relay.internal"

    form = owner_client.get(CREATE_URL + f"?kind={kind}").context["form"]

    assert form.fields["max_in_flight"].label == "Connections or requests at once"
    assert form.fields["max_in_flight"].help_text == (
        f"All workers together keep to it. Empty means the kind's default: {default}."
    )
    assert "no cap" in form.fields["max_per_second"].help_text


def test_the_edit_form_names_the_default_of_the_providers_own_kind(owner_client, account):
    esp = make_esp(account, max_in_flight=8)

    response = owner_client.get(url("update", esp))

    assert 'name="max_in_flight" value="8"' in response.content.decode()
    assert response.context["form"].fields["max_in_flight"].help_text.endswith("default: 100.")


def test_adding_an_esp_provider_saves_its_kinds_fields(owner_client, account):
    response = owner_client.post(
        CREATE_URL + "?kind=mailgun",
        {"name": "Mailgun EU", "api_key": "mg-key", "domain": "mg.example.com", "region": "eu"},
    )

    assert response.status_code == 302
    provider = Provider.objects.get(account=account)
    assert provider.kind == "mailgun"
    assert provider.credentials == {"api_key": "mg-key"}
    assert provider.options == {"domain": "mg.example.com", "region": "eu"}
    assert (provider.host, provider.port) == ("", 587)
    assert not provider.is_default  # left unticked


def test_the_first_provider_is_offered_as_the_default_and_later_ones_are_not(
    owner_client, account, sink
):
    first = owner_client.get(CREATE_URL + "?kind=smtp").context["form"]
    factories.make_provider(account, port=sink.port)
    later = owner_client.get(CREATE_URL + "?kind=smtp").context["form"]

    assert first.fields["is_default"].initial is True
    assert later.fields["is_default"].initial is False


def test_adding_a_provider_as_default_takes_the_default_over(owner_client, account, provider):
    owner_client.post(CREATE_URL + "?kind=sendgrid", {**SENDGRID_FORM, "is_default": "on"})

    assert provider_get_default(account=account).name == "SendGrid"


def test_a_refused_provider_is_shown_again_with_the_errors_on_its_fields(owner_client):
    response = owner_client.post(CREATE_URL + "?kind=mailgun", {"name": "MG", "api_key": "k"})

    assert response.status_code == 200
    assert response.context["form"].errors["domain"] == ["Mailgun needs its sending domain."]
    assert not Provider.objects.exists()


def test_a_private_smtp_host_is_refused_on_the_host_field(owner_client, settings):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    response = owner_client.post(CREATE_URL + "?kind=smtp", {**SMTP_FORM, "host": "10.0.0.8"})

    assert "private or reserved address" in response.context["form"].errors["host"][0]
    assert not Provider.objects.exists()


def test_the_instance_relay_without_a_relay_is_refused_above_the_form(owner_client, settings):
    settings.EMAIL_HOST = ""

    response = owner_client.post(CREATE_URL + "?kind=mailpass", {"name": "Relay"})

    assert response.status_code == 200
    assert "EMAIL_HOST is unset" in response.context["form"].non_field_errors()[0]
    assert not Provider.objects.exists()


def test_the_instance_relay_asks_only_for_a_name_sender_and_limits(owner_client, settings):
    settings.EMAIL_HOST = "relay.internal"

    form = owner_client.get(CREATE_URL + "?kind=mailpass").context["form"]

    assert set(form.fields) == {
        "name",
        "from_email",
        "from_name",
        "hourly_limit",
        "daily_limit",
        "max_in_flight",
        "max_per_second",
        "is_default",
    }


# --- editing ----------------------------------------------------------------------------


def test_the_edit_form_shows_the_providers_settings_but_no_kind_choice(owner_client, account):
    mailgun = make_esp(
        account,
        kind="mailgun",
        name="MG",
        credentials={"api_key": "mg-very-secret"},
        options={"domain": "mg.example.com"},
    )

    response = owner_client.get(url("update", mailgun))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'value="MG"' in content
    assert 'value="mg.example.com"' in content
    assert "kind" not in response.context["form"].fields
    assert "is_default" not in response.context["form"].fields  # one click on the list
    assert 'name="host"' not in content
    assert "Stored, and never shown" in content


def test_editing_with_a_secret_left_empty_keeps_the_stored_one(owner_client, provider):
    provider_with_secret = factories.make_provider(
        provider.account, port=provider.port, name="Login", credentials={"password": "old-pw"}
    )

    response = owner_client.post(
        url("update", provider_with_secret),
        {**SMTP_FORM, "name": "Renamed", "port": str(provider.port), "password": ""},
    )

    assert response.status_code == 302
    assert notes(response) == ["Provider Renamed saved."]
    provider_with_secret.refresh_from_db()
    assert provider_with_secret.name == "Renamed"
    assert provider_with_secret.username == "relay-user"
    assert provider_with_secret.credentials == {"password": "old-pw"}


def test_editing_with_a_new_secret_replaces_the_stored_one(owner_client, account):
    esp = make_esp(account)

    owner_client.post(url("update", esp), {"name": "SendGrid", "api_key": "SG.new-key"})

    esp.refresh_from_db()
    assert esp.credentials == {"api_key": "SG.new-key", "webhook_secret": "hook:hook-secret-pw"}


def test_editing_changes_the_courtesy_caps(owner_client, account):
    esp = make_esp(account, max_in_flight=8)

    response = owner_client.post(
        url("update", esp), {"name": "SendGrid", "max_in_flight": "20", "max_per_second": "14"}
    )

    assert response.status_code == 302
    esp.refresh_from_db()
    assert (esp.max_in_flight, esp.max_per_second) == (20, 14)


def test_editing_refuses_a_courtesy_cap_out_of_range_and_keeps_the_stored_one(
    owner_client, account
):
    esp = make_esp(account, max_in_flight=8)

    response = owner_client.post(url("update", esp), {"name": "SendGrid", "max_in_flight": "300"})

    assert response.context["form"].errors["max_in_flight"] == [
        "Ensure this value is less than or equal to 256."
    ]
    esp.refresh_from_db()
    assert esp.max_in_flight == 8


def test_editing_applies_the_same_rules_as_adding(owner_client, account, settings):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False
    mailgun = make_esp(
        account, kind="mailgun", credentials={"api_key": "k"}, options={"domain": "mg.example.com"}
    )

    response = owner_client.post(
        url("update", mailgun), {"name": "MG", "domain": "", "region": "mars"}
    )

    errors = response.context["form"].errors
    assert errors["domain"] == ["Mailgun needs its sending domain."]
    assert errors["region"] == ["Mailgun's region is us or eu."]
    mailgun.refresh_from_db()
    assert mailgun.options == {"domain": "mg.example.com"}


def test_editing_can_clear_an_optional_setting_and_the_limits(owner_client, account):
    ses = make_esp(
        account,
        kind="amazon_ses",
        credentials={"access_key_id": "AKIA", "secret_access_key": "ses-secret"},
        options={"region": "eu-west-1", "configuration_set": "transactional"},
        hourly_limit=10,
        max_in_flight=8,
        max_per_second=14,
    )

    owner_client.post(url("update", ses), {"name": "SES", "region": "eu-west-1"})

    ses.refresh_from_db()
    assert ses.options == {"region": "eu-west-1"}
    assert ses.hourly_limit is None
    assert (ses.max_in_flight, ses.max_per_second) == (None, None)
    assert ses.credentials == {"access_key_id": "AKIA", "secret_access_key": "ses-secret"}


def test_fallbacks_are_chosen_among_the_accounts_other_providers(
    owner_client, account, outsider_account, provider
):
    first = make_esp(account, name="First")
    second = make_esp(account, name="Second")
    make_esp(outsider_account, name="Not mine")

    form = owner_client.get(url("update", provider)).context["form"]
    assert [label for _, label in form.fields["fallbacks"].choices] == [
        "First (SendGrid)",
        "Second (SendGrid)",
    ]

    data = {**SMTP_FORM, "port": str(provider.port), "fallbacks": [second.pk, first.pk]}
    owner_client.post(url("update", provider), data)

    provider.refresh_from_db()
    assert sorted(provider.fallbacks) == sorted([first.pk, second.pk])


def test_saving_the_form_keeps_the_order_of_fallbacks_already_set(owner_client, account, provider):
    first = make_esp(account, name="First")
    second = make_esp(account, name="Second")
    provider_set_fallbacks(provider=provider, fallbacks=[second, first])

    data = {**SMTP_FORM, "port": str(provider.port), "fallbacks": [first.pk, second.pk]}
    owner_client.post(url("update", provider), data)

    provider.refresh_from_db()
    assert provider.fallbacks == [second.pk, first.pk]


def test_a_provider_cannot_fall_back_on_another_accounts_provider(
    owner_client, account, outsider_account, provider
):
    make_esp(account, name="Own")
    foreign = make_esp(outsider_account)

    response = owner_client.post(
        url("update", provider),
        {**SMTP_FORM, "port": str(provider.port), "fallbacks": [foreign.pk]},
    )

    assert response.status_code == 200
    assert "fallbacks" in response.context["form"].errors
    provider.refresh_from_db()
    assert provider.fallbacks == []


# --- secrets ----------------------------------------------------------------------------


def test_secrets_appear_on_no_page(owner_client, account, sink):
    smtp = factories.make_provider(
        account, port=sink.port, credentials={"password": "smtp-secret-pw"}, username="u"
    )
    esp = make_esp(account)
    secrets = ("smtp-secret-pw", "SG.very-secret-key", "hook-secret-pw")
    pages = [
        owner_client.get(LIST_URL),
        owner_client.get(url("update", smtp)),
        owner_client.get(url("update", esp)),
        owner_client.get(url("delete", esp)),
        # Re-rendered with errors, with a secret just typed in:
        owner_client.post(url("update", smtp), {**SMTP_FORM, "name": ""}),
        owner_client.post(url("update", esp), {"name": "", "api_key": "SG.very-secret-key"}),
        owner_client.post(CREATE_URL + "?kind=smtp", {**SMTP_FORM, "host": ""}),
    ]

    for page in pages:
        assert page.status_code == 200
        content = page.content.decode()
        for secret in secrets:
            assert secret not in content
    assert pages[4].context["form"].errors["name"]


# --- deleting ---------------------------------------------------------------------------


def test_deleting_asks_for_confirmation_first(owner_client, provider):
    response = owner_client.get(url("delete", provider))

    assert response.status_code == 200
    assert "NO_SMTP_PROVIDER" in response.content.decode()  # it is the default
    assert Provider.objects.filter(pk=provider.pk).exists()


def test_deleting_keeps_the_messages_and_drops_the_provider_from_other_fallbacks(
    owner_client, account, provider
):
    backup = make_esp(account, name="Backup")
    other = make_esp(account, name="Other")
    provider_set_fallbacks(provider=provider, fallbacks=[backup, other])
    message = factories.make_message(account, provider=backup)

    response = owner_client.post(url("delete", backup))

    assert response.status_code == 302
    assert notes(response) == ["Provider Backup deleted."]
    assert not Provider.objects.filter(pk=backup.pk).exists()
    message.refresh_from_db()
    assert message.provider_id is None
    provider.refresh_from_db()
    assert provider.fallbacks == [other.pk]
    assert provider_get_default(account=account) == provider


def test_deleting_the_default_says_that_no_provider_is_default_now(owner_client, account, provider):
    make_esp(account)

    response = owner_client.post(url("delete", provider))

    assert "no provider is default now" in notes(response)[0]
    assert provider_get_default(account=account) is None


# --- default, connection test, test email ------------------------------------------------


def test_set_default_makes_the_provider_the_only_default(owner_client, account, provider):
    esp = make_esp(account)

    response = owner_client.post(url("set-default", esp))

    assert response.status_code == 302
    assert notes(response) == ["SendGrid is the default provider now: the API sends through it."]
    assert provider_get_default(account=account) == esp
    assert Provider.objects.filter(account=account, is_default=True).count() == 1


def test_test_connection_reports_success_against_a_working_server(owner_client, provider):
    response = owner_client.post(url("test-connection", provider))

    assert response.status_code == 302
    [note] = get_messages(response.wsgi_request)
    assert note.level_tag == "success"
    assert f"Connected to 127.0.0.1:{provider.port}" in note.message


def test_test_connection_reports_the_kind_of_failure_only(owner_client, account):
    dead = factories.make_provider(account, port=closed_port(), name="Dead relay")

    response = owner_client.post(url("test-connection", dead))

    [note] = get_messages(response.wsgi_request)
    assert note.level_tag == "error"
    assert note.message == "Connection test of Dead relay failed: Could not connect to the server."


def test_a_test_email_goes_through_that_provider_and_is_logged(
    owner_client, account, provider, sink, counting_sinks
):
    other_sink = counting_sinks[0]
    second = factories.make_provider(
        account,
        port=other_sink.port,
        name="Second",
        from_email="second@example.com",
        is_default=False,
    )

    response = owner_client.post(url("test-email", second), {"to_email": "me@example.com"})

    assert notes(response) == [
        "Second accepted the test email to me@example.com. It is in the message log."
    ]
    assert sink.received == []
    [received] = other_sink.received
    assert received.rcpt_tos == ["me@example.com"]
    assert received.message["From"].addresses[0].addr_spec == "second@example.com"
    message = Message.objects.get(account=account)
    assert (message.provider, message.status, message.tags) == (second, "sent", ["test"])


def test_a_failed_test_email_reports_the_providers_own_words(owner_client, provider, sink):
    sink.fail_rcpt("nobody@example.com", "550 5.1.1 No such user here")

    response = owner_client.post(url("test-email", provider), {"to_email": "nobody@example.com"})

    [note] = get_messages(response.wsgi_request)
    assert note.level_tag == "error"
    assert "550 5.1.1 No such user here" in note.message
    assert Message.objects.get().status == "failed"


def test_a_test_email_does_not_fall_back_on_another_provider(owner_client, account, counting_sinks):
    backup = factories.make_provider(account, port=counting_sinks[0].port, name="Backup")
    dead = factories.make_provider(account, port=closed_port(), name="Dead", is_default=False)
    provider_set_fallbacks(provider=dead, fallbacks=[backup])

    response = owner_client.post(url("test-email", dead), {"to_email": "me@example.com"})

    assert "failed" in notes(response)[0]
    assert counting_sinks[0].received == []


def test_a_test_email_counts_against_the_limits_and_stops_at_them(owner_client, account, sink):
    limited = factories.make_provider(account, port=sink.port, name="Small", hourly_limit=1)
    first = owner_client.post(url("test-email", limited), {"to_email": "me@example.com"})
    second = owner_client.post(url("test-email", limited), {"to_email": "me@example.com"})

    assert "accepted the test email" in notes(first)[0]
    assert notes(second)[-1] == "Small has reached its sending limit: no test email was sent."
    assert len(sink.received) == 1
    assert limits.usage(provider=limited) == (1, 1)


def test_a_test_email_to_a_suppressed_address_is_not_sent(owner_client, account, provider, sink):
    suppression_add(account=account, email="gone@example.com")

    response = owner_client.post(url("test-email", provider), {"to_email": "gone@example.com"})

    assert notes(response) == [
        "gone@example.com is on your suppression list, so no test email was sent to it."
    ]
    assert sink.received == []
    assert Message.objects.get().status == "suppressed"


def test_a_test_email_needs_a_valid_address_and_a_sender(owner_client, account, provider, sink):
    no_sender = factories.make_provider(
        account, port=sink.port, name="Anonymous", from_email="", is_default=False
    )

    bad_address = owner_client.post(url("test-email", provider), {"to_email": "not-an-address"})
    no_from = owner_client.post(url("test-email", no_sender), {"to_email": "me@example.com"})

    assert notes(bad_address) == ["Enter a valid email address."]
    assert notes(no_from)[-1] == (
        "Anonymous has no sender address: add one on its settings page first."
    )
    assert sink.received == []
    assert not Message.objects.exists()


# --- ownership, methods, CSRF ------------------------------------------------------------

PK_ROUTES = [
    ("update", "get"),
    ("update", "post"),
    ("delete", "get"),
    ("delete", "post"),
    ("set-default", "post"),
    ("test-connection", "post"),
    ("test-email", "post"),
]


@pytest.mark.parametrize(("route", "method"), PK_ROUTES)
def test_another_accounts_provider_is_a_404_on_every_route(
    owner_client, outsider_account, sink, route, method
):
    foreign = factories.make_provider(outsider_account, port=sink.port, name="Foreign")

    response = getattr(owner_client, method)(
        url(route, foreign), {"name": "Taken", "to_email": "me@example.com"}
    )

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert (foreign.name, foreign.is_default) == ("Foreign", True)
    assert sink.received == []


@pytest.mark.parametrize("route", ["set-default", "test-connection", "test-email"])
def test_the_action_routes_refuse_get(owner_client, provider, route):
    assert owner_client.get(url(route, provider)).status_code == 405


def test_every_change_needs_the_csrf_token(owner, account, provider):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    for route in ("update", "delete", "set-default", "test-connection", "test-email"):
        assert client.post(url(route, provider), {"name": "x"}).status_code == 403
    assert client.post(CREATE_URL + "?kind=smtp", SMTP_FORM).status_code == 403
    assert Provider.objects.get().name == "Test sink"


def test_a_test_email_from_an_unverified_domain_is_refused_with_a_note(
    owner_client, account, provider, sink
):
    Account.objects.filter(pk=account.pk).update(verified_domains_only=True)

    response = owner_client.post(url("test-email", provider), {"to_email": "me@example.com"})

    assert response.status_code == 302
    assert notes(response) == [
        "No test email was sent: example.com is not a verified domain of your account, and "
        "this mail may only come from a verified one. Add and verify it under Domains, or send "
        "from an address of a verified domain."
    ]
    assert sink.received == [] and not Message.objects.exists()
