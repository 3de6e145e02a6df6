"""Suite 7, tracking half: random or tampered open and click tokens never redirect, never
record an event and never make an outgoing connection.

The tokens start from the real ones in a tracked message as it arrived at the SMTP sink;
10,000 variants (every single-character change, truncations, extensions, swapped and
foreign message ids, indexes out of range, padding and encoding tricks, Unicode look-alikes,
random strings of 0 to 10,240 characters) go to the tracking views, a fifth of them also
through Django's test Client with URL routing and middleware. A bad token is a 404 without
a Location, as the tracking views document, whatever method or endpoint it is sent to.
"""

import random
import re
import string
from collections.abc import Iterator
from html import unescape
from urllib.parse import quote, urlsplit

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory

from api import tracking
from api.models import Message, MessageEvent
from api.signing import base36
from api.views import tracking_click, tracking_open
from tests import factories
from tests.security import figures

pytestmark = pytest.mark.django_db

SUITE = "07 tracking and webhooks: tracking tokens"
CASES = 10_000
OTHER_PK = 1_000_035  # "lfmb" in base 36
HTML = (
    "<html><body><p>Hi!</p>"
    '<a href="https://shop.example.com/orders/42">your order</a> '
    '<a href="https://example.org/help">help</a>'
    "</body></html>"
)
SIGNATURE_ALPHABET = string.ascii_letters + string.digits + "-_"
# Characters a token is likely to be confused with or padded by: every base64 (url-safe
# and standard) character, separators, percent escapes, and Unicode digits and letters
# that str.isdigit() / str.isalnum() accept.
SUBSTITUTES = (
    SIGNATURE_ALPHABET
    + "+/=.%~ \t\x00"
    + "\u0660\u0661\u00b2\u00b9\uff10\uff11\u0430\u0410\u00e9\u200b\u202e\u0301"
)
UNICODE_SAMPLES = "éüßΩЖ中文日本한국어\u0660\u0661\u00b2\uff10\uff41\u200b\u202e\u0301\U0001f600"
ALPHABETS = {
    "digits": string.digits,
    "base36": string.digits + string.ascii_lowercase,
    "base64url": SIGNATURE_ALPHABET,
    "base64": string.ascii_letters + string.digits + "+/=",
    "token-like": string.digits + string.ascii_lowercase + ".",
    "printable": string.printable,
    "unicode": UNICODE_SAMPLES + string.ascii_letters + ".",
}


def _tracking_paths(html: str, kind: str) -> list[str]:
    urls = re.findall(rf'"(http://testserver/t/{kind}/[^"]+)"', html)
    return [urlsplit(unescape(url)).path for url in urls]


def _html_received(sink) -> str:
    [received] = sink.received
    part = next(p for p in received.message.walk() if p.get_content_type() == "text/html")
    return part.get_payload(decode=True).decode()


def _token(path: str) -> str:
    return path.rsplit("/", 1)[1]


def _changes(token: str) -> Iterator[str]:
    """Every single-character replacement, deletion and insertion, every truncation."""
    for i, char in enumerate(token):
        for other in SUBSTITUTES:
            if other != char:
                yield token[:i] + other + token[i + 1 :]
        if char.isalpha():
            yield token[:i] + char.swapcase() + token[i + 1 :]
        yield token[:i] + token[i + 1 :]
    for i in range(len(token) + 1):
        for extra in ("0", "a", "A", "=", ".", "-", "\u0660"):
            yield token[:i] + extra + token[i:]
    for end in range(len(token)):
        yield token[:end]
        yield token[end + 1 :]


def _encoding_tricks(token: str) -> Iterator[str]:
    """Padding, other base64 alphabets, escapes the view receives undecoded, and case."""
    yield token + "="
    yield token + "=="
    yield token + "%3D"
    yield token.replace("-", "+").replace("_", "/")
    yield token.upper()
    yield token.lower()
    yield token.replace(".", "%2E")
    yield token.replace(".", "%252E")
    yield quote(token, safe="")
    yield "".join(f"%{ord(c):02X}" for c in token)
    yield token.replace(".", "\u2024")  # one dot leader
    yield token.replace(".", "\uff0e")  # fullwidth full stop
    yield token + "\x00"
    yield token + "\n"
    yield " " + token
    yield token + "/"
    yield token + "?x=1"
    yield token + "#frag"
    yield token + "." + token.rsplit(".", 1)[1]
    yield token * 2


def _id_swaps(token: str, other_pks: list[int]) -> Iterator[str]:
    """The same signature with another message's id, in canonical and odd spellings."""
    pk_text, rest = token.split(".", 1)
    pk = int(pk_text, 36)
    for delta in range(1, 60):
        for candidate in (pk + delta, pk - delta):
            if candidate >= 0:
                yield f"{base36(candidate)}.{rest}"
    for other in other_pks:
        yield f"{base36(other)}.{rest}"
    yield f"0{pk_text}.{rest}"
    yield f"{pk_text.upper()}.{rest}"
    yield f"{pk}.{rest}"  # the id in decimal
    yield f"-{pk_text}.{rest}"
    yield f"+{pk_text}.{rest}"
    yield f"{'z' * 13}.{rest}"
    yield f"{'z' * 14}.{rest}"


