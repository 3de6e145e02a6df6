"""API keys: shape, storage, Bearer authentication, revocation, permissions."""

import datetime as dt
import re
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from api.keys import key_digest
from api.models import ApiKey
from api.services import api_key_revoke
from tests import factories

pytestmark = pytest.mark.django_db

STATUS_URL = "/api/v1/mail/status/x"


def client_with(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def test_a_key_is_mp_live_plus_at_least_32_url_safe_characters(account):
    _, secret = factories.make_api_key(account)

    assert re.fullmatch(r"mp_live_[A-Za-z0-9_-]{32,}", secret)


def test_only_a_prefix_and_a_digest_are_stored(account):
    api_key, secret = factories.make_api_key(account)

    stored = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert secret not in str(stored)
    assert stored["digest"] == key_digest(secret)
    assert secret.startswith(stored["prefix"]) and len(stored["prefix"]) < len(secret) // 2


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Token mp_live_abc",
        "Basic dXNlcjpwYXNz",
        "Bearer mp_live_unknownunknownunknownunknownunknown",
        "Bearer not-even-a-key",
        "Bearer a b",
        "Bearer mp_live_ÿÿÿ",
    ],
)
def test_requests_without_a_valid_key_are_unauthorized(db, header):
    response = client_with(header).get(STATUS_URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_key_with_a_wrong_secret_but_a_real_prefix_is_unauthorized(account):
    _, secret = factories.make_api_key(account)
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")

    assert client_with(f"Bearer {forged}").get(STATUS_URL).status_code == 401


def test_the_bearer_scheme_is_case_insensitive(account):
    _, secret = factories.make_api_key(account)

    assert client_with(f"bearer {secret}").get(STATUS_URL).status_code == 404


def test_a_revoked_key_stops_working_on_the_next_request(account):
    api_key, secret = factories.make_api_key(account)
    client = client_with(f"Bearer {secret}")
    assert client.get(STATUS_URL).status_code == 404

    api_key_revoke(api_key=api_key)

    response = client.get(STATUS_URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_key_without_mail_permission_is_forbidden_on_every_mail_endpoint(account):
    _, secret = factories.make_api_key(account, permissions=[])
    client = client_with(f"Bearer {secret}")

    for response in [
        client.post("/api/v1/mail/send", {}, format="json"),
        client.post("/api/v1/mail/send-batch", {}, format="json"),
        client.get(STATUS_URL),
    ]:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "FORBIDDEN"


def test_last_used_at_is_recorded_at_most_once_a_minute(account):
    api_key, secret = factories.make_api_key(account)
    client = client_with(f"Bearer {secret}")
    start = dt.datetime(2026, 1, 30, 12, 0, tzinfo=dt.UTC)

    with time_machine.travel(start, tick=False):
        client.get(STATUS_URL)
    with time_machine.travel(start + dt.timedelta(seconds=30), tick=False):
        client.get(STATUS_URL)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == start

    with time_machine.travel(start + dt.timedelta(seconds=90), tick=False):
        client.get(STATUS_URL)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == start + dt.timedelta(seconds=90)


def test_create_api_key_prints_the_key_alone_on_the_last_line(owner):
    out = StringIO()

    call_command("create_api_key", "owner", "--name", "CI", stdout=out, stderr=StringIO())

    last_line = out.getvalue().strip().splitlines()[-1]
    assert re.fullmatch(r"mp_live_[A-Za-z0-9_-]{32,}", last_line)
    api_key = ApiKey.objects.get(name="CI")
    assert api_key.account.owner == owner
    assert client_with(f"Bearer {last_line}").get(STATUS_URL).status_code == 404


def test_create_api_key_for_an_unknown_user_fails_clearly(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_key", "ghost", stdout=StringIO(), stderr=StringIO())
