"""Suite 11, safe by default: no open relay, no mail cannon (issue 11, findings 1 and 10).

A stranger who signed up could add the operator's own relay (the `mailpass` kind) and send
5,050 recipients in a second, spoofing any From in the envelope too. Now:
- sign-up is closed unless the operator opens it, and teammates come by invitation;
- the relay is only for accounts the operator allows, and its envelope sender is the
  operator's (MAILPASS_RELAY_RETURN_PATH);
- each account has a daily quota, in recipients and in bytes, and an API rate over all
  of its keys.
"""

import datetime as dt
import io
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Account, Membership
from api.models import Message
from providers.models import Provider
from providers.services import provider_create
from tests import factories
from tests.security import figures

pytestmark = pytest.mark.django_db

SUITE = "11 safe defaults: relay, sign-up, quotas"


# --- sign-up and invitations ----------------------------------------------------------------


def test_a_fresh_instance_has_sign_up_closed():
    env = {
        "SECRET_KEY": "x" * 10 + "a-strong-enough-secret-key-for-this-test-0123456789",
        "DATABASE_URL": "postgres://mailpass@127.0.0.1:5432/mailpass",
        "PATH": "/usr/bin:/bin",
    }
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.MAILPASS_SIGNUP_OPEN)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "mailpass.settings"},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    figures.record(SUITE, cases=1, failures=int(result.stdout.strip() != "False"))
    assert result.stdout.strip() == "False", result.stderr


def test_with_sign_up_closed_a_stranger_cannot_make_an_account(relay):
    answers = [
        Client().get("/signup/").status_code,
        Client().post("/signup/", {"email": "spammer@example.com"}).status_code,
    ]

    figures.record(SUITE, cases=2, failures=answers.count(200))
    assert answers == [404, 404]
    assert relay.sent() == []


def invitation_link(client: Client) -> str:
    html = client.post("/team/", {"email": "New.Hire@Example.com"}).content.decode()
    [link] = re.findall(r'<code id="new-link">([^<]+)</code>', html)
    return urlsplit(link).path


def test_an_owner_invites_a_teammate_who_joins_with_a_password_of_their_own(owner, account, relay):
    owner_client = Client()
    owner_client.force_login(owner)
    path = invitation_link(owner_client)
    [mail] = relay.sent()
    assert mail.to == ["new.hire@example.com"] and path in mail.body

    newcomer = Client()
    assert newcomer.get(path).status_code == 200
    joined = newcomer.post(
        path, {"password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"}
    )

    assert joined.status_code == 302
    user = get_user_model().objects.get(username="new.hire@example.com")
    assert Membership.objects.get(user=user).account == account
    assert Membership.objects.get(user=user).role == Membership.Role.MEMBER
    assert newcomer.get("/keys/").status_code == 200  # works in the owner's account
    assert Client().get(path).status_code == 404  # the link worked once
    figures.record(SUITE, cases=4, failures=0)


def test_a_member_cannot_invite_and_an_invitation_cannot_be_replayed(teammate, owner, account):
    member_client = Client()
    member_client.force_login(teammate)
    member_client.post("/team/", {"email": "friend@example.com"})
    owner_client = Client()
    owner_client.force_login(owner)
    path = invitation_link(owner_client)
    Client().post(path, {"password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"})

    replay = Client().post(
        path, {"password1": "another-passphrase-2", "password2": "another-passphrase-2"}
    )

    failures = []
    if account.invitations.filter(email="friend@example.com").exists():
        failures.append("a member invited someone")
    if replay.status_code != 404:
        failures.append(f"a used invitation answered {replay.status_code}")
    figures.check(SUITE, cases=2, failures=failures)


def test_an_invitation_to_an_address_with_a_user_adds_nobody(owner, outsider, account):
    outsider.email = "taken@example.com"
    outsider.save()
    owner_client = Client()
    owner_client.force_login(owner)
    html = owner_client.post("/team/", {"email": "taken@example.com"}).content.decode()
    [link] = re.findall(r'<code id="new-link">([^<]+)</code>', html)

    answer = Client().post(
        urlsplit(link).path,
        {"password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"},
    )

    assert answer.status_code == 409
    assert not Membership.objects.filter(account=account, user=outsider).exists()
    assert get_user_model().objects.filter(email__iexact="taken@example.com").count() == 1
    figures.record(SUITE, cases=1, failures=0)


def test_a_removed_member_can_no_longer_log_in(owner, teammate, account):
    owner_client = Client()
    owner_client.force_login(owner)
    membership = Membership.objects.get(account=account, user=teammate)

    owner_client.post(f"/team/members/{membership.pk}/remove/")
    refused = Client().post("/accounts/login/", {"username": "teammate", "password": "pw-teammate"})
    kept = owner_client.post(
        f"/team/members/{Membership.objects.get(user=owner).pk}/remove/"
    )  # the owner stays

    assert refused.status_code == 200 and "_auth_user_id" not in Client().session
    assert kept.status_code == 302 and Membership.objects.filter(user=owner).exists()
    figures.record(SUITE, cases=2, failures=0)


