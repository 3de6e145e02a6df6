"""Sender domains: adding them, what they must publish, checking the DNS (against the
tests' loopback DNS server), rotation, and the API around them."""

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from providers import dns, domains
from providers.models import DkimKey, SenderDomain
from tests import factories

pytestmark = pytest.mark.django_db

SPF_INCLUDE = "include:relay.mailpass.test"


@pytest.fixture
def spf_include(settings):
    settings.MAILPASS_SPF_INCLUDE = SPF_INCLUDE
    return SPF_INCLUDE


@pytest.fixture
def domains_api(account):
    _, key = factories.make_api_key(account, permissions=["mail", "domains"])
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _records(domain, purpose):
    return [r for r in domains.records_of(domain) if r["purpose"] == purpose]


def test_create_makes_an_active_rsa_key_and_asks_for_three_records(account, spf_include):
    domain = domains.domain_create(account=account, name="Example.COM.")
    assert domain.name == "example.com"
    assert domain.status == "pending"
    [key] = domain.keys.all()
    assert (key.algorithm, key.state) == ("rsa-sha256", "active")
    assert key.selector.startswith("mp") and len(key.selector) == 10
    [dkim] = _records(domain, "dkim")
    assert dkim["name"] == f"{key.selector}._domainkey.example.com"
    assert dkim["value"] == f"v=DKIM1; k=rsa; p={key.public_key}"
    assert [r["value"] for r in _records(domain, "spf")] == [f"v=spf1 {SPF_INCLUDE} ~all"]
    assert [r["name"] for r in _records(domain, "dmarc")] == ["_dmarc.example.com"]
    assert all(r["status"] == "pending" for r in domains.records_of(domain))


def test_verify_passes_once_every_record_is_published(account, dns_server, spf_include):
    domain = domains.domain_create(account=account, name="example.com", ed25519=True)
    dns_server.publish_all(domains.records_of(domain))
    dns_server.publish("relay.mailpass.test", "v=spf1 ip4:192.0.2.0/24 -all")
    domain = domains.domain_verify(domain)
    assert domain.status == "verified", domains.records_of(domain)
    assert domains.is_signing(domain)
    assert {r["status"] for r in domains.records_of(domain)} == {"verified"}


# --- what the checks find -------------------------------------------------------------------


@pytest.fixture
def published(account, dns_server, spf_include):
    """A domain with every record published (and the operator's include having a record)."""
    domain = domains.domain_create(account=account, name="example.com")
    dns_server.publish_all(domains.records_of(domain))
    dns_server.publish("relay.mailpass.test", "v=spf1 ip4:192.0.2.0/24 -all")
    return domain


def _finding(domain, purpose):
    [record] = [r for r in domains.records_of(domain) if r["purpose"] == purpose]
    return record


def test_a_missing_dkim_record_fails_the_domain(published, dns_server):
    dns_server.unpublish(_finding(published, "dkim")["name"])
    domain = domains.domain_verify(published)
    dkim = _finding(domain, "dkim")
    assert domain.status == "failed" and not domains.is_signing(domain)
    assert (dkim["status"], dkim["found"]) == ("failed", None)
    assert dkim["detail"].startswith("No TXT record at mp")
    assert _finding(domain, "spf")["status"] == "verified"


def test_another_key_at_the_selector_fails_the_domain(published, dns_server):
    name = _finding(published, "dkim")["name"]
    dns_server.unpublish(name)
    dns_server.publish(name, "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrong")
    dkim = _finding(domains.domain_verify(published), "dkim")
    assert dkim["status"] == "failed"
    assert dkim["detail"] == "The public key differs from this domain's key."
    assert dkim["found"].endswith("AQEFAAOCAQ8AMIIBCgKCAQEAwrong")


