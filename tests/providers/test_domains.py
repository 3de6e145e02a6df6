"""Sender domains: adding them, what they must publish, checking the DNS (against the
tests' loopback DNS server), rotation, and the API around them."""

import pytest

from providers import domains
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