# --- the operator's relay -------------------------------------------------------------------


@pytest.fixture
def relay_sink(settings, relay_is_sink):
    """The instance relay is the loopback sink; its envelope sender the operator's."""
    settings.MAILPASS_RELAY_RETURN_PATH = "bounces@operator.example"
    return relay_is_sink


def test_an_account_cannot_add_the_relay_unless_the_operator_allows_it(
    owner_client, relay_sink, account
):
    failures = []
    with pytest.raises(ValidationError) as refused:
        provider_create(account=account, name="Free relay", kind=Provider.Kind.MAILPASS)
    if "not enabled for this account" not in str(refused.value):
        failures.append(f"service: {refused.value}")
    page = owner_client.get("/providers/new/").content.decode()
    if 'href="?kind=mailpass"' in page:
        failures.append("the kinds page offers the relay")
    form = owner_client.post("/providers/new/?kind=mailpass", {"name": "Free relay"})
    if Provider.objects.filter(kind=Provider.Kind.MAILPASS).exists():
        failures.append(f"the form added it ({form.status_code})")

    figures.check(SUITE, cases=3, failures=failures)


def test_a_relay_provider_from_before_the_upgrade_sends_nothing_without_permission(
    relay_sink, account, api, dns_server
):
    # Made before the operator had a say: straight into the table, no validation.
    Provider.objects.create(
        account=account, name="Old relay", kind=Provider.Kind.MAILPASS, is_default=True,
        from_email="ceo@bank.example",
    )  # fmt: skip
    # Even from a domain the account proved: the operator's permission is missing.
    factories.make_verified_domain(account, "bank.example", dns_server)

    response = api.post(
        "/api/v1/mail/send",
        {"to": "victim@example.com", "subject": "Wire", "text": "Pay now"},
        format="json",
    )

    failures = [] if relay_sink.received == [] else ["the relay got the message"]
    figures.check(SUITE, cases=1, failures=failures)
    assert response.status_code == 500
    assert "not enabled for this account" in response.json()["error"]["details"]["provider_error"]


