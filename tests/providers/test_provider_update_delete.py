"""providers.services: provider_update edits under provider_create's rules and keeps secrets
it is not given; provider_delete leaves no default, no dangling fallback and keeps the log."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError

from api.errors import NoProviderError
from api.models import Message
from api.services import message_send
from providers import crypto
from providers.models import Provider
from providers.selectors import provider_get_default
from providers.services import (
    provider_create,
    provider_delete,
    provider_set_default,
    provider_update,
)
from tests import factories

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Relay",
    "host": "127.0.0.1",
    "port": 2525,
    "security": Provider.Security.NONE,
}
MAILGUN_SECRETS = {"api_key": "key-original", "webhook_signing_key": "signing-original"}


def create(account, **overrides) -> Provider:
    return provider_create(account=account, **{**VALID, **overrides})


def make_mailgun(account, **overrides) -> Provider:
    values = {
        "name": "Mailgun",
        "kind": Provider.Kind.MAILGUN,
        "credentials": dict(MAILGUN_SECRETS),
        "options": {"domain": "mg.example.com", "region": "eu"},
    }
    return provider_create(account=account, **{**values, **overrides})


def stored(provider: Provider) -> Provider:
    return Provider.objects.get(pk=provider.pk)


def stored_secrets(provider: Provider) -> dict[str, str]:
    encrypted = (
        Provider.objects.filter(pk=provider.pk)
        .values_list("credentials_encrypted", flat=True)
        .get()
    )
    return crypto.decrypt_json(encrypted)


# --- provider_update: what it changes -------------------------------------------------------


def test_provider_update_changes_every_allowed_field_and_saves_it(account):
    provider = create(account, credentials={"password": "pw"})
    other = create(account, name="Other")

    returned = provider_update(
        provider=provider,
        name="Renamed",
        host="127.0.0.2",
        port=465,
        username="relay-user",
        security=Provider.Security.SSL,
        timeout=20,
        options={"note": "eu relay"},
        fallbacks=[other.pk],
        from_email="news@example.com",
        from_name="News",
        hourly_limit=100,
        daily_limit=1000,
        max_in_flight=8,
        max_per_second=14,
    )

    assert returned is provider
    saved = stored(provider)
    assert (saved.name, saved.kind, saved.host, saved.port) == ("Renamed", "smtp", "127.0.0.2", 465)
    assert (saved.username, saved.security, saved.timeout) == ("relay-user", "ssl", 20)
    assert saved.options == {"note": "eu relay"}
    assert saved.fallbacks == [other.pk]
    assert (saved.from_email, saved.from_name) == ("news@example.com", "News")
    assert (saved.hourly_limit, saved.daily_limit) == (100, 1000)
    assert (saved.max_in_flight, saved.max_per_second) == (8, 14)
    assert (saved.account, saved.is_default) == (account, False)


def test_provider_update_changes_only_the_fields_it_is_given(account):
    provider = create(account, username="keep-me", from_email="keep@example.com", hourly_limit=5)

    provider_update(provider=provider, name="Renamed")

    saved = stored(provider)
    assert saved.name == "Renamed"
    assert (saved.username, saved.from_email, saved.hourly_limit) == (
        "keep-me",
        "keep@example.com",
        5,
    )
    assert (saved.host, saved.port) == ("127.0.0.1", 2525)


def test_provider_update_can_clear_the_limits(account):
    provider = create(account, hourly_limit=10, daily_limit=100)

    provider_update(provider=provider, hourly_limit=None, daily_limit=None)

    saved = stored(provider)
    assert (saved.hourly_limit, saved.daily_limit) == (None, None)
    assert saved.has_limits is False


def test_provider_update_can_clear_the_courtesy_caps(account):
    provider = create(account, max_in_flight=8, max_per_second=14)

    provider_update(provider=provider, max_in_flight=None, max_per_second=None)

    saved = stored(provider)
    assert (saved.max_in_flight, saved.max_per_second) == (None, None)


def test_provider_update_accepts_the_courtesy_caps_at_their_bounds(account):
    provider = create(account)

    provider_update(provider=provider, max_in_flight=256, max_per_second=100_000)
    assert (stored(provider).max_in_flight, stored(provider).max_per_second) == (256, 100_000)

    provider_update(provider=provider, max_in_flight=1, max_per_second=1)
    assert (stored(provider).max_in_flight, stored(provider).max_per_second) == (1, 1)


def test_provider_update_moves_updated_at(account):
    with time_machine.travel(dt.datetime(2024, 5, 10, 10, 0, tzinfo=dt.UTC), tick=False):
        provider = create(account)
    later = dt.datetime(2024, 5, 10, 11, 0, tzinfo=dt.UTC)

    with time_machine.travel(later, tick=False):
        provider_update(provider=provider, name="Renamed")

    assert stored(provider).updated_at == later


def test_provider_update_keeps_the_default_the_default(account):
    provider = create(account, is_default=True)

    provider_update(provider=provider, name="Renamed")

    assert provider_get_default(account=account) == provider
    assert stored(provider).is_default is True


def test_provider_update_does_not_make_a_provider_the_default(account):
    default = create(account, name="Default", is_default=True)
    spare = create(account, name="Spare")

    provider_update(provider=spare, name="Still spare")

    assert provider_get_default(account=account) == default
    assert stored(spare).is_default is False


def test_provider_update_of_a_mailgun_provider_changes_its_options(account):
    provider = make_mailgun(account)

    provider_update(provider=provider, options={"domain": "mail.example.org", "region": "us"})

    assert stored(provider).options == {"domain": "mail.example.org", "region": "us"}
    assert stored_secrets(provider) == MAILGUN_SECRETS


# --- provider_update: the rules of provider_create ------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"host": ""}, "host", id="no-host"),
        pytest.param({"port": 0}, "port", id="port-0"),
        pytest.param({"port": 70000}, "port", id="port-70000"),
        pytest.param({"security": "tls13"}, "security", id="bad-security"),
        pytest.param({"timeout": 0}, "timeout", id="timeout-0"),
        pytest.param({"timeout": 301}, "timeout", id="timeout-301"),
        pytest.param({"timeout": 26}, "timeout", id="timeout-past-the-request-budget"),
        pytest.param({"from_email": "not-an-email"}, "from_email", id="bad-from-email"),
        pytest.param({"name": ""}, "name", id="no-name"),
        pytest.param({"hourly_limit": -1}, "hourly_limit", id="negative-limit"),
        pytest.param({"max_in_flight": 0}, "max_in_flight", id="in-flight-0"),
        pytest.param({"max_in_flight": 257}, "max_in_flight", id="in-flight-257"),
        pytest.param({"max_per_second": 0}, "max_per_second", id="per-second-0"),
        pytest.param({"max_per_second": 100_001}, "max_per_second", id="per-second-100001"),
        pytest.param({"max_per_second": "fast"}, "max_per_second", id="per-second-not-a-number"),
        pytest.param({"fallbacks": "1,2"}, "fallbacks", id="fallbacks-not-a-list"),
        pytest.param({"fallbacks": [999_999]}, "fallbacks", id="unknown-fallback"),
    ],
)
def test_provider_update_rejects_invalid_input_by_field_and_saves_nothing(account, changes, field):
    provider = create(account)
    before = Provider.objects.filter(pk=provider.pk).values().get()

    with pytest.raises(ValidationError) as excinfo:
        provider_update(provider=provider, **changes)

    assert field in excinfo.value.message_dict
    assert Provider.objects.filter(pk=provider.pk).values().get() == before


def test_provider_update_refuses_a_private_host_when_private_hosts_are_not_allowed(
    settings, account
):
    provider = create(account, host="93.184.216.34")
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    with pytest.raises(ValidationError) as excinfo:
        provider_update(provider=provider, host="10.1.2.3")

    [message] = excinfo.value.message_dict["host"]
    assert "private or reserved address (10.1.2.3)" in message
    assert stored(provider).host == "93.184.216.34"


def test_provider_update_refuses_loopback_when_private_hosts_are_not_allowed(settings, account):
    provider = create(account, host="93.184.216.34")
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    with pytest.raises(ValidationError) as excinfo:
        provider_update(provider=provider, host="127.0.0.1")

    assert "host" in excinfo.value.message_dict
    assert stored(provider).host == "93.184.216.34"


def test_provider_update_accepts_a_public_host_when_private_hosts_are_not_allowed(
    settings, account
):
    provider = create(account)
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    provider_update(provider=provider, host="93.184.216.34")

    assert stored(provider).host == "93.184.216.34"


def test_provider_update_accepts_a_private_host_when_private_hosts_are_allowed(account):
    provider = create(account)

    provider_update(provider=provider, host="10.1.2.3")

    assert stored(provider).host == "10.1.2.3"


def test_provider_update_refuses_an_invalid_host_name(settings, account):
    provider = create(account)
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    with pytest.raises(ValidationError) as excinfo:
        provider_update(provider=provider, host="x" * 64 + ".example")

    assert "not a valid host name" in excinfo.value.message_dict["host"][0]
    assert stored(provider).host == "127.0.0.1"


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        pytest.param({"region": "eu"}, "domain", "needs its sending domain", id="no-domain"),
        pytest.param(
            {"domain": "not a domain", "region": "eu"}, "domain", "not a domain", id="bad-domain"
        ),
        pytest.param(
            {"domain": "mg.example.com", "region": "mars"}, "region", "us or eu", id="bad-region"
        ),
    ],
)
def test_provider_update_applies_the_kinds_rules_and_saves_nothing(account, options, field, words):
    provider = make_mailgun(account)

    with pytest.raises(ValidationError) as excinfo:
        provider_update(provider=provider, options=options)

    assert words in excinfo.value.message_dict[field][0]
    assert stored(provider).options == {"domain": "mg.example.com", "region": "eu"}


def test_provider_update_refuses_the_provider_as_its_own_fallback(account):
    provider = create(account)

    with pytest.raises(ValidationError) as excinfo:
        provider_update(provider=provider, fallbacks=[provider.pk])

    assert excinfo.value.message_dict["fallbacks"] == ["A provider cannot be its own fallback."]
    assert stored(provider).fallbacks == []


def test_provider_update_refuses_a_fallback_repeated(account):
    provider = create(account)
    other = create(account, name="Other")

    with pytest.raises(ValidationError) as excinfo:
        provider_update(provider=provider, fallbacks=[other.pk, other.pk])

    assert excinfo.value.message_dict["fallbacks"] == ["Each fallback once."]
    assert stored(provider).fallbacks == []


def test_provider_update_refuses_another_accounts_provider_as_a_fallback(account, outsider_account):
    provider = create(account)
    theirs = create(outsider_account, name="Theirs")

    with pytest.raises(ValidationError) as excinfo:
        provider_update(provider=provider, fallbacks=[theirs.pk])

    assert excinfo.value.message_dict["fallbacks"] == [
        f"No provider {theirs.pk} in this account to fall back on."
    ]
    assert stored(provider).fallbacks == []


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"kind": Provider.Kind.MAILGUN}, id="kind"),
        pytest.param({"is_default": True}, id="is_default"),
        pytest.param({"account": None}, id="account"),
        pytest.param({"credentials_encrypted": ""}, id="credentials_encrypted"),
        pytest.param({"created_at": None}, id="created_at"),
        pytest.param({"colour": "blue"}, id="not-a-column"),
    ],
)
def test_provider_update_refuses_fields_it_may_not_change_before_touching_anything(
    account, changes
):
    provider = create(account, credentials={"password": "pw"})
    before = Provider.objects.filter(pk=provider.pk).values().get()

    with pytest.raises(TypeError, match=f"cannot change {next(iter(changes))}"):
        provider_update(provider=provider, name="Renamed", **changes)

    assert provider.name == "Relay"  # not even the instance was changed
    assert Provider.objects.filter(pk=provider.pk).values().get() == before


def test_provider_update_names_every_field_it_refuses(account):
    provider = create(account)

    with pytest.raises(TypeError, match="cannot change account, kind"):
        provider_update(provider=provider, kind=Provider.Kind.SMTP, account=account)


def test_provider_update_cannot_move_a_provider_to_another_account(account, outsider_account):
    provider = create(account)

    with pytest.raises(TypeError):
        provider_update(provider=provider, account=outsider_account)

    assert stored(provider).account == account


# --- provider_update: secrets -----------------------------------------------------------------


def test_provider_update_without_credentials_keeps_the_stored_password(account):
    provider = create(account, credentials={"password": "s3cret-pw"})

    provider_update(provider=provider, username="new-user")

    assert stored_secrets(provider) == {"password": "s3cret-pw"}


def test_provider_update_with_an_empty_password_keeps_the_stored_one(account):
    provider = create(account, credentials={"password": "s3cret-pw"})

    provider_update(provider=provider, credentials={"password": ""}, name="Renamed")

    assert stored_secrets(provider) == {"password": "s3cret-pw"}
    assert stored(provider).name == "Renamed"


def test_provider_update_with_a_new_password_replaces_the_stored_one_encrypted(account):
    provider = create(account, credentials={"password": "old-pw"})

    provider_update(provider=provider, credentials={"password": "n3w-pw"})

    encrypted = (
        Provider.objects.filter(pk=provider.pk)
        .values_list("credentials_encrypted", flat=True)
        .get()
    )
    assert "n3w-pw" not in encrypted
    assert crypto.decrypt_json(encrypted) == {"password": "n3w-pw"}
    assert stored(provider).credentials == {"password": "n3w-pw"}


def test_provider_update_gives_a_provider_without_a_password_one(account):
    provider = create(account)

    provider_update(provider=provider, credentials={"password": "first-pw"})

    assert stored_secrets(provider) == {"password": "first-pw"}


def test_provider_update_replaces_only_the_secrets_it_is_given(account):
    provider = make_mailgun(account)

    provider_update(
        provider=provider, credentials={"api_key": "key-new", "webhook_signing_key": ""}
    )

    assert stored_secrets(provider) == {
        "api_key": "key-new",
        "webhook_signing_key": "signing-original",
    }


def test_provider_update_of_a_mailgun_provider_without_credentials_keeps_its_api_key(account):
    provider = make_mailgun(account)

    provider_update(provider=provider, name="Renamed", credentials={})

    assert stored_secrets(provider) == MAILGUN_SECRETS
    assert stored(provider).name == "Renamed"


def test_provider_update_that_fails_validation_keeps_the_stored_secrets(account):
    provider = create(account, credentials={"password": "old-pw"})

    with pytest.raises(ValidationError):
        provider_update(provider=provider, credentials={"password": "n3w-pw"}, port=0)

    saved = stored(provider)
    assert saved.port == 2525
    assert saved.credentials == {"password": "old-pw"}


def test_provider_update_checks_the_kinds_rules_against_the_merged_secrets(account):
    provider = make_mailgun(account)

    with pytest.raises(ValidationError) as excinfo:
        provider_update(provider=provider, credentials={"webhook_secret": "no-colon"})

    assert excinfo.value.message_dict["webhook_secret"] == ["Write it as user:password."]
    assert stored_secrets(provider) == MAILGUN_SECRETS


# --- provider_delete ----------------------------------------------------------------------------


def test_provider_delete_of_the_default_says_so_and_leaves_the_account_without_one(account):
    default = create(account, name="Default", is_default=True)
    spare = create(account, name="Spare")

    was_default = provider_delete(provider=default)

    assert was_default is True
    assert not Provider.objects.filter(pk=default.pk).exists()
    assert provider_get_default(account=account) is None
    assert stored(spare).is_default is False  # nobody was promoted


def test_after_the_default_is_deleted_sending_needs_a_new_default(account):
    default = create(account, is_default=True)
    create(account, name="Spare")
    provider_delete(provider=default)

    with pytest.raises(NoProviderError):
        message_send(
            account=account,
            api_key=None,
            data={"to": "user@example.com", "subject": "Hi", "text": "x"},
        )

    assert not Message.objects.exists()


def test_provider_delete_of_another_provider_says_it_was_not_the_default(account):
    default = create(account, name="Default", is_default=True)
    spare = create(account, name="Spare")

    was_default = provider_delete(provider=spare)

    assert was_default is False
    assert not Provider.objects.filter(pk=spare.pk).exists()
    assert provider_get_default(account=account) == default


def test_provider_delete_reads_whether_it_was_the_default_from_the_database(account):
    provider = create(account, name="Made default elsewhere")
    provider_set_default(provider=Provider.objects.get(pk=provider.pk))
    assert provider.is_default is False  # this instance did not see it

    assert provider_delete(provider=provider) is True
    assert provider_get_default(account=account) is None


def test_provider_delete_removes_its_id_from_the_other_providers_fallbacks(account):
    doomed = create(account, name="Doomed")
    keeper = create(account, name="Keeper")
    first = create(account, name="First", fallbacks=[doomed.pk, keeper.pk])
    last = create(account, name="Last", fallbacks=[keeper.pk, doomed.pk])
    only = create(account, name="Only", fallbacks=[doomed.pk])
    untouched = create(account, name="Untouched", fallbacks=[keeper.pk])

    provider_delete(provider=doomed)

    assert stored(first).fallbacks == [keeper.pk]
    assert stored(last).fallbacks == [keeper.pk]
    assert stored(only).fallbacks == []
    assert stored(untouched).fallbacks == [keeper.pk]


def test_provider_delete_of_a_provider_with_fallbacks_leaves_them_alone(account):
    backup = create(account, name="Backup")
    primary = create(account, name="Primary", fallbacks=[backup.pk], is_default=True)

    provider_delete(provider=primary)

    assert stored(backup).fallbacks == []
    assert Provider.objects.filter(account=account).count() == 1


def test_provider_delete_keeps_its_messages_without_a_provider(account):
    doomed = create(account, name="Doomed")
    other = create(account, name="Other")
    sent = factories.make_message(account, provider=doomed, status=Message.Status.SENT)
    queued = factories.make_message(account, provider=doomed)
    elsewhere = factories.make_message(account, provider=other)

    provider_delete(provider=doomed)

    assert Message.objects.count() == 3
    sent.refresh_from_db()
    queued.refresh_from_db()
    elsewhere.refresh_from_db()
    assert (sent.provider_id, sent.status) == (None, Message.Status.SENT)
    assert (queued.provider_id, queued.status) == (None, Message.Status.QUEUED)
    assert elsewhere.provider_id == other.pk


def test_provider_delete_leaves_another_accounts_providers_alone(account, outsider_account):
    mine = create(account, name="Mine", is_default=True)
    theirs_backup = create(outsider_account, name="Theirs backup")
    theirs = create(outsider_account, name="Theirs", is_default=True, fallbacks=[theirs_backup.pk])

    assert provider_delete(provider=mine) is True

    assert provider_get_default(account=outsider_account) == theirs
    assert stored(theirs).fallbacks == [theirs_backup.pk]
    assert Provider.objects.filter(account=outsider_account).count() == 2


def test_provider_delete_of_the_last_provider_leaves_an_empty_account(account):
    provider = create(account, is_default=True)

    assert provider_delete(provider=provider) is True

    assert not Provider.objects.filter(account=account).exists()


def test_update_refuses_a_boolean_as_a_fallback_id(account, provider):
    other = factories.make_provider(account, port=provider.port, name="Other")

    with pytest.raises(ValidationError):
        provider_update(provider=other, fallbacks=[True])