def _click_index_tricks(token: str) -> Iterator[str]:
    pk_text, index, sig = token.split(".")
    for other_index in (*range(0, 12), 99, 10**6, 2**31, 2**63, 10**30):
        if str(other_index) != index:
            yield f"{pk_text}.{other_index}.{sig}"
    for odd in ("-0", "+0", "00", "0" * 50, " 0", "0 ", "\u0660", "\uff10", "\u00b2", "9" * 5000):
        yield f"{pk_text}.{odd}.{sig}"
    yield f"{pk_text}.{sig}"  # the click signature as an open token
    yield f"{pk_text}.{index}.{index}.{sig}"
    # Properly signed (we hold the key), but naming a link the message does not have, or a
    # message that does not exist: the view must still refuse them.
    pk = int(pk_text, 36)
    for other_index in (2, 3, 50, 10**6):
        yield tracking.click_token(pk, other_index)
    yield tracking.click_token(pk + 10_000, 0)


def _random_token(rng: random.Random) -> str:
    alphabet = ALPHABETS[rng.choice(sorted(ALPHABETS))]
    length = rng.choice([0, 1, 2, 5, 13, 16, 17, 18, 20, 24, 32, 64, 200, 1000, 10_240])
    if rng.random() < 0.5 and length >= 18:
        # Token-shaped: base36 id, optional index, 16 signature characters.
        pk = base36(rng.randrange(1, 10**6))
        sig = "".join(rng.choice(SIGNATURE_ALPHABET) for _ in range(16))
        return rng.choice([f"{pk}.{sig}", f"{pk}.{rng.randrange(0, 5)}.{sig}"])
    return "".join(rng.choice(alphabet) for _ in range(length))


def _cases(ours: dict[str, list[str]], theirs: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(kind, token) pairs, none of them a real token: every systematic variant of both
    messages' real tokens ({"o": [open], "c": [clicks]}), then random ones up to CASES."""
    real = {(kind, token) for tokens in (ours, theirs) for kind in "oc" for token in tokens[kind]}
    their_pk = int(theirs["o"][0].split(".")[0], 36)
    cases: dict[tuple[str, str], None] = {}

    def add(kind: str, token: str) -> None:
        if (kind, token) not in real and not _has_surrogate(token):
            cases.setdefault((kind, token), None)

    for kind, token in sorted(real):
        # Every single-character change of our tokens; theirs (an id with letters) for
        # what differs: spellings of the id, case, padding.
        changes = _changes(token) if token in ours[kind] else ()
        for variant in (*changes, *_encoding_tricks(token), *_id_swaps(token, [their_pk])):
            add(kind, variant)
        add("c" if kind == "o" else "o", token)  # the right token at the wrong endpoint
        if kind == "c":
            for variant in _click_index_tricks(token):
                add(kind, variant)
    # One message's id with the other's signature (and index), both ways.
    for kind in "oc":
        mine, other = ours[kind][0], theirs[kind][0]
        add(kind, mine.split(".")[0] + "." + other.split(".", 1)[1])
        add(kind, other.split(".")[0] + "." + mine.split(".", 1)[1])
    add("o", tracking.open_token(their_pk + 10_000))  # signed, but no such message
    assert len(cases) < CASES, len(cases)
    rng = random.Random(7)
    while len(cases) < CASES:
        add(rng.choice("oc"), _random_token(rng))
    return list(cases)


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)


@pytest.fixture
def tracked(settings, api, provider, sink, outsider_account, tracking_allowed):
    """A real tracked message as it arrived, plus another account's tracked message."""
    settings.MAILPASS_PUBLIC_URL = "http://testserver"
    # 10,000 requests from one client: the /t/ throttle (test_tracking_abuse.py) would
    # answer most of them 429 before the token is even looked at.
    settings.MAILPASS_TRACKING_RATE_LIMIT = "1000000/min"
    payload = {"to": "user@example.com", "subject": "Order", "html": HTML}
    payload |= {"track_opens": True, "track_clicks": True}
    assert api.post("/api/v1/mail/send", payload, format="json").status_code == 200
    html = _html_received(sink)
    [open_path] = _tracking_paths(html, "o")
    click_paths = _tracking_paths(html, "c")
    assert len(click_paths) == 2
    # An id with letters in base 36 (SQLite would give ours 1): upper case must not pass.
    theirs = factories.make_message(
        outsider_account, pk=OTHER_PK, html=HTML, track_opens=True, track_clicks=True
    )
    return {
        "ours": {"o": [_token(open_path)], "c": [_token(path) for path in click_paths]},
        "theirs": {
            "o": [tracking.open_token(theirs.pk)],
            "c": [tracking.click_token(theirs.pk, index) for index in (0, 1)],
        },
    }