@pytest.mark.parametrize(
    ("spf", "detail"),
    [
        (None, "No SPF record (a TXT record starting v=spf1) at example.com."),
        ("v=spf1 include:_spf.other.example -all", "does not reach include:relay.mailpass.test"),
        ("v=spf1 -all include:relay.mailpass.test", "does not reach include:relay.mailpass.test"),
        ("v=spf1 include:loop-a.example ~all", "The SPF record loops"),
        ("v=spf1 include:deep0.example include:relay.mailpass.test ~all", "more than 10 DNS"),
        ("v=spf1 include:missing.example include:relay.mailpass.test ~all", "has no SPF record"),
    ],
)
def test_spf_must_reach_the_operators_include(published, dns_server, spf, detail):
    dns_server.unpublish("example.com")
    if spf:
        dns_server.publish("example.com", spf)
    dns_server.publish("_spf.other.example", "v=spf1 ip4:198.51.100.1 -all")
    dns_server.publish("loop-a.example", "v=spf1 include:loop-b.example -all")
    dns_server.publish("loop-b.example", "v=spf1 include:loop-a.example -all")
    for depth in range(11):  # a chain of includes: 11 lookups before the operator's
        dns_server.publish(f"deep{depth}.example", f"v=spf1 include:deep{depth + 1}.example -all")
    dns_server.publish("deep11.example", "v=spf1 -all")
    domain = domains.domain_verify(published)
    assert domain.status == "failed"
    assert detail in _finding(domain, "spf")["detail"]


def test_spf_reached_through_an_include_of_the_customer_passes(published, dns_server):
    dns_server.unpublish("example.com")
    dns_server.publish("example.com", "v=spf1 mx include:_spf.example.com ~all")
    dns_server.publish("_spf.example.com", "v=spf1 a include:relay.mailpass.test -all")
    assert domains.domain_verify(published).status == "verified"


@pytest.mark.parametrize(
    ("dmarc", "detail"),
    [
        (None, "No DMARC record at _dmarc.example.com."),
        ("v=DMARC1; p=maybe", "p= must be none, quarantine or reject"),
        ("v=DMARC1; p=none; pct=150", "pct= must be a whole number from 0 to 100"),
        ("v=DMARC1; p=none; rua=reports@example.com", "rua= takes mailto: addresses"),
        ("v=DMARC1; p=none; adkim=x", "adkim= must be r or s"),
        ("p=none; v=DMARC1", "No DMARC record"),  # not a DMARC record at all
        ("v=DMARC1; p=none; p=reject", "malformed tag"),
    ],
)
def test_dmarc_must_be_present_and_valid(published, dns_server, dmarc, detail):
    dns_server.unpublish("_dmarc.example.com")
    if dmarc:
        dns_server.publish("_dmarc.example.com", dmarc)
    domain = domains.domain_verify(published)
    assert domain.status == "failed"
    assert detail in _finding(domain, "dmarc")["detail"]


def test_a_subdomain_may_rely_on_its_parents_dmarc_record(account, dns_server):
    domain = domains.domain_create(account=account, name="mail.example.com")
    dns_server.publish_all(r for r in domains.records_of(domain) if r["purpose"] != "dmarc")
    dns_server.publish("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:d@example.com")
    assert domains.domain_verify(domain).status == "verified"


def test_without_an_spf_include_no_spf_record_is_asked_for(account, dns_server):
    domain = domains.domain_create(account=account, name="example.com")
    assert [r["purpose"] for r in domains.records_of(domain)] == ["dkim", "dmarc"]
    dns_server.publish_all(domains.records_of(domain))
    assert domains.domain_verify(domain).status == "verified"


def test_the_suggested_dmarc_record_names_the_operators_report_address(account, settings):
    settings.MAILPASS_DMARC_RUA = "dmarc@operator.example"
    domain = domains.domain_create(account=account, name="example.com")
    value = _finding(domain, "dmarc")["value"]
    assert value == "v=DMARC1; p=none; rua=mailto:dmarc@operator.example"


# --- re-checks, DNS trouble, the hourly job -------------------------------------------------


