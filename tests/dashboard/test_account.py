import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Account

pytestmark = pytest.mark.django_db


def test_every_dashboard_page_requires_login():
    pages = ["/", "/keys/", "/providers/", "/messages/", "/suppressions/", "/docs/", "/settings/"]
    for path in pages:
        response = Client().get(path)

        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/"), path


def test_the_login_page_links_to_sign_up():
    html = Client().get("/accounts/login/").content.decode()

    assert 'href="/signup/"' in html


def test_signing_up_creates_a_user_and_their_account_and_logs_in():
    client = Client()
    response = client.post(
        "/signup/",
        {
            "username": "ada",
            "email": "ada@example.com",
            "account_name": "Analytical Engines",
            "password1": "a-long-enough-passphrase",
            "password2": "a-long-enough-passphrase",
        },
    )

    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get(username="ada")
    assert Account.objects.get(owner=user).name == "Analytical Engines"
    assert client.get("/settings/").status_code == 200


def test_sign_up_refuses_mismatched_passwords_and_keeps_the_form():
    response = Client().post(
        "/signup/",
        {"username": "ada", "password1": "a-long-enough-passphrase", "password2": "other-pass-12"},
    )

    assert response.status_code == 200
    assert 'class="errorlist"' in response.content.decode()
    assert not get_user_model().objects.filter(username="ada").exists()


def test_sign_up_is_a_404_when_the_operator_closed_it(settings):
    settings.MAILPASS_SIGNUP_OPEN = False

    assert Client().get("/signup/").status_code == 404
    assert 'href="/signup/"' not in Client().get("/accounts/login/").content.decode()


def test_account_settings_turn_tracking_on(owner, account):
    client = Client()
    client.force_login(owner)

    response = client.post(
        "/settings/", {"name": "Renamed", "track_opens": "on", "track_clicks": ""}
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.track_opens, account.track_clicks) == ("Renamed", True, False)


def test_a_teammate_changes_the_shared_account(teammate, account):
    client = Client()
    client.force_login(teammate)

    client.post("/settings/", {"name": account.name, "track_clicks": "on"})

    account.refresh_from_db()
    assert account.track_clicks is True


def test_the_password_change_page_works(owner):
    client = Client()
    client.force_login(owner)

    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": "pw-owner",
            "new_password1": "another-long-passphrase",
            "new_password2": "another-long-passphrase",
        },
    )

    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("another-long-passphrase")


def test_the_browsers_accept_language_picks_the_dashboard_language(owner):
    client = Client()
    client.force_login(owner)

    html = client.get("/settings/", HTTP_ACCEPT_LANGUAGE="ja,en;q=0.5").content.decode()

    assert '<html lang="ja">' in html


def test_the_language_switcher_remembers_the_choice(owner):
    client = Client()
    client.force_login(owner)

    response = client.post("/i18n/setlang/", {"language": "sw", "next": "/settings/"})

    assert response.status_code == 302 and response["Location"] == "/settings/"
    assert '<html lang="sw">' in client.get("/settings/").content.decode()


def test_the_language_switcher_offers_every_language_by_its_own_name(owner):
    client = Client()
    client.force_login(owner)

    html = client.get("/settings/").content.decode()

    for name in ["English", "Deutsch", "日本語", "한국어", "Kiswahili"]:
        assert name in html


def test_api_errors_stay_english_whatever_the_browser_asks_for(api):
    response = api.post("/api/v1/mail/send", {}, format="json", HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 400
    assert "erforderlich" not in response.content.decode()
    assert "required" in response.content.decode()
    assert response["Content-Language"] == "en"
