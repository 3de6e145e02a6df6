import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Account

pytestmark = pytest.mark.django_db


def test_every_dashboard_page_requires_login():
    pages = ["/", "/keys/", "/providers/", "/messages/", "/suppressions/", "/docs/", "/settings/"]
    pages += ["/domains/", "/domains/new/"]
    for path in pages:
        response = Client().get(path)

        assert response.status_code == 302, path
        assert response["Location"].startswith("/accounts/login/"), path


def test_the_login_page_links_to_sign_up_when_it_is_open(signup_open):
    html = Client().get("/accounts/login/").content.decode()

    assert 'href="/signup/"' in html


SIGN_UP = {
    "email": "Ada@Example.com",
    "account_name": "Analytical Engines",
    "password1": "a-long-enough-passphrase",
    "password2": "a-long-enough-passphrase",
}


def confirmation_link(mail) -> str:
    [link] = re.findall(r"http://\S+/signup/confirm/\S+/", mail.body)
    return urlsplit(link).path


def test_signing_up_mails_a_link_that_creates_the_user_and_account(signup_open):
    client = Client()
    response = client.post("/signup/", SIGN_UP)

    assert response.status_code == 200
    assert "Check your inbox" in response.content.decode()
    assert not get_user_model().objects.exists()  # nothing can log in before the link
    [mail] = signup_open.sent()
    assert mail.to == ["ada@example.com"]
    assert mail.from_email == "mailpass@operator.example"
    link = confirmation_link(mail)

    assert client.get(link).status_code == 200  # a button: mail scanners do not use it up
    assert not get_user_model().objects.exists()
    response = client.post(link)

    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get()
    assert (user.username, user.email) == ("ada@example.com", "ada@example.com")
    assert user.check_password("a-long-enough-passphrase")
    assert Account.objects.get(owner=user).name == "Analytical Engines"
    assert client.get("/settings/").status_code == 200
    assert client.post(link).status_code == 404  # the link works once


def test_the_new_user_logs_in_with_the_email_address(signup_open):
    Client().post("/signup/", SIGN_UP)
    [mail] = signup_open.sent()
    Client().post(confirmation_link(mail))

    response = Client().post(
        "/accounts/login/",
        {"username": "ada@example.com", "password": "a-long-enough-passphrase"},
    )

    assert response.status_code == 302


def test_signing_up_again_replaces_the_first_link(signup_open):
    Client().post("/signup/", SIGN_UP)
    Client().post("/signup/", {**SIGN_UP, "account_name": "Second try"})
    first, second = signup_open.sent()

    assert Client().post(confirmation_link(first)).status_code == 404
    assert Client().post(confirmation_link(second)).status_code == 302
    assert Account.objects.get().name == "Second try"


def test_an_old_link_no_longer_works(signup_open, time_machine):
    time_machine.move_to(dt.datetime(2030, 1, 15, 10, 0, tzinfo=dt.UTC), tick=False)
    Client().post("/signup/", SIGN_UP)
    [mail] = signup_open.sent()
    time_machine.shift(dt.timedelta(days=2, minutes=1))

    assert Client().post(confirmation_link(mail)).status_code == 404
    assert not get_user_model().objects.exists()


def test_sign_up_refuses_mismatched_passwords_and_keeps_the_form(signup_open):
    response = Client().post("/signup/", {**SIGN_UP, "password2": "other-pass-12"})

    assert response.status_code == 200
    assert 'class="errorlist"' in response.content.decode()
    assert signup_open.sent() == []


def test_sign_up_is_closed_by_default(relay):
    assert Client().get("/signup/").status_code == 404
    assert Client().post("/signup/", SIGN_UP).status_code == 404
    assert 'href="/signup/"' not in Client().get("/accounts/login/").content.decode()


def test_sign_up_stays_closed_without_a_relay_to_mail_the_links(settings):
    settings.MAILPASS_SIGNUP_OPEN = True
    settings.EMAIL_HOST = ""

    assert Client().get("/signup/").status_code == 404


def test_account_settings_turn_tracking_on(owner_client, account, tracking_allowed):
    response = owner_client.post(
        "/settings/", {"name": "Renamed", "track_opens": "on", "track_clicks": ""}
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.track_opens, account.track_clicks) == ("Renamed", True, False)


def test_tracking_cannot_be_turned_on_without_the_operators_permission(owner_client, account):
    page = owner_client.get("/settings/").content.decode()
    owner_client.post("/settings/", {"name": "Renamed", "track_opens": "on", "track_clicks": "on"})

    assert "has not enabled open and click tracking" in page
    account.refresh_from_db()
    assert (account.name, account.track_opens, account.track_clicks) == ("Renamed", False, False)