def test_a_verified_domain_that_loses_a_record_turns_failed_and_backs_off(
    published, dns_server, time_machine
):
    domain = domains.domain_verify(published)
    assert (domain.status, domain.failures) == ("verified", 0)
    assert domain.next_check_at - domain.checked_at == domains.CHECK_INTERVAL
    dns_server.unpublish("_dmarc.example.com")
    spacing = []
    for _ in range(7):
        domain = domains.domain_verify(domain)
        spacing.append((domain.next_check_at - domain.checked_at).total_seconds() / 3600)
    assert domain.status == "failed"
    assert list(domains.failing_domains(domain.account)) == [domain]
    assert spacing == [2, 4, 8, 16, 24, 24, 24]
    assert domain.verified_at is not None  # when it last passed


def test_a_domain_never_verified_is_not_listed_as_failing(account, dns_server):
    domain = domains.domain_verify(domains.domain_create(account=account, name="new.example"))
    assert domain.status == "failed"  # its records say what is missing
    assert list(domains.failing_domains(account)) == []  # but nothing was lost


def test_a_dns_that_cannot_answer_changes_nothing(published, dns_server):
    domain = domains.domain_verify(published)
    dns_server.servfail.add("example.com")
    with pytest.raises(dns.DnsUnavailableError):
        domains.domain_verify(domain)
    domain.refresh_from_db()
    assert domain.status == "verified"
    assert domain.next_check_at - timezone.now() <= domains.DNS_RETRY


def test_a_dns_that_never_answers_times_out_without_changing_anything(
    published, dns_server, settings, monkeypatch
):
    monkeypatch.setattr(dns, "LIFETIME_SECONDS", 0.5)
    dns_server.silent.add(_finding(published, "dkim")["name"])
    with pytest.raises(dns.DnsUnavailableError):
        domains.domain_verify(published)
    published.refresh_from_db()
    assert published.status == "pending"


def test_the_hourly_job_checks_the_domains_that_are_due(published, dns_server, time_machine):
    other = domains.domain_create(account=published.account, name="other.example")
    call_command("check_domains", "--quiet")
    assert SenderDomain.objects.get(pk=published.pk).status == "pending"  # not due yet
    time_machine.move_to(timezone.now() + dt.timedelta(hours=1, minutes=1))
    out = io.StringIO()
    call_command("check_domains", stdout=out)
    assert "Checked 2 sender domain(s)" in out.getvalue()
    assert SenderDomain.objects.get(pk=published.pk).status == "verified"
    assert SenderDomain.objects.get(pk=other.pk).status == "failed"


def test_the_cron_table_runs_the_domain_checks_every_hour(settings):
    [(schedule, _, _)] = [job for job in settings.CRONJOBS if "check_domains" in job[2]]
    assert schedule.split()[1:] == ["*", "*", "*", "*"] and schedule.split()[0].isdecimal()


# --- rotation -------------------------------------------------------------------------------


def test_rotation_signs_with_the_new_key_only_once_its_record_is_found(published, dns_server):
    domain = domains.domain_verify(published)
    [old] = domain.keys.all()
    domain = domains.domain_rotate(domain)
    [old_record, new_record] = _records(domain, "dkim")
    assert (old_record["key_state"], new_record["key_state"]) == ("active", "pending")
    assert new_record["selector"] != old_record["selector"]
    assert domains.domain_rotate(domain).keys.count() == 2  # again: the same pending key

    domain = domains.domain_verify(domain)  # the new record is not published yet
    assert domain.status == "verified"
    assert [k.state for k in domain.keys.all()] == ["active", "pending"]

    dns_server.publish_all([new_record])
    domain = domains.domain_verify(domain)
    assert domain.status == "verified"
    assert [k.state for k in domain.keys.all()] == ["retired", "active"]
    assert [r["selector"] for r in _records(domain, "dkim")] == [new_record["selector"]]
    signing = domains.signing_keys([domain.account_id])[domain.account_id]["example.com"]
    assert [key.selector for key in signing] == [new_record["selector"]]

    dns_server.unpublish(old_record["name"])  # the owner deletes the old record later
    assert domains.domain_verify(domain).status == "verified"
    old.refresh_from_db()
    assert old.retired_at is not None


