"""The API keys pages: list, create (the key shown once), revoke with confirmation."""

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from api.models import ApiKey
from api.selectors import api_key_get_active
from tests import factories

pytestmark = pytest.mark.django_db

KEYS_URL = reverse("dashboard:key-list")


def notes(response) -> list[str]:
    return [str(note) for note in get_messages(response.wsgi_request)]


def revoke_url(api_key: ApiKey) -> str:
    return reverse("dashboard:key-revoke", args=[api_key.pk])


def test_the_key_pages_send_anonymous_visitors_to_the_login_page(api_key):
    for url in (KEYS_URL, revoke_url(api_key[0])):
        response = Client().get(url)

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_the_list_shows_the_accounts_keys_and_not_another_accounts(
    owner_client, account, outsider_account
):
    own, _ = factories.make_api_key(account)
    other, _ = factories.make_api_key(outsider_account)
    ApiKey.objects.filter(pk=other.pk).update(name="outsider key")

    response = owner_client.get(KEYS_URL)

    assert response.status_code == 200
    content = response.content.decode()
    assert own.prefix in content
    assert "test key" in content
    assert ">mail<" in content  # its permission
    assert "never" in content  # last used
    assert other.prefix not in content
    assert "outsider key" not in content


def test_a_teammate_sees_the_keys_of_the_account_they_work_in(teammate, account):
    key, _ = factories.make_api_key(account)
    client = Client()
    client.force_login(teammate)

    assert key.prefix in client.get(KEYS_URL).content.decode()


def test_creating_a_key_shows_the_full_key_once_with_a_copy_button_and_its_bearer_usage(
    owner_client, owner, account
):
    response = owner_client.post(KEYS_URL, {"name": "Shop backend", "permissions": ["mail"]})

    assert response.status_code == 200
    key = ApiKey.objects.get(account=account, name="Shop backend")
    secret = response.context["new_secret"]
    assert secret.startswith(key.prefix)
    assert api_key_get_active(key=secret) == key
    assert (key.permissions, key.created_by) == (["mail"], owner)
    content = response.content.decode()
    assert f'<code id="new-key">{secret}</code>' in content
    assert 'data-copy="#new-key"' in content
    assert f"Authorization: Bearer {secret}" in content
    assert "will not be shown again" in content


def test_the_new_key_can_send_mail_through_the_api(owner_client, provider):
    response = owner_client.post(KEYS_URL, {"name": "App", "permissions": ["mail"]})
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {response.context['new_secret']}")

    sent = api.post(
        "/api/v1/mail/send", {"to": "a@example.com", "subject": "Hi", "text": "x"}, format="json"
    )

    assert sent.status_code == 200, sent.json()


def test_the_form_offers_the_templates_permission_next_to_mail_which_is_ticked(owner_client):
    html = owner_client.get(KEYS_URL).content.decode()

    assert re.search(r'<input type="checkbox" name="permissions" value="mail"[^>]* checked>', html)
    assert re.search(r'<input type="checkbox" name="permissions" value="templates"[^>]*>', html)
    assert 'value="templates" checked' not in html
    assert "templates: create, change and delete templates" in html
    assert "read and render templates" in html  # what mail allows of them


def test_a_key_with_the_templates_permission_manages_templates_through_the_api(owner_client):
    response = owner_client.post(KEYS_URL, {"name": "CMS", "permissions": ["templates"]})
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {response.context['new_secret']}")

    created = api.post(
        "/api/v1/templates",
        {"name": "Welcome", "alias": "welcome", "subject": "Hi", "text": "Hello"},
        format="json",
    )
    sent = api.post(
        "/api/v1/mail/send", {"to": "a@example.com", "subject": "Hi", "text": "x"}, format="json"
    )

    assert ApiKey.objects.get(name="CMS").permissions == ["templates"]
    assert created.status_code == 201, created.json()
    assert sent.status_code == 403  # mail is another permission


def test_the_full_key_is_shown_only_in_the_response_that_created_it(owner_client):
    created = owner_client.post(KEYS_URL, {"name": "Once", "permissions": ["mail"]})
    secret = created.context["new_secret"]

    again = owner_client.get(KEYS_URL)

    assert secret not in again.content.decode()
    assert ApiKey.objects.get(name="Once").prefix in again.content.decode()
    assert not any(secret in str(value) for value in owner_client.session.values())
    assert not any(secret in note for note in notes(created))


