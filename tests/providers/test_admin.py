"""The admin's provider pages: the courtesy caps are shown and edited; the slots and pace
rows the workers keep are shown and never edited."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from providers import courtesy
from providers.models import Provider, ProviderPace, ProviderSlot
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def capped(account) -> Provider:
    return factories.make_provider(account, port=2525, max_in_flight=8, max_per_second=14)


def test_the_provider_list_shows_the_courtesy_caps(admin_client, capped):
    content = admin_client.get(reverse("admin:providers_provider_changelist")).content.decode()

    assert '<td class="field-max_in_flight">8</td>' in content
    assert '<td class="field-max_per_second">14</td>' in content


def test_the_provider_form_edits_the_courtesy_caps(admin_client, capped):
    page = reverse("admin:providers_provider_change", args=[capped.pk])
    data = {
        "account": capped.account_id,
        "name": capped.name,
        "kind": capped.kind,
        "host": capped.host,
        "port": capped.port,
        "security": capped.security,
        "timeout": capped.timeout,
        "options": "{}",
        "fallbacks": "[]",
        "max_in_flight": "20",
        "max_per_second": "",
    }

    response = admin_client.post(page, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    capped.refresh_from_db()
    assert (capped.max_in_flight, capped.max_per_second) == (20, None)


def test_slots_and_pace_are_listed_but_cannot_be_added_or_changed(admin_client, capped):
    courtesy.lease_slots(provider=capped, holder=uuid.uuid4(), wanted=2)
    pace = ProviderPace.objects.create(provider=capped, next_at=timezone.now())
    slot = ProviderSlot.objects.filter(provider=capped).first()

    for model, obj in (("providerslot", slot), ("providerpace", pace)):
        listed = admin_client.get(reverse(f"admin:providers_{model}_changelist"))
        assert listed.status_code == 200
        assert admin_client.get(reverse(f"admin:providers_{model}_add")).status_code == 403
        change = reverse(f"admin:providers_{model}_change", args=[obj.pk])
        assert admin_client.get(change).context["has_change_permission"] is False
        assert admin_client.post(change, {}).status_code == 403


def test_a_provider_with_slots_and_pace_can_still_be_deleted(admin_client, capped):
    courtesy.lease_slots(provider=capped, holder=uuid.uuid4(), wanted=2)
    courtesy.take_turn(provider=capped)

    page = reverse("admin:providers_provider_delete", args=[capped.pk])
    response = admin_client.post(page, {"post": "yes"})

    assert response.status_code == 302
    assert not Provider.objects.filter(pk=capped.pk).exists()
    assert not ProviderSlot.objects.exists()
    assert not ProviderPace.objects.exists()