def test_rotation_can_add_an_ed25519_key_signed_besides_rsa(published, dns_server):
    domain = domains.domain_rotate(domains.domain_verify(published), ed25519=True)
    pending = [r for r in _records(domain, "dkim") if r["key_state"] == "pending"]
    assert [r["algorithm"] for r in pending] == ["rsa-sha256", "ed25519-sha256"]
    assert pending[1]["value"].startswith("v=DKIM1; k=ed25519; p=")
    assert pending[1]["selector"] == pending[0]["selector"] + "e"
    dns_server.publish_all(pending[:1])
    assert [k.state for k in domains.domain_verify(domain).keys.all()][1:] == ["pending"] * 2
    dns_server.publish_all(pending[1:])
    domain = domains.domain_verify(domain)
    assert [k.state for k in domain.keys.all()] == ["retired", "active", "active"]


def test_two_rotations_on_one_day_get_different_selectors(published, dns_server):
    domain = domains.domain_rotate(published)
    dns_server.publish_all(domains.records_of(domain))
    domain = domains.domain_rotate(domains.domain_verify(domain))
    selectors = [key.selector for key in domain.keys.all()]
    assert selectors == [selectors[0], selectors[0] + "b", selectors[0] + "c"]


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "stored"),
    [("Example.COM.", "example.com"), ("bücher.example", "xn--bcher-kva.example"),
     (" mail.example.org ", "mail.example.org")],
)  # fmt: skip
def test_names_are_stored_lower_case_and_in_punycode(account, name, stored):
    assert domains.domain_create(account=account, name=name).name == stored


@pytest.mark.parametrize(
    "name",
    ["localhost", "192.0.2.1", "[::1]", "user@example.com", "-bad.example", "a..example",
     "exa mple.com", "x" * 64 + ".example", ("a" * 60 + ".") * 5 + "example", "example.123", ""],
)  # fmt: skip
def test_what_is_not_a_domain_name_is_refused(account, name):
    with pytest.raises(ValidationError) as refused:
        domains.domain_create(account=account, name=name)
    assert "name" in refused.value.message_dict
    assert not SenderDomain.objects.exists()


def test_a_domain_is_added_once_per_account_but_by_any_account(account, outsider_account):
    domains.domain_create(account=account, name="example.com")
    with pytest.raises(ValidationError, match="already one of your domains"):
        domains.domain_create(account=account, name="EXAMPLE.com")
    domains.domain_create(account=outsider_account, name="example.com")
    assert SenderDomain.objects.count() == 2


def test_private_keys_are_stored_encrypted_and_never_in_the_records(account):
    domain = domains.domain_create(account=account, name="example.com", ed25519=True)
    for key in DkimKey.objects.filter(domain=domain):
        pem = key.private_key_pem
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
        assert b"PRIVATE" not in key.private_key_encrypted.encode()
        assert pem.decode() not in str(domains.records_of(domain))
    assert "PRIVATE" not in str(domains.records_of(domain))


def test_esp_providers_sign_with_their_own_keys_so_mailpass_does_not(
    account, api, esp_server, dns_server
):
    factories.make_verified_domain(account, "example.com", dns_server)
    server = esp_server("amazon_ses")  # the one ESP kind that is handed whole MIME
    factories.make_esp_provider(account, "amazon_ses", is_default=True)
    message = {
        "to": "user@example.org",
        "subject": "Hi",
        "text": "Hello",
        "from_email": "a@example.com",
    }
    sent = api.post("/api/v1/mail/send", message, format="json")
    assert sent.status_code == 200, sent.content
    [request] = server.requests
    assert request.mime()["From"] == "a@example.com"
    assert request.mime()["DKIM-Signature"] is None
