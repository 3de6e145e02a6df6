"""providers.kinds: one complete row per Provider.Kind, which every other module reads."""

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.module_loading import import_string
from django.views import View

from providers.kinds import ALL_FIELDS, KINDS, spec_for
from providers.models import Provider
from tests.providers.esp_servers import AUTH_ERROR_MESSAGES, ESP_KINDS


def test_every_kind_has_one_row_in_the_models_order():
    assert list(KINDS) == Provider.Kind.values


@pytest.mark.parametrize("kind", Provider.Kind.values)
def test_a_rows_backend_options_builder_and_check_are_there_to_import(kind):
    spec = spec_for(kind)

    assert issubclass(import_string(spec.backend), BaseEmailBackend)
    assert callable(import_string(spec.options))
    assert callable(import_string(spec.check))


@pytest.mark.parametrize("kind", [kind for kind, spec in KINDS.items() if spec.webhook])
def test_a_rows_webhook_view_takes_secrets_the_kind_has(kind):
    webhook = spec_for(kind).webhook
    secrets = {field.name for field in spec_for(kind).fields if field.secret}

    assert issubclass(import_string(webhook.view), View)
    assert "webhook_secret" in webhook.credentials
    assert set(webhook.credentials) <= secrets


@pytest.mark.parametrize("kind", Provider.Kind.values)
def test_a_row_has_a_description_and_words_for_each_field(kind):
    spec = spec_for(kind)

    assert str(spec.description)
    for field in spec.fields:
        assert str(field.label) and str(field.noun), field.name


def test_a_field_name_is_secret_or_not_whatever_the_kind():
    for name in {field.name for field in ALL_FIELDS}:
        secret = {f.secret for spec in KINDS.values() for f in spec.fields if f.name == name}
        assert len(secret) == 1, name


def test_every_esp_kind_has_a_fake_api_for_the_tests_to_send_to():
    # An ESP row needs its loopback server in tests.providers.esp_servers: the shared
    # delivery, deadline, connection-check and SSRF tests run for every ESP kind there.
    esps = {kind for kind, spec in KINDS.items() if spec.backend.startswith("anymail.")}

    assert esps == set(ESP_KINDS) == set(AUTH_ERROR_MESSAGES)
