import pytest

from api import services
from api.models import Suppression

pytestmark = pytest.mark.django_db


def test_the_suppressions_page_lists_only_the_accounts_entries(
    owner_client, account, outsider_account
):
    services.suppression_add(account=account, email="bounced@example.com", reason="bounced")
    services.suppression_add(account=outsider_account, email="theirs@example.com")

    html = owner_client.get("/suppressions/").content.decode()

    assert "bounced@example.com" in html and "theirs@example.com" not in html


def test_the_suppressions_page_finds_one_address_case_insensitively(owner_client, account):
    services.suppression_add(account=account, email="one@example.com")
    services.suppression_add(account=account, email="two@example.com")

    html = owner_client.get("/suppressions/", {"email": "ONE@example.com"}).content.decode()

    assert "one@example.com" in html and "two@example.com" not in html


def test_removing_a_suppression_lets_mail_go_out_again(owner_client, account):
    services.suppression_add(account=account, email="bounced@example.com", reason="bounced")

    response = owner_client.post(
        "/suppressions/delete/", {"email": "bounced@example.com"}, follow=True
    )

    assert "is off the suppression list" in response.content.decode()
    assert not Suppression.objects.filter(account=account).exists()


def test_another_accounts_suppression_cannot_be_removed(owner_client, outsider_account):
    services.suppression_add(account=outsider_account, email="theirs@example.com")

    response = owner_client.post(
        "/suppressions/delete/", {"email": "theirs@example.com"}, follow=True
    )

    assert "was not on the suppression list" in response.content.decode()
    assert Suppression.objects.filter(email="theirs@example.com").exists()


def test_removing_needs_a_post(owner_client):
    assert owner_client.get("/suppressions/delete/").status_code == 405


def test_the_suppressions_page_shows_live_entries_by_default_and_test_ones_with_the_switch(
    owner_client, account
):
    services.suppression_add(account=account, email="live@example.com")
    services.suppression_add(account=account, email="sandbox@example.com", test=True)

    live = owner_client.get("/suppressions/").content.decode()
    test = owner_client.get("/suppressions/", {"mode": "test"}).content.decode()

    assert "live@example.com" in live and "sandbox@example.com" not in live
    assert "sandbox@example.com" in test and "live@example.com" not in test


def test_removing_a_test_suppression_leaves_the_live_one(owner_client, account):
    services.suppression_add(account=account, email="both@example.com")
    services.suppression_add(account=account, email="both@example.com", test=True)

    response = owner_client.post(
        "/suppressions/delete/", {"email": "both@example.com", "mode": "test"}
    )

    assert response["Location"] == "/suppressions/?mode=test"
    assert list(Suppression.objects.filter(account=account).values_list("test", flat=True)) == [
        False
    ]