def _send(client: Client, kind: str, token: str, method: str = "get"):
    return getattr(client, method)(f"/t/{kind}/{quote(token, safe='')}")


VIEWS = {"o": tracking_open, "c": tracking_click}


def _call_view(factory: RequestFactory, kind: str, token: str, method: str) -> HttpResponse:
    request = getattr(factory, method)(f"/t/{kind}/x", HTTP_USER_AGENT="tamper-suite")
    return VIEWS[kind](request, token)


def _broken(response: HttpResponse) -> bool:
    return response.status_code != 404 or response.has_header("Location")


def test_ten_thousand_tampered_tokens_redirect_nowhere_and_record_nothing(tracked, no_outbound):
    """Every token goes to its view function (RequestFactory, 0.1 ms each, so the whole
    set stays cheap); every fifth also goes through the test Client, URL routing and
    middleware included (2 ms each), so the two paths cannot disagree unnoticed."""
    cases = _cases(tracked["ours"], tracked["theirs"])
    factory = RequestFactory()
    client = Client(raise_request_exception=False, HTTP_USER_AGENT="tamper-suite")
    events_before = MessageEvent.objects.count()
    failures: list[tuple[object, ...]] = []
    for number, (kind, token) in enumerate(cases):
        method = "head" if number % 10 == 0 else "get"
        try:
            response = _call_view(factory, kind, token, method)
        except Exception as err:  # noqa: BLE001 - a crash is a finding, listed with the rest
            failures.append((kind, token[:80], method, "view raised", repr(err)))
            continue
        if _broken(response):
            failures.append((kind, token[:80], method, "view", response.status_code))
        if number % 5 == 0 and _broken(response := _send(client, kind, token, method)):
            failures.append((kind, token[:80], method, "client", response.status_code))
    if (events := MessageEvent.objects.count() - events_before) != 0:
        failures.append(("events recorded", events))
    failures += [("outbound connection", attempt) for attempt in no_outbound]
    assert len(cases) == CASES
    figures.check(SUITE, cases=len(cases), failures=failures)


def test_the_real_tokens_still_work_so_the_suite_is_not_vacuous(tracked, no_outbound):
    client = Client(HTTP_USER_AGENT="tamper-suite")

    opened = _send(client, "o", tracked["ours"]["o"][0])
    clicked = [_send(client, "c", token) for token in tracked["ours"]["c"]]

    assert (opened.status_code, opened["Content-Type"]) == (200, "image/gif")
    assert [(r.status_code, r["Location"]) for r in clicked] == [
        (302, "https://shop.example.com/orders/42"),
        (302, "https://example.org/help"),
    ]
    assert MessageEvent.objects.count() == 3
    assert no_outbound == []


def test_tokens_are_refused_for_any_method_but_get_and_head(tracked, no_outbound):
    client = Client(raise_request_exception=False)
    answers = {
        f"{method.upper()} /t/{kind}/": _send(client, kind, tracked["ours"][kind][0], method)
        for method in ("post", "put", "patch", "delete", "options")
        for kind in ("o", "c")
    }

    failures = [
        f"{request}: {response.status_code} {response.get('Location', '')}"
        for request, response in answers.items()
        if response.status_code != 405 or response.has_header("Location")
    ]
    figures.check(SUITE, cases=len(answers), failures=failures)
    assert not MessageEvent.objects.exists()
    assert Message.objects.filter(status=Message.Status.SENT).count() == 1


# --- focused tests: the bugs this suite found ---------------------------------------------


@pytest.mark.parametrize(
    ("kind", "token"),
    [
        ("o", "1.é"),  # hmac.compare_digest refused non-ASCII text: a 500
        ("c", "1.0.é"),
        ("c", "1.\u00b2.AAAAAAAAAAAAAAAA"),  # "²".isdigit() is true, int("²") raises
        ("c", "1." + "9" * 5000 + ".AAAAAAAAAAAAAAAA"),  # over int()'s 4,300 digits
    ],
)
def test_a_token_that_is_not_ascii_or_too_long_is_a_404_not_a_500(db, kind, token):
    response = _send(Client(raise_request_exception=False), kind, token)

    assert response.status_code == 404


def test_a_token_naming_the_same_link_in_another_spelling_redirects_nowhere(tracked):
    """int() reads "01", "A" (for "a") and Arabic-Indic or fullwidth digits as the numbers
    they look like, so these variants of a real token used to redirect and record a click."""
    pk_text, index, sig = tracked["theirs"]["c"][0].split(".")
    variants = [
        f"0{pk_text}.{index}.{sig}",
        f"{pk_text.upper()}.{index}.{sig}",
        f"{pk_text}.0{index}.{sig}",
        f"{pk_text}.\u0660.{sig}",
        f"{pk_text}.\uff10.{sig}",
    ]
    client = Client(raise_request_exception=False)

    answers = [_send(client, "c", token).status_code for token in variants]

    assert answers == [404] * len(variants)
    assert not MessageEvent.objects.exists()
