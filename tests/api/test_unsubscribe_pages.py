"""The one-click unsubscribe pages (/u/<token>, api.views.unsubscribe) speak the recipient's
language by Accept-Language. The view is the API's, but its words come from the
dashboard's catalogues (locale/), which is what these tests check."""

import pytest
from django.test import Client

from api.models import Suppression
from api.unsubscribe import unsubscribe_token
from tests.factories import make_message

pytestmark = pytest.mark.django_db

PAGES = {
    "de": {
        "confirm": [
            '<html lang="de">',
            "<title>Abmelden</title>",
            "keine Mails mehr von diesem Absender",
            '<button type="submit">Abmelden</button>',
        ],
        "done": ["<h1>Abgemeldet</h1>", "rita@example.com erhält keine Mails mehr"],
    },
    "ja": {
        "confirm": [
            '<html lang="ja">',
            "<title>配信停止</title>",
            "ボタンを押してください。",
            '<button type="submit">配信停止</button>',
        ],
        "done": [
            "<h1>配信停止</h1>",
            "rita@example.com には、今後この差出人からのメールは届きません。",
        ],
    },
    "ko": {
        "confirm": ['<html lang="ko">', '<button type="submit">수신 거부</button>'],
        "done": ["rita@example.com 주소로는 이제 이 발신자의 메일이 오지 않습니다."],
    },
    "sw": {
        "confirm": ['<html lang="sw">', '<button type="submit">Jiondoe</button>'],
        "done": ["rita@example.com haitapokea tena barua kutoka kwa mtumaji huyu."],
    },
    "en": {
        "confirm": ['<html lang="en">', '<button type="submit">Unsubscribe</button>'],
        "done": ["rita@example.com will receive no more mail from this sender."],
    },
}


@pytest.fixture
def path(account) -> str:
    message = make_message(account, to_email="rita@example.com", unsubscribe=True)
    return f"/u/{unsubscribe_token(message.pk)}"


@pytest.mark.parametrize("language", PAGES)
def test_the_confirmation_page_speaks_the_browsers_language(path, language):
    response = Client().get(path, headers={"Accept-Language": f"{language},en;q=0.5"})

    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Language"] == language
    for text in PAGES[language]["confirm"]:
        assert text in html, text
    assert not Suppression.objects.exists()  # a GET changes nothing


@pytest.mark.parametrize("language", PAGES)
def test_the_page_after_the_button_speaks_it_too(path, language):
    response = Client().post(
        path, {"List-Unsubscribe": "One-Click"}, headers={"Accept-Language": language}
    )

    html = response.content.decode()
    assert response.status_code == 200
    for text in PAGES[language]["done"]:
        assert text in html, text
    assert Suppression.objects.get().email == "rita@example.com"


def test_a_language_without_a_catalogue_gets_english(path):
    response = Client().get(path, headers={"Accept-Language": "fr-CH, fr;q=0.9"})

    assert '<button type="submit">Unsubscribe</button>' in response.content.decode()
