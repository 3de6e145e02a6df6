"""Suite 11, safe by default: MailPass's own mail is no cannon (issue 11, finding 3).

Three fake accounts carrying a victim's address turned 20 password resets into 60 mails
through the operator's relay, each quoting a username the attacker chose, from
webmaster@localhost. Now resets are limited per client and per address, an address gets one
mail however many users carry it, sign-up proves the address before any user exists (and an
address belongs to one user), MailPass's own mail needs DEFAULT_FROM_EMAIL, reset is hidden
without a relay, and the answer never waits for the relay: known and unknown addresses are
answered alike.
"""

import re
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.mail.backends.locmem import EmailBackend
from django.test import Client
from django.utils import timezone

from accounts.models import PendingSignup
from tests import factories
from tests.security import figures

SUITE = "11 safe defaults: reset and sign-up mail"
VICTIM = "victim@example.com"


def reset(ip: str = "198.51.100.1", email: str = VICTIM):
    return Client().post("/accounts/password_reset/", {"email": email}, REMOTE_ADDR=ip)


def user_with(username: str, email: str):
    user = factories.make_user(username)
    user.email = email
    user.save()
    return user


@pytest.mark.django_db(transaction=True)
def test_twenty_resets_for_an_address_shared_by_three_users_send_three_mails(relay, settings):
    """The finding's own numbers: 3 users with the victim's address, 20 requests."""
    owner = user_with("real-owner", VICTIM)
    for name in ("call-555-0100-now", "your-account-is-locked"):
        user_with(name, VICTIM.upper())
    owner.last_login = timezone.now()
    owner.save()

    answers = [reset(ip=f"198.51.100.{i}").status_code for i in range(20)]
    sent = relay.sent()

    failures = []
    if set(answers) != {302}:
        failures.append(f"answers {answers}")
    if len(sent) != settings.MAILPASS_ADDRESS_MAIL_LIMIT:
        failures.append(f"{len(sent)} mails to one address")
    if any("real-owner" not in mail.body for mail in sent):
        failures.append("a mail quotes a username the attacker chose")
    if any(mail.from_email != "mailpass@operator.example" for mail in sent):
        failures.append("not from DEFAULT_FROM_EMAIL")
    figures.check(SUITE, cases=20, failures=failures)


@pytest.mark.django_db(transaction=True)
def test_password_resets_are_limited_per_client(relay, settings):
    limit = settings.MAILPASS_PASSWORD_RESET_LIMIT

    codes = [
        reset(ip="203.0.113.5", email=f"someone{i}@example.com").status_code
        for i in range(limit + 3)
    ]

    failures = [] if codes == [302] * limit + [429] * 3 else [f"{codes}"]
    figures.check(SUITE, cases=len(codes), failures=failures)