def test_the_operator_allows_the_relay_per_account_and_its_mail_bounces_to_the_operator(
    relay_sink, account, api, dns_server
):
    call_command("account_access", str(account.pk), "--relay", "on", stdout=io.StringIO())
    account.refresh_from_db()
    provider_create(
        account=account, name="Relay", kind=Provider.Kind.MAILPASS, is_default=True,
        from_email="support@tenant.example",
    )  # fmt: skip
    factories.make_verified_domain(account, "tenant.example", dns_server)

    response = api.post(
        "/api/v1/mail/send",
        {
            "to": "user@example.com",
            "subject": "Hi",
            "text": "x",
            "from_email": "ceo@tenant.example",
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    [received] = relay_sink.received
    failures = []
    if received.mail_from != "bounces@operator.example":
        failures.append(f"envelope sender {received.mail_from!r}")
    if received.message["From"] != "ceo@tenant.example":
        failures.append(f"From {received.message['From']!r}")  # the header is the tenant's
    figures.check(SUITE, cases=2, failures=failures)


def test_the_relay_carries_no_domain_its_tenant_has_not_proven(relay_sink, account, api):
    account.relay_enabled = True
    account.save(update_fields=["relay_enabled"])
    provider_create(
        account=account, name="Relay", kind=Provider.Kind.MAILPASS, is_default=True,
        from_email="support@tenant.example",
    )  # fmt: skip
    senders = ["ceo@bank.example", "support@tenant.example", "x@sub.tenant.example"]
    answers = [
        api.post(
            "/api/v1/mail/send",
            {"to": "user@example.com", "subject": "Hi", "text": "x", "from_email": sender},
            format="json",
        )
        for sender in senders
    ]
    batch = api.post(
        "/api/v1/mail/send-batch",
        {"messages": [{"to": "u@example.com", "subject": "Hi", "text": "x", "from_email": s}
                      for s in senders]},
        format="json",
    )  # fmt: skip

    failures = [
        f"{sender}: {answer.status_code}"
        for sender, answer in zip(senders, answers, strict=True)
        if answer.status_code != 422 or answer.json()["error"]["code"] != "DOMAIN_NOT_VERIFIED"
    ]
    items = batch.json()["data"]["messages"]
    failures += [f"batch item {i['to']}: {i['status']}" for i in items if i["status"] != "failed"]
    failures += ["the relay got a message"] if relay_sink.received else []
    figures.check(SUITE, cases=len(senders) * 2, failures=failures)


def test_the_access_command_shows_and_changes_what_an_account_may_do(account, capsys):
    call_command("account_access", "owner", "--tracking", "on", "--daily-recipients", "500")
    shown = capsys.readouterr().out
    call_command("account_access", "owner", "--daily-recipients", "default")
    listed = capsys.readouterr().out

    account.refresh_from_db()
    assert "relay off, tracking on, daily recipients 500" in shown
    assert account.daily_recipient_limit is None and account.tracking_enabled
    assert f"{account.pk} {account.name}" in listed


# --- quotas and rates -------------------------------------------------------------------------


def many(n: int) -> list[str]:
    return [f"r{i}@example.com" for i in range(n)]


def batch_item(recipients: int) -> dict:
    return {
        "to": "first@example.com",
        "cc": many(recipients - 1),
        "subject": "Spam",
        "text": "Buy",
    }


def test_the_daily_quota_counts_recipients_not_messages(settings, api, provider, sink):
    settings.MAILPASS_ACCOUNT_DAILY_RECIPIENTS = 120

    refused = api.post(
        "/api/v1/mail/send-batch",
        {"messages": [batch_item(50) for _ in range(3)]},  # 3 messages, 150 recipients
        format="json",
    )
    queued = api.post(
        "/api/v1/mail/send-batch", {"messages": [batch_item(50) for _ in range(2)]}, format="json"
    )
    over = api.post("/api/v1/mail/send", batch_item(21), format="json")
    fits = api.post("/api/v1/mail/send", batch_item(20), format="json")

    failures = []
    if refused.status_code != 429 or refused.json()["error"]["details"]["scope"] != "account":
        failures.append(f"150 recipients: {refused.status_code} {refused.content[:200]}")
    if queued.json()["data"]["queued"] != 2:
        failures.append(f"100 recipients: {queued.content[:200]}")
    if over.status_code != 429:
        failures.append(f"/send past the quota: {over.status_code}")
    if fits.status_code != 200:
        failures.append(f"/send within the quota: {fits.status_code}")
    figures.check(SUITE, cases=4, failures=failures)
    assert Message.objects.count() == 3  # the refused batch and /send left nothing behind
    body = over.json()
    assert body["error"]["code"] == "SEND_LIMIT_EXCEEDED"
    assert body["error"]["message"].startswith("The account's daily recipients quota")
    assert int(over["Retry-After"]) == body["error"]["details"]["retry_after"] > 0


def test_the_quota_resets_at_midnight_utc(settings, api, provider, sink, time_machine):
    settings.MAILPASS_ACCOUNT_DAILY_RECIPIENTS = 1
    time_machine.move_to(dt.datetime(2030, 1, 15, 23, 59, 30, tzinfo=dt.UTC), tick=False)
    assert api.post("/api/v1/mail/send", batch_item(1), format="json").status_code == 200
    refused = api.post("/api/v1/mail/send", batch_item(1), format="json")

    time_machine.move_to(dt.datetime(2030, 1, 16, 0, 0, 1, tzinfo=dt.UTC), tick=False)
    next_day = api.post("/api/v1/mail/send", batch_item(1), format="json")

    assert (refused.status_code, refused["Retry-After"]) == (429, "30")
    assert next_day.status_code == 200


def test_an_accounts_own_quota_in_the_admin_overrides_the_instances(
    settings, api, account, provider, sink
):
    settings.MAILPASS_ACCOUNT_DAILY_RECIPIENTS = 0  # none for the instance
    Account.objects.filter(pk=account.pk).update(daily_recipient_limit=2)

    codes = [
        api.post("/api/v1/mail/send", batch_item(1), format="json").status_code for _ in range(3)
    ]

    assert codes == [200, 200, 429]


def test_the_daily_byte_quota_counts_each_copy(settings, api, provider, sink):
    settings.MAILPASS_ACCOUNT_DAILY_BYTES = 10_000
    big = {"to": "a@example.com", "cc": ["b@example.com"], "subject": "S", "text": "x" * 4_000}

    first = api.post("/api/v1/mail/send", big, format="json")  # 2 copies: ~8 kB
    second = api.post("/api/v1/mail/send", big, format="json")

    figures.record(
        SUITE, cases=2, failures=int((first.status_code, second.status_code) != (200, 429))
    )
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.json()["error"]["message"].startswith("The account's daily bytes quota")


def test_more_keys_do_not_raise_an_accounts_request_rate(settings, account, provider):
    settings.MAILPASS_ACCOUNT_RATE_LIMIT = "5/min"
    clients = []
    for _ in range(3):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.make_api_key(account)[1]}")
        clients.append(client)

    codes = [clients[i % 3].get("/api/v1/suppressions").status_code for i in range(8)]

    failures = [] if codes == [200] * 5 + [429] * 3 else [f"{codes}"]
    figures.check(SUITE, cases=8, failures=failures)
