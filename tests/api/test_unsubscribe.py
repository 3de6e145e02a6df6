"""One-click unsubscribe (RFC 8058): the headers a message carries, what a POST to its URL
does (what Gmail and Yahoo send), that a GET changes nothing, and that a forged or altered
token changes nothing and reveals nothing."""

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from api.models import Message, MessageEvent, Suppression
from api.unsubscribe import unsubscribe_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.MAILPASS_PUBLIC_URL = "http://testserver"


def send(api, **fields):
    payload = {"to": "Rita@Example.com", "subject": "Hi", "text": "Hi", **fields}
    return api.post("/api/v1/mail/send", payload, format="json")


def unsubscribe_path(sink) -> str:
    header = sink.received[-1].message["List-Unsubscribe"]
    [url] = re.fullmatch(r"<(.+)>", header).groups()
    return urlsplit(url).path


def test_unsubscribe_true_adds_the_rfc_8058_headers(api, provider, sink):
    message_id = send(api, unsubscribe=True).json()["data"]["message_id"]

    mail = sink.received[0].message
    pk = Message.objects.get(message_id=message_id).pk
    assert mail["List-Unsubscribe"] == f"<http://testserver/u/{unsubscribe_token(pk)}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_account_default_applies_and_a_message_can_turn_it_off(api, provider, sink, account):
    account.unsubscribe = True
    account.save()

    send(api)
    send(api, unsubscribe=False)

    first, second = (received.message for received in sink.received)
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert second["List-Unsubscribe"] is None and second["List-Unsubscribe-Post"] is None


def test_no_unsubscribe_headers_unless_asked(api, provider, sink):
    send(api)

    assert sink.received[0].message["List-Unsubscribe"] is None


def test_a_callers_own_list_unsubscribe_replaces_ours(api, provider, sink):
    own = {"list-unsubscribe": "<mailto:leave@shop.example.com>"}

    send(api, unsubscribe=True, headers=own)

    mail = sink.received[0].message
    assert mail.get_all("List-Unsubscribe") == ["<mailto:leave@shop.example.com>"]
    assert mail["List-Unsubscribe-Post"] is None


def test_a_post_unsubscribes_the_recipient_once_and_answers_200_with_nothing_to_click(
    api, provider, sink, account
):
    send(api, unsubscribe=True)
    path = unsubscribe_path(sink)
    client = Client(HTTP_USER_AGENT="GoogleImageProxy")

    responses = [
        client.post(path, "List-Unsubscribe=One-Click", "application/x-www-form-urlencoded")
        for _ in range(2)
    ]

    assert [r.status_code for r in responses] == [200, 200]
    assert b"<form" not in responses[0].content and b"<button" not in responses[0].content
    [entry] = Suppression.objects.all()
    assert (entry.account, entry.email, entry.reason) == (
        account,
        "rita@example.com",
        "unsubscribed",
    )
    [event] = MessageEvent.objects.all()
    assert event.event_type == "unsubscribed" and event.user_agent == "GoogleImageProxy"
    assert event.message.pk == entry.message_id


def test_the_unsubscribed_event_shows_in_the_status_and_the_next_send_is_suppressed(
    api, provider, sink
):
    message_id = send(api, unsubscribe=True).json()["data"]["message_id"]
    Client().post(unsubscribe_path(sink))

    events = api.get(f"/api/v1/mail/status/{message_id}").json()["data"]["events"]
    again = send(api)

    assert [e["event_type"] for e in events] == ["unsubscribed"]
    assert (again.status_code, again.json()["error"]["code"]) == (422, "RECIPIENT_SUPPRESSED")
    assert len(sink.received) == 1


@pytest.mark.parametrize("method", ["get", "head"])
def test_a_get_shows_a_button_and_changes_nothing(api, provider, sink, method):
    send(api, unsubscribe=True)
    path = unsubscribe_path(sink)

    response = getattr(Client(), method)(path)

    assert response.status_code == 200
    if method == "get":
        page = response.content.decode()
        assert '<form method="post">' in page and "<button" in page
    assert not Suppression.objects.exists() and not MessageEvent.objects.exists()


def test_the_page_follows_accept_language(api, provider, sink):
    send(api, unsubscribe=True)

    page = Client(HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").get(unsubscribe_path(sink))

    assert '<html lang="de">' in page.content.decode()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        lambda token: "2" + token[1:] if token[0] != "2" else "3" + token[1:],  # other message
        lambda token: token.split(".")[0],  # no signature
        lambda token: token + "x",
        lambda token: "",
        lambda token: "../../admin",
    ],
    ids=["signature", "message", "unsigned", "longer", "empty", "path"],
)
def test_a_forged_or_altered_token_changes_nothing_and_reveals_nothing(api, provider, sink, tamper):
    send(api, unsubscribe=True)
    send(api, to="other@example.com", unsubscribe=True)
    token = unsubscribe_path(sink).rsplit("/", 1)[1]
    forged = f"/u/{tamper(token)}"

    answers = [Client().post(forged), Client().get(forged)]

    assert {r.status_code for r in answers} == {404}
    assert {r.content for r in answers} <= {b"Not found.", answers[0].content}
    assert not Suppression.objects.exists() and not MessageEvent.objects.exists()


def test_a_valid_token_of_a_deleted_message_is_a_404(api, provider, sink):
    send(api, unsubscribe=True)
    path = unsubscribe_path(sink)
    Message.objects.all().delete()

    assert Client().get(path).status_code == 404
    assert Client().post(path).status_code == 404
    assert not Suppression.objects.exists()


def test_other_methods_are_refused(api, provider, sink):
    send(api, unsubscribe=True)
    path = unsubscribe_path(sink)

    assert Client().put(path).status_code == 405
    assert Client().delete(path).status_code == 405
    assert not Suppression.objects.exists()
