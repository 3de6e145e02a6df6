"""providers.services: provider_create validates and encrypts; provider_set_default keeps one."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from providers import crypto
from providers.models import Provider
from providers.selectors import provider_get_default
from providers.services import provider_create, provider_set_default
from tests import factories

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Relay",
    "host": "127.0.0.1",
    "port": 2525,
    "security": Provider.Security.NONE,
}


def create(account, **overrides) -> Provider:
    return provider_create(account=account, **{**VALID, **overrides})


def test_provider_create_saves_every_field(account):
    provider = create(
        account,
        username="relay-user",
        security=Provider.Security.SSL,
        port=465,
        timeout=20,
        from_email="news@example.com",
        from_name="News",
        hourly_limit=100,
        daily_limit=1000,
        max_in_flight=8,
        max_per_second=14,
        options={"note": "eu relay"},
    )

    saved = Provider.objects.get(pk=provider.pk)
    assert saved.account == account
    assert (saved.name, saved.kind, saved.host, saved.port) == ("Relay", "smtp", "127.0.0.1", 465)
    assert (saved.username, saved.security, saved.timeout) == ("relay-user", "ssl", 20)
    assert (saved.from_email, saved.from_name) == ("news@example.com", "News")
    assert (saved.hourly_limit, saved.daily_limit) == (100, 1000)
    assert (saved.max_in_flight, saved.max_per_second) == (8, 14)
    assert saved.options == {"note": "eu relay"}
    assert saved.is_default is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"host": ""}, "host", id="no-host"),
        pytest.param({"port": 0}, "port", id="port-0"),
        pytest.param({"port": 70000}, "port", id="port-70000"),
        pytest.param({"security": "tls13"}, "security", id="bad-security"),
        pytest.param({"kind": "pigeon"}, "kind", id="bad-kind"),
        pytest.param({"timeout": 0}, "timeout", id="timeout-0"),
        pytest.param({"timeout": 26}, "timeout", id="timeout-past-the-request-budget"),
        pytest.param({"from_email": "not-an-email"}, "from_email", id="bad-from-email"),
        pytest.param({"name": ""}, "name", id="no-name"),
        pytest.param({"hourly_limit": -1}, "hourly_limit", id="negative-limit"),
        pytest.param({"max_in_flight": 0}, "max_in_flight", id="in-flight-0"),
        pytest.param({"max_in_flight": 257}, "max_in_flight", id="in-flight-257"),
        pytest.param({"max_per_second": 0}, "max_per_second", id="per-second-0"),
        pytest.param({"max_per_second": 100_001}, "max_per_second", id="per-second-100001"),
    ],
)
def test_provider_create_rejects_invalid_input_by_field(account, overrides, field):
    with pytest.raises(ValidationError) as excinfo:
        create(account, **overrides)

    assert field in excinfo.value.message_dict
    assert not Provider.objects.exists()


def test_provider_create_refuses_a_private_host_when_private_hosts_are_not_allowed(
    settings, account
):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    with pytest.raises(ValidationError) as excinfo:
        create(account, host="10.1.2.3")

    [message] = excinfo.value.message_dict["host"]
    assert "private or reserved address (10.1.2.3)" in message
    assert not Provider.objects.exists()


def test_provider_create_refuses_an_invalid_host_name(settings, account):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    with pytest.raises(ValidationError) as excinfo:
        create(account, host="x" * 64 + ".example")

    assert "not a valid host name" in excinfo.value.message_dict["host"][0]


def test_provider_create_accepts_a_public_host_when_private_hosts_are_not_allowed(
    settings, account
):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    provider = create(account, host="93.184.216.34")

    assert Provider.objects.get(pk=provider.pk).host == "93.184.216.34"


def test_provider_create_accepts_a_private_host_when_private_hosts_are_allowed(account):
    provider = create(account, host="10.1.2.3")

    assert Provider.objects.filter(pk=provider.pk).exists()


def test_provider_create_stores_credentials_encrypted_and_drops_empty_values(account):
    provider = create(account, credentials={"password": "s3cret-pw", "api_key": ""})

    stored = (
        Provider.objects.filter(pk=provider.pk)
        .values_list("credentials_encrypted", flat=True)
        .get()
    )
    assert "s3cret-pw" not in stored
    assert crypto.decrypt_json(stored) == {"password": "s3cret-pw"}
    assert Provider.objects.get(pk=provider.pk).credentials == {"password": "s3cret-pw"}


def test_provider_create_with_only_empty_credentials_stores_nothing(account):
    provider = create(account, credentials={"password": ""})

    assert (
        Provider.objects.filter(pk=provider.pk)
        .values_list("credentials_encrypted", flat=True)
        .get()
        == ""
    )


def test_provider_create_as_default_replaces_the_previous_default(account):
    first = create(account, name="First", is_default=True)
    second = create(account, name="Second", is_default=True)

    assert second.is_default is True
    assert provider_get_default(account=account) == second
    first.refresh_from_db()
    assert first.is_default is False


def test_provider_set_default_leaves_exactly_one_default_in_the_account(account, outsider_account):
    first = create(account, name="First", is_default=True)
    second = create(account, name="Second")
    third = create(account, name="Third")
    theirs = create(outsider_account, name="Theirs", is_default=True)

    returned = provider_set_default(provider=third)

    assert returned.is_default is True
    defaults = Provider.objects.filter(account=account, is_default=True)
    assert list(defaults) == [third]
    assert {p.pk for p in Provider.objects.filter(account=account)} == {
        first.pk,
        second.pk,
        third.pk,
    }
    theirs.refresh_from_db()
    assert theirs.is_default is True


def test_provider_set_default_on_the_current_default_keeps_it(account):
    provider = create(account, is_default=True)

    provider_set_default(provider=provider)

    assert list(Provider.objects.filter(is_default=True)) == [provider]


def test_provider_get_default_is_none_without_a_default(account):
    create(account)

    assert provider_get_default(account=account) is None


def test_the_database_refuses_a_second_default_created_in_one_account(account):
    create(account, name="First", is_default=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        Provider.objects.create(account=account, name="Second", host="127.0.0.1", is_default=True)

    assert Provider.objects.filter(account=account).count() == 1


def test_the_database_refuses_an_update_that_makes_two_defaults_in_one_account(account):
    create(account, name="First", is_default=True)
    create(account, name="Second")

    with pytest.raises(IntegrityError), transaction.atomic():
        Provider.objects.filter(account=account).update(is_default=True)

    assert Provider.objects.filter(account=account, is_default=True).count() == 1


def test_two_accounts_can_each_have_a_default(account, outsider_account):
    ours = create(account, is_default=True)
    theirs = create(outsider_account, is_default=True)

    assert provider_get_default(account=account) == ours
    assert provider_get_default(account=outsider_account) == theirs


def test_many_non_default_providers_may_share_an_account(account):
    for i in range(3):
        Provider.objects.create(account=account, name=f"Spare {i}", host="127.0.0.1")

    assert Provider.objects.filter(account=account, is_default=False).count() == 3


def test_the_factory_provider_is_the_default_of_its_account(account):
    provider = factories.make_provider(account, port=2525)

    assert provider_get_default(account=account) == provider
