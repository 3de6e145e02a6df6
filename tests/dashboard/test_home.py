import pytest
from django.test import Client

from api import services
from api.models import Suppression
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_dashboard_requires_login():
    response = Client().get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_dashboard_shows_only_the_users_own_account(owner, account, outsider_account, sink):
    factories.make_provider(account, port=sink.port, name="Ours")
    factories.make_provider(outsider_account, port=sink.port, name="Theirs")
    client = Client()
    client.force_login(owner)

    html = client.get("/").content.decode()

    assert "Ours" in html and "Theirs" not in html


def test_a_teammate_sees_the_same_account(teammate, account, sink):
    factories.make_provider(account, port=sink.port, name="Shared relay")
    client = Client()
    client.force_login(teammate)

    assert "Shared relay" in client.get("/").content.decode()


def test_the_login_page_renders(db):
    assert Client().get("/accounts/login/").status_code == 200


def test_the_dashboard_lists_suppressions_and_removes_one(owner, account, outsider_account):
    services.suppression_add(account=account, email="bounced@example.com", reason="bounced")
    services.suppression_add(account=outsider_account, email="theirs@example.com")
    client = Client()
    client.force_login(owner)

    html = client.get("/").content.decode()
    assert "bounced@example.com" in html and "theirs@example.com" not in html

    response = client.post("/suppressions/delete", {"email": "bounced@example.com"}, follow=True)
    assert "is off the suppression list" in response.content.decode()
    assert not Suppression.objects.filter(account=account).exists()


def test_the_dashboard_cannot_remove_another_accounts_suppression(owner, outsider_account):
    services.suppression_add(account=outsider_account, email="theirs@example.com")
    client = Client()
    client.force_login(owner)

    response = client.post("/suppressions/delete", {"email": "theirs@example.com"}, follow=True)

    assert "was not on the suppression list" in response.content.decode()
    assert Suppression.objects.filter(email="theirs@example.com").exists()


def test_the_dashboard_shows_each_esp_providers_webhook_url(settings, owner, account):
    from api.webhooks import webhook_token
    from providers.models import Provider

    settings.MAILPASS_PUBLIC_URL = "https://mail.example.com"
    provider = Provider(account=account, name="Mailgun EU", kind="mailgun", options={})
    provider.credentials = {"api_key": "k"}
    provider.save()
    client = Client()
    client.force_login(owner)

    html = client.get("/").content.decode()

    assert f"https://mail.example.com/webhooks/{webhook_token(provider)}" in html
