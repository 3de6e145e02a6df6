"""The Domains pages: the list, add (and what the service refuses), a domain's records to
publish with copy buttons, "Check now" against the tests' DNS server, rotate, delete; no
private key on any page; tenant isolation."""

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from providers import domains
from providers.models import DkimKey, SenderDomain
from tests.dns_server import DnsServer

pytestmark = pytest.mark.django_db

SPF_INCLUDE = "include:spf.mailpass.test"


@pytest.fixture
def spf_asked(settings):
    """The operator asks every domain for an SPF record (and gets DMARC reports)."""
    settings.MAILPASS_SPF_INCLUDE = SPF_INCLUDE
    settings.MAILPASS_DMARC_RUA = "dmarc@operator.example"
    return settings


def publish_domain(dns_server: DnsServer, domain: SenderDomain) -> None:
    """Publish what the domain's page asks for, and the operator's own SPF record that the
    SPF include points at (on the internet it is there already)."""
    dns_server.publish_all(domains.records_of(domain))
    dns_server.publish("spf.mailpass.test", "v=spf1 ip4:192.0.2.0/24 -all")


def notes(response) -> list[str]:
    return [str(note) for note in get_messages(response.wsgi_request)]


def make_domain(account, name: str = "shop.example", **fields) -> SenderDomain:
    return domains.domain_create(account=account, name=name, **fields)