def test_a_teammate_changes_the_shared_account(teammate, account, tracking_allowed):
    client = Client()
    client.force_login(teammate)

    client.post("/settings/", {"name": account.name, "track_clicks": "on"})

    account.refresh_from_db()
    assert account.track_clicks is True


def test_the_one_click_unsubscribe_checkbox_shows_with_its_help(owner_client, account):
    html = owner_client.get("/settings/").content.decode()

    assert '<input type="checkbox" name="unsubscribe"' in html
    assert '<label for="id_unsubscribe">One-click unsubscribe:</label>' in html
    assert "Adds List-Unsubscribe headers that Gmail and Yahoo show" in html


def test_the_one_click_unsubscribe_default_is_saved_on_and_off(owner_client, account):
    owner_client.post("/settings/", {"name": account.name, "unsubscribe": "on"})
    account.refresh_from_db()
    assert account.unsubscribe is True
    assert re.search(
        r'<input type="checkbox" name="unsubscribe"[^>]* checked>',
        owner_client.get("/settings/").content.decode(),
    )

    owner_client.post("/settings/", {"name": account.name})
    account.refresh_from_db()
    assert account.unsubscribe is False


def test_the_saved_default_adds_unsubscribe_headers_to_the_next_message(
    owner_client, account, api, provider, sink
):
    owner_client.post("/settings/", {"name": account.name, "unsubscribe": "on"})

    payload = {"to": "a@example.com", "subject": "Hi", "text": "Hi"}
    assert api.post("/api/v1/mail/send", payload, format="json").status_code == 200

    assert sink.received[0].message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_password_change_page_works(owner_client, owner):
    response = owner_client.post(
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


def test_the_browsers_accept_language_picks_the_dashboard_language(owner_client):
    html = owner_client.get("/settings/", HTTP_ACCEPT_LANGUAGE="ja,en;q=0.5").content.decode()

    assert '<html lang="ja">' in html


def test_the_language_switcher_remembers_the_choice(owner_client):
    response = owner_client.post("/i18n/setlang/", {"language": "sw", "next": "/settings/"})

    assert response.status_code == 302 and response["Location"] == "/settings/"
    assert '<html lang="sw">' in owner_client.get("/settings/").content.decode()


def test_the_language_switcher_offers_every_language_by_its_own_name(owner_client):
    html = owner_client.get("/settings/").content.decode()

    for name in ["English", "Deutsch", "日本語", "한국어", "Kiswahili"]:
        assert name in html


def test_api_errors_stay_english_whatever_the_browser_asks_for(api):
    response = api.post("/api/v1/mail/send", {}, format="json", HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 400
    assert "erforderlich" not in response.content.decode()
    assert "required" in response.content.decode()
    assert response["Content-Language"] == "en"


ONLY_VERIFIED = re.compile(r'<input type="checkbox" name="verified_domains_only"[^>]*>')


def test_the_only_verified_domains_setting_is_saved_on_and_off(owner_client, account):
    html = owner_client.get("/settings/").content.decode()
    assert "Only send from verified domains" in html
    assert "DOMAIN_NOT_VERIFIED" in html

    owner_client.post("/settings/", {"name": account.name, "verified_domains_only": "on"})
    account.refresh_from_db()
    assert account.verified_domains_only is True
    checkbox = ONLY_VERIFIED.search(owner_client.get("/settings/").content.decode())
    assert checkbox and " checked" in checkbox.group(0) and "disabled" not in checkbox.group(0)

    owner_client.post("/settings/", {"name": account.name})
    account.refresh_from_db()
    assert account.verified_domains_only is False
    checkbox = ONLY_VERIFIED.search(owner_client.get("/settings/").content.decode())
    assert checkbox and " checked" not in checkbox.group(0)


def test_the_operator_forcing_verified_domains_shows_it_on_and_fixed(
    owner_client, account, settings
):
    settings.MAILPASS_REQUIRE_VERIFIED_DOMAIN = True
    Account.objects.filter(pk=account.pk).update(verified_domains_only=False)

    html = owner_client.get("/settings/").content.decode()
    checkbox = ONLY_VERIFIED.search(html)
    assert checkbox and " checked" in checkbox.group(0) and " disabled" in checkbox.group(0)
    assert "the operator of this MailPass requires verified domains for every account" in html

    response = owner_client.post("/settings/", {"name": "Renamed"})

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "Renamed" and account.verified_domains_only is False  # its own