def test_the_key_pages_may_not_be_cached(owner_client):
    created = owner_client.post(KEYS_URL, {"name": "Cached?", "permissions": ["mail"]})
    listed = owner_client.get(KEYS_URL)

    assert "no-store" in created["Cache-Control"]
    assert "no-store" in listed["Cache-Control"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"name": "", "permissions": ["mail"]}, "name", id="no-name"),
        pytest.param({"name": "x" * 101, "permissions": ["mail"]}, "name", id="long-name"),
        pytest.param({"name": "No rights"}, "permissions", id="no-permission"),
        pytest.param({"name": "Root", "permissions": ["admin"]}, "permissions", id="unknown"),
    ],
)
def test_an_invalid_create_form_shows_its_errors_and_creates_nothing(owner_client, data, field):
    response = owner_client.post(KEYS_URL, data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert response.context["new_secret"] is None
    assert not ApiKey.objects.exists()


def test_revoking_asks_for_confirmation_on_a_page_of_its_own(owner_client, api_key):
    key, _ = api_key

    response = owner_client.get(revoke_url(key))

    assert response.status_code == 200
    content = response.content.decode()
    assert key.prefix in content
    assert 'method="post"' in content
    key.refresh_from_db()
    assert key.revoked_at is None


def test_revoking_a_key_refuses_it_at_the_api_and_keeps_it_listed_as_revoked(
    owner_client, api_key, api
):
    key, _ = api_key

    response = owner_client.post(revoke_url(key))

    assert response.status_code == 302
    assert response["Location"] == KEYS_URL
    assert notes(response) == [
        "The API key test key is revoked: requests with it are refused from now on."
    ]
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api.get("/api/v1/mail/status/x").status_code == 401
    listed = owner_client.get(KEYS_URL).content.decode()
    assert key.prefix in listed
    assert 'class="badge revoked"' in listed
    assert reverse("dashboard:key-revoke", args=[key.pk]) not in listed


def test_the_confirmation_page_of_a_revoked_key_offers_nothing_to_do(owner_client, api_key):
    key, _ = api_key
    owner_client.post(revoke_url(key))

    response = owner_client.get(revoke_url(key))

    assert response.status_code == 200
    assert "was revoked on" in response.content.decode()
    assert 'class="danger primary"' not in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_accounts_key_is_a_404(owner_client, outsider_account, method):
    other, _ = factories.make_api_key(outsider_account)

    response = getattr(owner_client, method)(revoke_url(other))

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_creating_and_revoking_keys_need_the_csrf_token(owner, api_key):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    assert client.post(KEYS_URL, {"name": "x", "permissions": ["mail"]}).status_code == 403
    assert client.post(revoke_url(api_key[0])).status_code == 403
    assert ApiKey.objects.get().revoked_at is None


def test_the_key_form_carries_the_csrf_token(owner_client):
    assert "csrfmiddlewaretoken" in owner_client.get(KEYS_URL).content.decode()


def test_creating_a_test_key_shows_an_mp_test_secret_once_and_a_test_badge(owner_client, account):
    response = owner_client.post(
        KEYS_URL, {"name": "Staging", "permissions": ["mail"], "mode": "test"}
    )

    assert response.status_code == 200
    content = response.content.decode()
    secret = re.search(r"mp_test_[A-Za-z0-9_-]+", content)
    assert secret is not None
    key = ApiKey.objects.get(account=account, name="Staging")
    assert key.test is True
    assert 'class="badge test"' in content
    assert api_key_get_active(key=secret.group(0)) == key
    assert secret.group(0) not in owner_client.get(KEYS_URL).content.decode()


def test_a_key_created_without_a_mode_is_live_and_has_no_test_badge(owner_client, account):
    response = owner_client.post(KEYS_URL, {"name": "Prod", "permissions": ["mail"]})

    assert "mp_live_" in response.content.decode()
    assert ApiKey.objects.get(account=account, name="Prod").test is False
    assert 'class="badge test"' not in owner_client.get(KEYS_URL).content.decode()


def test_the_form_offers_the_webhooks_permission_and_grants_it(owner_client, account):
    page = owner_client.get(KEYS_URL).content.decode()
    assert 'value="webhooks"' in page
    assert 'value="test"' in page

    owner_client.post(KEYS_URL, {"name": "Hooks", "permissions": ["webhooks"], "mode": "live"})

    assert ApiKey.objects.get(account=account, name="Hooks").permissions == ["webhooks"]


def test_the_form_offers_the_domains_permission_and_grants_it(owner_client, account):
    page = owner_client.get(KEYS_URL).content.decode()
    assert 'value="domains"' in page
    assert "domains: add, check, rotate and delete sender domains" in page

    owner_client.post(KEYS_URL, {"name": "DNS", "permissions": ["domains"], "mode": "live"})

    assert ApiKey.objects.get(account=account, name="DNS").permissions == ["domains"]
