"""Suite 7, unsubscribe half: a tampered one-click unsubscribe token unsubscribes nobody,
records nothing and reveals nothing.

The token starts from the real one in the List-Unsubscribe header of a message as it
arrived at the SMTP sink. Every single-character change, truncation and extension, the
encoding tricks and id swaps of the tracking-token suite, the same message's open token
(another purpose, the same key), another account's real token with our id, and random
strings are each POSTed (what a mailbox provider sends) and fetched: every one is the same
plain 404, and no suppression or event appears.
"""

import random
import re
from urllib.parse import quote, urlsplit

import pytest
from django.test import Client, RequestFactory

from api import tracking
from api.models import MessageEvent, Suppression
from api.unsubscribe import unsubscribe_token
from api.views import unsubscribe
from tests import factories
from tests.security import figures
from tests.security.test_tracking_tamper import (
    OTHER_PK,
    _changes,
    _encoding_tricks,
    _has_surrogate,
    _id_swaps,
    _random_token,
)

pytestmark = pytest.mark.django_db

SUITE = "07 tracking and webhooks: unsubscribe tokens"
RANDOM_CASES = 1_000


@pytest.fixture
def tokens(settings, api, provider, sink, outsider_account) -> dict[str, str]:
    settings.MAILPASS_PUBLIC_URL = "http://testserver"
    settings.MAILPASS_TRACKING_RATE_LIMIT = "1000000/min"
    payload = {"to": "user@example.com", "subject": "Hi", "text": "Hi", "unsubscribe": True}
    assert api.post("/api/v1/mail/send", payload, format="json").status_code == 200
    header = sink.received[0].message["List-Unsubscribe"]
    ours = urlsplit(re.fullmatch(r"<(.+)>", header).group(1)).path.rsplit("/", 1)[1]
    theirs = factories.make_message(outsider_account, pk=OTHER_PK, unsubscribe=True)
    return {"ours": ours, "theirs": unsubscribe_token(theirs.pk)}


def _cases(ours: str, theirs: str) -> list[str]:
    real = {ours, theirs}
    cases: dict[str, None] = {}
    for variant in (
        *_changes(ours),
        *_encoding_tricks(ours),
        *_encoding_tricks(theirs),
        *_id_swaps(ours, [OTHER_PK]),
        tracking.open_token(int(ours.split(".")[0], 36)),  # signed, for another purpose
        ours.split(".")[0] + "." + theirs.split(".")[1],
        theirs.split(".")[0] + "." + ours.split(".")[1],
        unsubscribe_token(OTHER_PK + 10_000),  # signed, but no such message
    ):
        if variant not in real and not _has_surrogate(variant):
            cases.setdefault(variant, None)
    rng = random.Random(15)
    for _ in range(RANDOM_CASES):
        token = _random_token(rng)
        if token not in real and not _has_surrogate(token):
            cases.setdefault(token, None)
    return list(cases)


def test_tampered_unsubscribe_tokens_unsubscribe_nobody_and_record_nothing(tokens, no_outbound):
    cases = _cases(tokens["ours"], tokens["theirs"])
    factory = RequestFactory()
    client = Client(raise_request_exception=False)
    failures: list[tuple[object, ...]] = []
    for number, token in enumerate(cases):
        for method in ("post", "get"):
            try:
                response = unsubscribe(getattr(factory, method)("/u/x"), token)
            except Exception as err:  # noqa: BLE001 - a crash is a finding, listed with the rest
                failures.append((token[:80], method, "view raised", repr(err)))
                continue
            if (response.status_code, response.content) != (404, b"Not found."):
                failures.append((token[:80], method, "view", response.status_code))
        if number % 10 == 0:
            response = client.post(f"/u/{quote(token, safe='')}")
            if response.status_code != 404:
                failures.append((token[:80], "post", "client", response.status_code))
    if Suppression.objects.exists() or MessageEvent.objects.exists():
        failures.append(("something was recorded", list(Suppression.objects.all())))
    failures += [("outbound connection", attempt) for attempt in no_outbound]
    figures.check(SUITE, cases=len(cases), failures=failures)


def test_the_real_token_still_works_so_the_suite_is_not_vacuous(tokens):
    response = Client().post(f"/u/{tokens['ours']}")

    assert response.status_code == 200
    assert list(Suppression.objects.values_list("email", "reason")) == [
        ("user@example.com", "unsubscribed")
    ]
