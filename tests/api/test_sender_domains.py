"""/api/v1/domains, the sending rule (DOMAIN_NOT_VERIFIED) on /send and /send-batch, and
DKIM signatures on mail as it reaches the SMTP sink, checked by dkimpy against the tests'
DNS server."""

import logging

import dkim as dkimpy
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from api.models import Message
from providers import domains
from providers.models import DkimKey, Provider, SenderDomain
from providers.services import provider_create
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_with(account):
    def make(*permissions: str, of=None) -> APIClient:
        _, key = factories.make_api_key(of or account, permissions=list(permissions))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client

    return make


@pytest.fixture
def domains_api(client_with):
    return client_with("mail", "domains")


def data(response):
    assert response["Content-Type"] == "application/json", response.content
    return response.json()["data"]


# --- the routes -----------------------------------------------------------------------------


def test_a_domain_goes_from_added_to_verified_to_deleted(domains_api, dns_server):
    created = domains_api.post("/api/v1/domains", {"name": "Example.com"}, format="json")
    assert created.status_code == 201, created.content
    domain = data(created)["domain"]
    assert (domain["name"], domain["status"], domain["signing"]) == (
        "example.com",
        "pending",
        False,
    )
    assert [r["purpose"] for r in domain["records"]] == ["dkim", "dmarc"]
    assert domain["records"][0]["value"].startswith("v=DKIM1; k=rsa; p=MIIB")

    by_name = domains_api.get("/api/v1/domains/example.com")
    assert data(by_name)["domain"] == domain
    assert data(domains_api.get(f"/api/v1/domains/{domain['id']}"))["domain"] == domain
    listed = data(domains_api.get("/api/v1/domains"))
    assert (listed["total"], listed["pages"], listed["domains"]) == (1, 1, [domain])

    failed = data(domains_api.post(f"/api/v1/domains/{domain['id']}/verify"))["domain"]
    assert failed["status"] == "failed" and failed["checked_at"]
    assert failed["records"][0]["detail"].startswith("No TXT record at ")

    dns_server.publish_all(domain["records"])
    verified = data(domains_api.post("/api/v1/domains/example.com/verify"))["domain"]
    assert (verified["status"], verified["signing"]) == ("verified", True)
    assert {r["status"] for r in verified["records"]} == {"verified"}

    deleted = domains_api.delete("/api/v1/domains/example.com")
    assert data(deleted) == {"id": domain["id"], "name": "example.com"}
    assert domains_api.get("/api/v1/domains/example.com").status_code == 404
    assert not DkimKey.objects.exists()


