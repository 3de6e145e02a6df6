"""providers.crypto: credentials encrypted at rest, readable across key rotation."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from providers import crypto
from providers.crypto import CredentialsUnreadableError
from providers.models import Provider

SECRETS = {"password": "correct horse battery staple"}


@pytest.fixture
def old_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def new_key() -> str:
    return Fernet.generate_key().decode()


def test_encrypt_then_decrypt_returns_the_same_secrets():
    token = crypto.encrypt_json(SECRETS)

    assert crypto.decrypt_json(token) == SECRETS


def test_encrypted_token_does_not_contain_the_plaintext():
    token = crypto.encrypt_json(SECRETS)

    assert "correct horse" not in token
    assert "password" not in token
    assert token.isascii()


def test_encrypting_twice_gives_different_tokens():
    assert crypto.encrypt_json(SECRETS) != crypto.encrypt_json(SECRETS)


def test_decrypt_of_an_empty_token_is_an_empty_dict():
    assert crypto.decrypt_json("") == {}


def test_configured_keys_are_used_instead_of_the_secret_key(settings, old_key):
    settings.MAILPASS_ENCRYPTION_KEYS = [old_key]
    token = crypto.encrypt_json(SECRETS)

    assert (
        Fernet(old_key.encode()).decrypt(token.encode())
        == b'{"password": "correct horse battery staple"}'
    )


def test_decrypt_reads_tokens_of_an_older_key_after_rotation(settings, old_key, new_key):
    settings.MAILPASS_ENCRYPTION_KEYS = [old_key]
    token = crypto.encrypt_json(SECRETS)

    settings.MAILPASS_ENCRYPTION_KEYS = [new_key, old_key]

    assert crypto.decrypt_json(token) == SECRETS


def test_encrypt_after_rotation_uses_the_newest_key(settings, old_key, new_key):
    settings.MAILPASS_ENCRYPTION_KEYS = [new_key, old_key]
    token = crypto.encrypt_json(SECRETS)

    settings.MAILPASS_ENCRYPTION_KEYS = [new_key]

    assert crypto.decrypt_json(token) == SECRETS


def test_decrypt_raises_credentials_unreadable_when_no_configured_key_fits(
    settings, old_key, new_key
):
    settings.MAILPASS_ENCRYPTION_KEYS = [old_key]
    token = crypto.encrypt_json(SECRETS)
    settings.MAILPASS_ENCRYPTION_KEYS = [new_key]

    with pytest.raises(CredentialsUnreadableError):
        crypto.decrypt_json(token)


def test_decrypt_raises_credentials_unreadable_when_the_secret_key_changed(settings):
    settings.MAILPASS_ENCRYPTION_KEYS = []
    token = crypto.encrypt_json(SECRETS)
    settings.SECRET_KEY = "a-different-secret-key"

    with pytest.raises(CredentialsUnreadableError):
        crypto.decrypt_json(token)


@pytest.mark.parametrize("token", ["garbage", "gAAAAABnot-really-a-fernet-token==", "tökén"])
def test_decrypt_raises_credentials_unreadable_for_a_malformed_token(token):
    with pytest.raises(CredentialsUnreadableError):
        crypto.decrypt_json(token)


def test_decrypt_raises_credentials_unreadable_for_a_tampered_token():
    token = crypto.encrypt_json(SECRETS)
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]

    with pytest.raises(CredentialsUnreadableError):
        crypto.decrypt_json(tampered)


@pytest.mark.parametrize("bad_key", ["not-a-fernet-key", "c2hvcnQ="])
def test_a_malformed_encryption_key_is_improperly_configured(settings, bad_key):
    settings.MAILPASS_ENCRYPTION_KEYS = [bad_key]

    with pytest.raises(ImproperlyConfigured, match="MAILPASS_ENCRYPTION_KEYS"):
        crypto.encrypt_json(SECRETS)


@pytest.mark.django_db
def test_provider_credentials_are_stored_only_as_ciphertext(account):
    provider = Provider(account=account, name="Relay", host="smtp.example.com", port=587)
    provider.credentials = SECRETS
    provider.save()

    stored = (
        Provider.objects.filter(pk=provider.pk)
        .values_list("credentials_encrypted", flat=True)
        .get()
    )
    assert stored
    assert "correct horse" not in stored
    assert crypto.decrypt_json(stored) == SECRETS
    assert Provider.objects.get(pk=provider.pk).credentials == SECRETS


@pytest.mark.django_db
def test_provider_with_empty_credentials_stores_nothing(account):
    provider = Provider(account=account, name="Relay", host="smtp.example.com", port=587)
    provider.credentials = {}
    provider.save()

    stored = (
        Provider.objects.filter(pk=provider.pk)
        .values_list("credentials_encrypted", flat=True)
        .get()
    )
    assert stored == ""
    assert Provider.objects.get(pk=provider.pk).credentials == {}


@pytest.mark.django_db
def test_provider_credentials_stay_readable_after_key_rotation(settings, account, old_key, new_key):
    settings.MAILPASS_ENCRYPTION_KEYS = [old_key]
    provider = Provider(account=account, name="Relay", host="smtp.example.com", port=587)
    provider.credentials = SECRETS
    provider.save()

    settings.MAILPASS_ENCRYPTION_KEYS = [new_key, old_key]

    assert Provider.objects.get(pk=provider.pk).credentials == SECRETS