def page(client: Client, domain: SenderDomain) -> str:
    response = client.get(f"/domains/{domain.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def rows(html: str) -> dict[str, list[str]]:
    """The records table: purpose → the rows of that purpose (their HTML)."""
    found: dict[str, list[str]] = {}
    for purpose, row in re.findall(r'<tr class="record (\w+)"[^>]*>(.*?)</tr>', html, re.S):
        found.setdefault(purpose, []).append(row)
    return found


def copied(html: str, which: str) -> list[str]:
    """The texts the page's copy buttons of `which` (name or value) copy, in order."""
    texts = []
    for target in re.findall(rf'data-copy="#(record-\d+-{which})"', html):
        match = re.search(rf'<code id="{target}">([^<]*)</code>', html)
        assert match, target
        texts.append(match.group(1))
    return texts


def private_key_texts(domain: SenderDomain) -> list[str]:
    """Pieces of every private key of the domain that no page may contain."""
    texts = []
    for key in DkimKey.objects.filter(domain=domain):
        pem = key.private_key_pem.decode()
        body = "".join(line for line in pem.splitlines() if "-----" not in line)
        texts += [body[i : i + 40] for i in range(0, len(body) - 40, 200)]
    return texts


# --- pages ------------------------------------------------------------------------------------


def test_the_domain_pages_send_anonymous_visitors_to_the_login_page(account):
    domain = make_domain(account)
    for url in ("/domains/", "/domains/new/", f"/domains/{domain.pk}/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_nav_has_domains_and_the_empty_list_says_why_to_add_one(owner_client):
    html = owner_client.get("/domains/").content.decode()

    assert '<a href="/domains/" aria-current="page">Domains</a>' in html
    assert "No domains yet" in html and "DKIM-signed" in html
    assert 'href="/domains/new/"' in html


def test_the_list_shows_the_accounts_domains_with_status_signing_and_last_check(
    owner_client, account, outsider_account, dns_server
):
    make_domain(account, "new.example")
    verified = make_domain(account, "shop.example")
    make_domain(outsider_account, "theirs.example")
    publish_domain(dns_server, verified)
    domains.domain_verify(verified)

    html = owner_client.get("/domains/").content.decode()

    assert "new.example" in html and "shop.example" in html and "theirs.example" not in html
    assert '<span class="badge pending">pending</span>' in html
    assert '<span class="badge verified">verified</span>' in html
    assert "not checked yet" in html  # new.example was never checked
    assert f'href="/domains/{verified.pk}/"' in html
    table = html[html.index("<tbody>") :]
    assert table.count(">yes<") == 1 and table.count(">no<") == 1


def test_adding_a_domain_leads_to_its_records(owner_client, account):
    form = owner_client.get("/domains/new/").content.decode()
    assert 'name="name"' in form and 'type="checkbox" name="ed25519"' in form
    assert "Also sign with an Ed25519 key (in addition to RSA)" in form

    response = owner_client.post("/domains/new/", {"name": "Shop.Example", "ed25519": "on"})

    domain = SenderDomain.objects.get(account=account)
    assert (domain.name, domain.ed25519, domain.status) == ("shop.example", True, "pending")
    assert response.status_code == 302 and response["Location"] == f"/domains/{domain.pk}/"
    assert notes(response) == [
        "shop.example is added. Publish the records below at your DNS host, then check them."
    ]


@pytest.mark.parametrize("name", ["not a domain", "192.0.2.1", "localhost", "a@shop.example"])
def test_a_name_the_service_refuses_is_an_error_on_the_name_field(owner_client, name):
    response = owner_client.post("/domains/new/", {"name": name})

    assert response.status_code == 200
    errors = response.context["form"].errors["name"]
    assert errors and errors[0].startswith("Enter ")
    assert errors[0] in response.content.decode()
    assert not SenderDomain.objects.exists()


def test_a_domain_the_account_has_is_refused_on_the_name_field(owner_client, account):
    make_domain(account)

    response = owner_client.post("/domains/new/", {"name": "shop.example"})

    assert response.context["form"].errors["name"] == [
        "shop.example is already one of your domains."
    ]
    assert SenderDomain.objects.count() == 1


def test_an_idn_is_stored_and_shown_in_punycode(owner_client, account):
    owner_client.post("/domains/new/", {"name": "bücher.example"})

    domain = SenderDomain.objects.get(account=account)
    assert domain.name == "xn--bcher-kva.example"
    assert "_dmarc.xn--bcher-kva.example" in page(owner_client, domain)


def test_the_records_table_has_the_dkim_spf_and_dmarc_rows_with_copy_buttons(
    owner_client, account, spf_asked
):
    domain = make_domain(account, ed25519=True)

    html = page(owner_client, domain)

    table = rows(html)
    assert sorted(table) == ["dkim", "dmarc", "spf"] and len(table["dkim"]) == 2
    records = domains.records_of(domain)
    assert copied(html, "name") == [record["name"] for record in records]
    assert copied(html, "value") == [record["value"] for record in records]
    rsa, ed = table["dkim"]
    assert "rsa-sha256" in rsa and "ed25519-sha256" in ed
    selector = records[0]["selector"]
    assert f"<code>{selector}</code>" in rsa and f"<code>{selector}e</code>" in ed
    assert "signs once the domain is verified" in rsa  # active, not yet verified
    assert f"v=spf1 {SPF_INCLUDE} ~all" in table["spf"][0]
    assert "rua=mailto:dmarc@operator.example" in table["dmarc"][0]
    for row in table.values():
        assert "not checked yet" in row[0]
    assert html.count('data-copied="Copied"') == 2 * len(records)
    # The notes: long DKIM values, ONE SPF record, ESPs sign with their own keys.
    assert "255 characters" in html
    assert "A domain has ONE SPF record." in html
    assert "Amazon SES" in html and "sign with their own keys" in html


def test_without_an_spf_include_there_is_no_spf_row_nor_note(owner_client, account):
    html = page(owner_client, make_domain(account))

    assert sorted(rows(html)) == ["dkim", "dmarc"]
    assert "ONE SPF record" not in html


def test_no_page_shows_private_key_material(owner_client, account, spf_asked, dns_server):
    domain = make_domain(account, ed25519=True)
    domains.domain_rotate(domain)  # pending keys too
    hidden = private_key_texts(domain)
    assert len(hidden) > 10

    for url in (
        "/",
        "/domains/",
        f"/domains/{domain.pk}/",
        f"/domains/{domain.pk}/delete/",
        "/settings/",
    ):
        html = owner_client.get(url).content.decode()
        assert "PRIVATE KEY" not in html and "BEGIN" not in html, url
        assert not [text for text in hidden if text in html], url
    for record in domains.records_of(domain):
        assert "PRIVATE" not in str(record)


# --- check now ----------------------------------------------------------------------------


def test_check_now_finds_the_published_records_and_the_domain_signs(
    owner_client, account, spf_asked, dns_server
):
    domain = make_domain(account, ed25519=True)
    publish_domain(dns_server, domain)

    response = owner_client.post(f"/domains/{domain.pk}/verify/")

    assert response.status_code == 302 and response["Location"] == f"/domains/{domain.pk}/"
    assert notes(response) == ["Every record checked out: shop.example is verified."]
    domain.refresh_from_db()
    assert domain.status == "verified" and domain.checked_at is not None
    html = page(owner_client, domain)
    assert '<span class="badge verified" id="domain-status">verified</span>' in html
    assert "yes: its mail through SMTP servers and MailPass relays is DKIM-signed" in html
    table = rows(html)
    every_row = [row for purpose_rows in table.values() for row in purpose_rows]
    assert all('<span class="badge verified">found</span>' in row for row in every_row)
    assert all(">signing</span>" in row for row in table["dkim"])


def test_check_now_says_what_is_missing(owner_client, account, spf_asked, dns_server):
    domain = make_domain(account)
    dns_server.publish(f"_dmarc.{domain.name}", "v=DMARC1; p=bogus")

    response = owner_client.post(f"/domains/{domain.pk}/verify/", follow=True)

    html = response.content.decode()
    assert "shop.example is not verified: the table below says what was found" in html
    domain.refresh_from_db()
    assert domain.status == "failed"
    assert '<span class="badge failed" id="domain-status">failed</span>' in html
    table = rows(html)
    dkim = table["dkim"][0]
    assert '<span class="badge failed">failed</span>' in dkim and "No TXT record at" in dkim
    dmarc = table["dmarc"][0]
    assert "Not a valid DMARC record" in dmarc
    assert "found:</span> <code>v=DMARC1; p=bogus</code>" in dmarc


def test_a_dns_that_cannot_be_asked_changes_nothing_and_says_so(owner_client, account, dns_server):
    domain = make_domain(account)
    dns_server.servfail.update(str(record["name"]) for record in domains.records_of(domain))

    response = owner_client.post(f"/domains/{domain.pk}/verify/")

    assert response.status_code == 302
    assert notes(response)[0].startswith("The DNS could not be asked just now")
    domain.refresh_from_db()
    assert domain.status == "pending" and domain.checked_at is None


def test_the_actions_take_posts_only(owner_client, account):
    domain = make_domain(account)
    for action in ("verify", "rotate"):
        assert owner_client.get(f"/domains/{domain.pk}/{action}/").status_code == 405


# --- rotate and delete ----------------------------------------------------------------------


def test_rotating_shows_the_new_keys_waiting_then_check_now_switches_to_them(
    owner_client, account, dns_server
):
    domain = make_domain(account)
    publish_domain(dns_server, domain)
    domains.domain_verify(domain)
    old = DkimKey.objects.get(domain=domain)
    html = page(owner_client, domain)
    assert 'name="ed25519"' in html and "new selector" in html

    response = owner_client.post(f"/domains/{domain.pk}/rotate/", {"ed25519": "on"})

    assert response.status_code == 302
    assert notes(response)[0].startswith("New keys are made.")
    new = DkimKey.objects.filter(domain=domain, state="pending")
    assert sorted(key.algorithm for key in new) == ["ed25519-sha256", "rsa-sha256"]
    table = rows(page(owner_client, domain))["dkim"]
    assert len(table) == 3
    assert ">signing</span>" in table[0] and old.selector in table[0]
    assert all(">waiting for its record</span>" in row for row in table[1:])

    again = owner_client.post(f"/domains/{domain.pk}/rotate/", {"ed25519": "on"})
    assert notes(again)[0].startswith("A rotation is already under way")
    assert DkimKey.objects.filter(domain=domain).count() == 3

    publish_domain(dns_server, domain)
    owner_client.post(f"/domains/{domain.pk}/verify/")
    table = rows(page(owner_client, domain))["dkim"]
    assert len(table) == 2 and old.selector + "<" not in "".join(table)
    assert all(">signing</span>" in row for row in table)
    old.refresh_from_db()
    assert old.state == "retired"


def test_deleting_asks_first_then_deletes_the_domain(owner_client, account):
    domain = make_domain(account)

    confirm = owner_client.get(f"/domains/{domain.pk}/delete/")
    assert confirm.status_code == 200 and "Delete shop.example" in confirm.content.decode()
    assert SenderDomain.objects.filter(pk=domain.pk).exists()

    response = owner_client.post(f"/domains/{domain.pk}/delete/")

    assert response["Location"] == "/domains/"
    assert notes(response) == ["The domain shop.example is deleted."]
    assert not SenderDomain.objects.filter(pk=domain.pk).exists()
    assert not DkimKey.objects.filter(domain_id=domain.pk).exists()


# --- whose ------------------------------------------------------------------------------------


def test_another_accounts_domain_is_a_404_and_stays_as_it_is(
    owner_client, account, outsider_account, dns_server
):
    theirs = make_domain(outsider_account, "theirs.example")
    keys = list(DkimKey.objects.filter(domain=theirs).values_list("selector", "state"))

    for url in (f"/domains/{theirs.pk}/", f"/domains/{theirs.pk}/delete/"):
        assert owner_client.get(url).status_code == 404, url
    for action in ("verify", "rotate", "delete"):
        url = f"/domains/{theirs.pk}/{action}/"
        assert owner_client.post(url, {"ed25519": "on"}).status_code == 404, url

    theirs.refresh_from_db()
    assert theirs.status == "pending" and theirs.checked_at is None and not theirs.ed25519
    assert list(DkimKey.objects.filter(domain=theirs).values_list("selector", "state")) == keys


def test_a_teammate_manages_the_accounts_domains(teammate, account, dns_server):
    domain = make_domain(account)
    client = Client()
    client.force_login(teammate)

    assert "shop.example" in client.get("/domains/").content.decode()
    assert client.post(f"/domains/{domain.pk}/rotate/").status_code == 302
    assert client.post(f"/domains/{domain.pk}/delete/").status_code == 302
    assert not SenderDomain.objects.exists()