def test_rotate_through_the_api(domains_api, dns_server):
    domain = data(domains_api.post("/api/v1/domains", {"name": "example.com"}, format="json"))
    rotated = domains_api.post(
        "/api/v1/domains/example.com/rotate", {"ed25519": True}, format="json"
    )
    records = data(rotated)["domain"]["records"]
    assert [(r["algorithm"], r["key_state"]) for r in records if r["purpose"] == "dkim"] == [
        ("rsa-sha256", "active"),
        ("rsa-sha256", "pending"),
        ("ed25519-sha256", "pending"),
    ]
    assert data(rotated)["domain"]["ed25519"] is True
    again = data(domains_api.post("/api/v1/domains/example.com/rotate"))["domain"]["records"]
    assert again == records
    assert domain["domain"]["id"] == data(rotated)["domain"]["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "name"), ({"name": "192.0.2.7"}, "name"), ({"name": "x", "extra": 1}, "extra"),
     ({"name": "example.com", "ed25519": "maybe"}, "ed25519"), ({"name": ["a"]}, "name")],
)  # fmt: skip
def test_bad_input_is_a_validation_error(domains_api, body, field):
    response = domains_api.post("/api/v1/domains", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and field in error["details"]


def test_adding_a_domain_twice_is_a_validation_error(domains_api):
    domains_api.post("/api/v1/domains", {"name": "example.com"}, format="json")
    again = domains_api.post("/api/v1/domains", {"name": "EXAMPLE.COM"}, format="json")
    assert again.status_code == 400
    assert again.json()["error"]["details"]["name"] == [
        "example.com is already one of your domains."
    ]


def test_a_dns_that_does_not_answer_is_a_503_and_changes_nothing(domains_api, settings):
    data(domains_api.post("/api/v1/domains", {"name": "example.com"}, format="json"))
    response = domains_api.post("/api/v1/domains/example.com/verify")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "UNAVAILABLE"
    assert SenderDomain.objects.get().status == "pending"


def test_the_routes_need_the_domains_permission(client_with):
    mail_only = client_with("mail")
    for method, path in [("get", "/api/v1/domains"), ("post", "/api/v1/domains"),
                         ("get", "/api/v1/domains/example.com"),
                         ("post", "/api/v1/domains/example.com/verify")]:  # fmt: skip
        response = getattr(mail_only, method)(path)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "FORBIDDEN"


def test_no_answer_page_or_log_holds_a_private_key(domains_api, dns_server, caplog):
    caplog.set_level(logging.DEBUG)
    created = domains_api.post(
        "/api/v1/domains", {"name": "example.com", "ed25519": True}, format="json"
    )
    dns_server.publish_all(data(created)["domain"]["records"])
    answers = [created.content]
    answers.append(domains_api.post("/api/v1/domains/example.com/verify").content)
    answers.append(domains_api.post("/api/v1/domains/example.com/rotate").content)
    answers.append(domains_api.get("/api/v1/domains").content)
    secrets = [key.private_key_pem for key in DkimKey.objects.all()]
    bodies = [pem.split(b"\n")[1] for pem in secrets]  # a line of each key's base64
    for text in [*answers, caplog.text.encode()]:
        assert b"PRIVATE KEY" not in text
        assert not any(body in text for body in bodies)


# --- the sending rule -----------------------------------------------------------------------

MESSAGE = {"to": "user@example.org", "subject": "Hi", "text": "Hello"}


@pytest.fixture
def strict(account):
    account.verified_domains_only = True
    account.save(update_fields=["verified_domains_only"])
    return account


def test_an_account_that_sends_only_from_verified_domains_gets_a_422(
    strict, provider, api, sink, dns_server
):
    factories.make_verified_domain(strict, "example.com", dns_server)
    refused = api.post(
        "/api/v1/mail/send", {**MESSAGE, "from_email": "a@other.example"}, format="json"
    )
    assert refused.status_code == 422
    assert refused.json()["error"] == {
        "code": "DOMAIN_NOT_VERIFIED",
        "message": refused.json()["error"]["message"],
        "details": {"domain": "other.example"},
    }
    assert "other.example is not a verified sender domain" in refused.json()["error"]["message"]
    assert not Message.objects.exists() and sink.received == []
    for sender in ["a@example.com", "a@mail.example.com", "a@EXAMPLE.COM"]:
        sent = api.post("/api/v1/mail/send", {**MESSAGE, "from_email": sender}, format="json")
        assert sent.status_code == 200, sent.content
    # A parent is not covered by its subdomain, nor a look-alike by the domain.
    for sender in ["a@com", "a@badexample.com"]:
        refused = api.post("/api/v1/mail/send", {**MESSAGE, "from_email": sender}, format="json")
        assert refused.status_code in (400, 422)
        if refused.status_code == 422:
            assert refused.json()["error"]["code"] == "DOMAIN_NOT_VERIFIED"


def test_a_batch_fails_only_the_items_from_unverified_domains(strict, provider, api, dns_server):
    factories.make_verified_domain(strict, "example.com", dns_server)
    response = api.post(
        "/api/v1/mail/send-batch",
        {"messages": [{**MESSAGE, "from_email": "a@example.com"},
                      {**MESSAGE, "from_email": "a@other.example"}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    first, second = data(response)["messages"]
    assert first["status"] == "queued"
    assert second["status"] == "failed"
    assert second["error"]["code"] == "DOMAIN_NOT_VERIFIED"
    assert second["error"]["details"] == {"domain": "other.example"}
    assert Message.objects.count() == 1


def test_a_failed_domain_no_longer_counts_as_verified(strict, provider, api, dns_server):
    domain = factories.make_verified_domain(strict, "example.com", dns_server)
    dns_server.unpublish("_dmarc.example.com")
    assert domains.domain_verify(domain).status == "failed"
    refused = api.post(
        "/api/v1/mail/send", {**MESSAGE, "from_email": "a@example.com"}, format="json"
    )
    assert refused.json()["error"]["code"] == "DOMAIN_NOT_VERIFIED"


def test_the_operator_can_require_verified_domains_of_every_account(settings, provider, api):
    settings.MAILPASS_REQUIRE_VERIFIED_DOMAIN = True
    refused = api.post(
        "/api/v1/mail/send", {**MESSAGE, "from_email": "a@example.com"}, format="json"
    )
    assert refused.json()["error"]["code"] == "DOMAIN_NOT_VERIFIED"


def test_older_accounts_send_from_any_domain_until_they_turn_the_setting_on(account, provider, api):
    assert account.verified_domains_only is False
    sent = api.post("/api/v1/mail/send", {**MESSAGE, "from_email": "a@example.com"}, format="json")
    assert sent.status_code == 200


def test_accounts_made_from_now_on_send_only_from_verified_domains(owner):
    from accounts.services import account_create

    assert account_create(owner=owner, name="new").verified_domains_only is True


def test_test_keys_follow_the_rule_too(strict, client_with):
    test_key = factories.make_api_key(strict, test=True)[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {test_key}")
    refused = client.post(
        "/api/v1/mail/send",
        {**MESSAGE, "to": "delivered@test.mailpass.invalid", "from_email": "a@example.com"},
        format="json",
    )
    assert refused.json()["error"]["code"] == "DOMAIN_NOT_VERIFIED"


# --- the operator's relay -------------------------------------------------------------------


@pytest.fixture
def relay_provider(settings, relay_is_sink, relay_allowed):
    settings.EMAIL_TIMEOUT = 5
    return provider_create(
        account=relay_allowed, name="Relay", kind=Provider.Kind.MAILPASS, is_default=True,
        from_email="support@tenant.example",
    )  # fmt: skip


def test_the_relay_never_carries_an_unverified_domain(relay_provider, api, dns_server, sink):
    refused = api.post(
        "/api/v1/mail/send", {**MESSAGE, "from_email": "ceo@bank.example"}, format="json"
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "DOMAIN_NOT_VERIFIED"
    factories.make_verified_domain(relay_provider.account, "tenant.example", dns_server)
    sent = api.post(
        "/api/v1/mail/send", {**MESSAGE, "from_email": "a@tenant.example"}, format="json"
    )
    assert sent.status_code == 200, sent.content
    [received] = sink.received
    assert received.message["DKIM-Signature"] is not None


def test_a_fallback_to_the_relay_needs_a_verified_domain_too(
    account, provider, relay_provider, api
):
    provider.fallbacks = [relay_provider.pk]
    provider.save(update_fields=["fallbacks"])
    refused = api.post(
        "/api/v1/mail/send", {**MESSAGE, "from_email": "a@example.com"}, format="json"
    )
    assert refused.json()["error"]["code"] == "DOMAIN_NOT_VERIFIED"


def test_the_drain_does_not_hand_the_relay_mail_whose_domain_was_lost(
    relay_provider, api, dns_server, sink
):
    domain = factories.make_verified_domain(relay_provider.account, "tenant.example", dns_server)
    queued = api.post(
        "/api/v1/mail/send-batch",
        {"messages": [{**MESSAGE, "from_email": "a@tenant.example"}]},
        format="json",
    )
    assert data(queued)["messages"][0]["status"] == "queued"
    dns_server.unpublish("_dmarc.tenant.example")
    domains.domain_verify(domain)  # failed now
    call_command("process_mail_queue", "--quiet")
    message = Message.objects.get()
    assert message.status == "failed"
    assert sink.received == []
    assert "only from verified sender domains" in message.error_message


# --- signatures on the wire -----------------------------------------------------------------


@pytest.fixture
def signing_domain(account, dns_server):
    domain = domains.domain_create(account=account, name="example.com", ed25519=True)
    dns_server.publish_all(domains.records_of(domain))
    return domains.domain_verify(domain)


def _verify_all(data: bytes, lookup) -> list[bool]:
    """dkimpy's verdict on each signature (it raises for some failures, returns False for
    others: both are False here)."""
    verdicts = []
    for index in range(data.count(b"DKIM-Signature:")):
        try:
            verdicts.append(dkimpy.DKIM(data).verify(idx=index, dnsfunc=lookup))
        except dkimpy.DKIMException:
            verdicts.append(False)
    return verdicts


def test_mail_from_a_verified_domain_arrives_signed_with_both_keys(
    signing_domain, provider, api, sink, dns_server
):
    message = {
        **MESSAGE,
        "from_email": "shop@mail.example.com",
        "html": "<p>Hello <a href='https://example.com/x'>there</a></p>",
        "cc": ["c@example.org"],
        "reply_to": "help@example.com",
        "headers": {"X-Campaign": "spring", "List-Unsubscribe": "<mailto:u@example.com>"},
    }
    sent = api.post("/api/v1/mail/send", message, format="json")
    assert sent.status_code == 200, sent.content
    [received] = sink.received
    lookup = dns_server.dkimpy_lookup
    assert _verify_all(received.data, lookup) == [True, True]
    signatures = received.message.get_all("DKIM-Signature")
    assert "a=rsa-sha256" in signatures[0] and "a=ed25519-sha256" in signatures[1]
    assert "d=example.com" in signatures[0] and "c=relaxed/relaxed" in signatures[0]
    signed = signatures[0].split("h=")[1].split(";")[0].replace(" ", "").replace("\n", "")
    for name in ["from", "to", "cc", "reply-to", "subject", "date", "message-id",
                 "list-unsubscribe", "x-campaign", "mime-version", "content-type"]:  # fmt: skip
        assert name in signed.split(":"), name
    assert signed.split(":").count("from") == 2  # oversigned: a second From breaks it


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.replace(b"Subject: Hi", b"Subject: Hi!"),
        lambda d: d.replace(b"Hello", b"Hellp"),
        lambda d: d.replace(b"X-Campaign: spring", b"X-Campaign: summer"),
        lambda d: d.replace(b"\r\n\r\n", b"\r\nFrom: ceo@example.com\r\n\r\n", 1),
        lambda d: d + b"More text\r\n",
    ],
    ids=["subject", "body", "custom header", "a second From", "appended body"],
)
def test_any_change_to_a_signed_header_or_the_body_breaks_the_signature(
    signing_domain, provider, api, sink, dns_server, change
):
    message = {**MESSAGE, "from_email": "a@example.com", "headers": {"X-Campaign": "spring"}}
    assert api.post("/api/v1/mail/send", message, format="json").status_code == 200
    [received] = sink.received
    lookup = dns_server.dkimpy_lookup
    assert _verify_all(received.data, lookup) == [True, True]
    assert _verify_all(change(received.data), lookup) == [False, False]


def test_queued_mail_is_signed_by_the_drain(signing_domain, provider, api, sink, dns_server):
    items = [
        {**MESSAGE, "to": f"r{i}@example.org", "from_email": "a@example.com"} for i in range(3)
    ]
    api.post("/api/v1/mail/send-batch", {"messages": items}, format="json")
    call_command("process_mail_queue", "--quiet")
    assert len(sink.received) == 3
    lookup = dns_server.dkimpy_lookup
    assert all(_verify_all(r.data, lookup) == [True, True] for r in sink.received)


def test_mail_from_other_domains_or_not_yet_verified_ones_is_not_signed(
    account, provider, api, sink
):
    domains.domain_create(account=account, name="example.com")  # pending
    api.post("/api/v1/mail/send", {**MESSAGE, "from_email": "a@example.com"}, format="json")
    api.post("/api/v1/mail/send", {**MESSAGE, "from_email": "a@other.example"}, format="json")
    assert [r.message["DKIM-Signature"] for r in sink.received] == [None, None]


def test_a_dkim_key_no_encryption_key_reads_sends_unsigned_and_says_so(
    signing_domain, provider, api, sink, settings, caplog
):
    from cryptography.fernet import Fernet

    settings.MAILPASS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old one lost
    sent = api.post("/api/v1/mail/send", {**MESSAGE, "from_email": "a@example.com"}, format="json")
    assert sent.status_code == 200, sent.content
    [received] = sink.received
    assert received.message["DKIM-Signature"] is None
    assert "cannot be decrypted" in caplog.text and "rotate_provider_secrets" in caplog.text