class _HeldRelay(EmailBackend):
    """A relay that takes its time: it holds every mail until the test lets it go."""

    release = threading.Event()

    def send_messages(self, messages):
        self.release.wait(timeout=30)
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True)
def test_the_answer_never_waits_for_the_relay_known_address_or_not(relay, settings):
    user_with("someone", VICTIM)
    settings.EMAIL_BACKEND = f"{__name__}._HeldRelay"
    _HeldRelay.release.clear()
    try:
        known = reset(email=VICTIM)
        unknown = reset(ip="198.51.100.2", email="nobody@example.com")
        answered_while_held = not _HeldRelay.release.is_set()
    finally:
        _HeldRelay.release.set()
    sent = relay.sent()

    same = (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    failures = [] if same and answered_while_held and len(sent) == 1 else ["waited or differed"]
    figures.check(SUITE, cases=2, failures=failures)


@pytest.mark.django_db(transaction=True)
def test_the_reset_link_works_and_is_built_on_the_public_url(relay, settings):
    settings.MAILPASS_PUBLIC_URL = "https://mail.operator.example"
    settings.ALLOWED_HOSTS = ["*"]  # even where any Host gets through
    user_with("someone", VICTIM)

    Client().post(
        "/accounts/password_reset/", {"email": VICTIM}, HTTP_HOST="evil.example"
    )  # a forged Host header must not become the link's host
    [mail] = relay.sent()
    [link] = re.findall(r"https://\S+/accounts/reset/\S+", mail.body)
    path = urlsplit(link).path
    browser = Client()
    page = browser.get(path, follow=True)
    changed = browser.post(
        page.redirect_chain[-1][0],
        {"new_password1": "a-new-passphrase-9", "new_password2": "a-new-passphrase-9"},
    )

    assert link.startswith("https://mail.operator.example/accounts/reset/")
    assert changed.status_code == 302
    assert get_user_model().objects.get(username="someone").check_password("a-new-passphrase-9")


@pytest.mark.django_db
def test_reset_is_hidden_without_a_relay(settings):
    settings.EMAIL_HOST = ""

    page = Client().get("/accounts/password_reset/")
    login = Client().get("/accounts/login/").content.decode()

    figures.record(
        SUITE, cases=2, failures=int(page.status_code != 404) + int("password_reset" in login)
    )
    assert page.status_code == 404
    assert "/accounts/password_reset/" not in login


@pytest.mark.django_db
def test_sign_up_with_a_taken_address_makes_nobody_and_mails_its_owner(signup_open):
    user_with("first-owner", VICTIM)

    answer = Client().post(
        "/signup/",
        {
            "email": VICTIM.upper(),
            "password1": "a-long-passphrase-1",
            "password2": "a-long-passphrase-1",
        },
    )
    [mail] = signup_open.sent()

    failures = []
    if "Check your inbox" not in answer.content.decode():
        failures.append("the answer differs for a taken address")
    if get_user_model().objects.filter(email__iexact=VICTIM).count() != 1:
        failures.append("a second user carries the address")
    if PendingSignup.objects.exists():
        failures.append("a pending sign-up was kept for a taken address")
    if "already belongs to a MailPass user" not in mail.body:
        failures.append("the owner was not told")
    figures.check(SUITE, cases=1, failures=failures)


@pytest.mark.django_db
def test_a_sign_up_cannot_hold_an_address_it_cannot_read(signup_open):
    """Nobody becomes a user of an address before following the link mailed to it."""
    Client().post(
        "/signup/",
        {"email": VICTIM, "password1": "attacker-pass-123", "password2": "attacker-pass-123"},
    )
    Client().post(
        "/signup/",
        {"email": VICTIM, "password1": "the-real-owner-9", "password2": "the-real-owner-9"},
    )
    attacker_mail, owner_mail = signup_open.sent()
    [owner_link] = re.findall(r"http://\S+/signup/confirm/\S+/", owner_mail.body)
    [attacker_link] = re.findall(r"http://\S+/signup/confirm/\S+/", attacker_mail.body)

    dead = Client().post(urlsplit(attacker_link).path)
    alive = Client().post(urlsplit(owner_link).path)

    assert (dead.status_code, alive.status_code) == (404, 302)
    user = get_user_model().objects.get(email=VICTIM)
    assert user.check_password("the-real-owner-9")


@pytest.mark.django_db
def test_sign_up_mail_to_one_address_is_limited(signup_open, settings):
    codes = [
        Client()
        .post(
            "/signup/",
            {
                "email": VICTIM,
                "password1": "a-long-passphrase-1",
                "password2": "a-long-passphrase-1",
            },
            REMOTE_ADDR=f"198.51.100.{i}",
        )
        .status_code
        for i in range(8)
    ]

    sent = signup_open.sent()
    assert set(codes) == {200}  # the answer says nothing
    assert len(sent) == settings.MAILPASS_ADDRESS_MAIL_LIMIT


def test_a_relay_without_a_sender_of_its_own_is_refused_at_start_up():
    code = "import django; django.setup()"
    env = {
        "SECRET_KEY": "a-strong-enough-secret-key-for-this-test-0123456789-abcdef",
        "DATABASE_URL": "postgres://mailpass@127.0.0.1:5432/mailpass",
        "EMAIL_HOST": "relay.operator.example",
        "DJANGO_SETTINGS_MODULE": "mailpass.settings",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=django_settings.BASE_DIR,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    figures.record(SUITE, cases=1, failures=int(result.returncode == 0))
    assert result.returncode != 0
    assert "DEFAULT_FROM_EMAIL is required when EMAIL_HOST is set" in result.stderr
