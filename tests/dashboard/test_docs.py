"""The in-app API documentation: one page per language, true to the API it describes.

The examples on the page are not only shown but run: their JSON bodies go through the API
with a real key, and (where curl and node are installed) the cURL and fetch examples run as
written against a live server. The client-library examples run in tests/sdks, beside the
libraries' own suites.
"""

import base64
import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from html import unescape
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import filesizeformat
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from rest_framework.test import APIClient

from api import serializers as api_serializers
from api import webhook_sender
from api.errors import ApiError
from api.idempotency import IdempotencyConflictError
from api.models import Message, MessageEvent
from api.outbox import EVENT_NAMES
from api.services.scheduling import HORIZON
from api.services.testmode import TEST_DOMAIN
from api.views import DOMAINS_PAGE_SIZE
from providers.kinds import KINDS
from providers.models import Provider
from tests import factories
from tests.dns_server import DnsServer
from tests.webhook_receiver import WebhookReceiver, verify

LANGUAGES = ["en", "de", "ja", "ko", "sw"]
HEADINGS = {
    "en": "Mail API documentation",
    "de": "Dokumentation der Mail-API",
    "ja": "メールAPIドキュメント",
    "ko": "메일 API 문서",
    "sw": "Mwongozo wa API ya barua pepe",
}
ENDPOINTS = [
    "/api/v1/mail/send",
    "/api/v1/mail/send-batch",
    "/api/v1/mail/status/{message_id}",
    "POST /api/v1/mail/{message_id}/cancel",
    "PATCH /api/v1/mail/{message_id}",
    "/api/v1/templates",
    "/api/v1/templates/{id_or_alias}/render",
    "/api/v1/suppressions",
    "/api/v1/webhooks",
    "POST /api/v1/webhooks/{id}/rotate-secret",
    "POST /api/v1/webhooks/{id}/test",
    "GET /api/v1/webhooks/{id}/deliveries",
    "POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
    "/api/v1/domains",
    "POST /api/v1/domains/{id}/verify",
    "POST /api/v1/domains/{id}/rotate",
    "/api/v1/health",
]
# Raised by DRF's own exceptions and mapped in api.errors; the ApiError family adds the rest.
FRAMEWORK_CODES = {
    "VALIDATION_ERROR": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "RATE_LIMITED": 429,
}
SEEDS = Path(os.environ.get("MAILPASS_SEEDS_DIR", settings.BASE_DIR.parent / "shared" / "seeds"))

_CODE_BLOCK = re.compile(r'<pre id="code-(?P<id>[\w-]+)"><code>(?P<body>.*?)</code></pre>', re.S)


def documented_error_codes() -> dict[str, int]:
    codes = dict(FRAMEWORK_CODES)
    pending = [ApiError]
    while pending:
        cls = pending.pop()
        codes[cls.code] = cls.status_code
        pending.extend(cls.__subclasses__())
    assert "IDEMPOTENCY_CONFLICT" == IdempotencyConflictError.code  # imported, so it is listed
    return codes


def get_page(client, user, language: str = "en", **headers: str) -> str:
    client.force_login(user)
    response = client.get(reverse("dashboard:docs"), HTTP_ACCEPT_LANGUAGE=language, **headers)
    assert response.status_code == 200
    return response.content.decode()


def code_blocks(page: str) -> dict[str, str]:
    """{id: text} of every code sample, unescaped as the copy button copies it."""
    return {match["id"]: unescape(match["body"]).strip() for match in _CODE_BLOCK.finditer(page)}


def prose(page: str) -> str:
    """The page's visible text outside code samples, whitespace collapsed."""
    main = page[page.index("<main>") :]
    text = re.sub(r"<pre\b.*?</pre>", " ", main, flags=re.S)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\s+", " ", unescape(text))


def curl_body(command: str) -> dict:
    return json.loads(re.search(r"-d '(.*)'", command, re.S)[1])


def test_docs_page_requires_login(client, db):
    response = client.get(reverse("dashboard:docs"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_docs_page_answers_only_get(owner_client):
    assert owner_client.post(reverse("dashboard:docs")).status_code == 405


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_gets_its_own_page_with_every_endpoint_and_error_code(
    client, owner, account, language
):
    page = get_page(client, owner, language)

    assert f'<html lang="{language}">' in page
    assert f"<h1>{HEADINGS[language]}</h1>" in page
    for other in set(LANGUAGES) - {language}:
        assert HEADINGS[other] not in page
    text = unescape(page)
    for endpoint in ENDPOINTS:
        assert endpoint in text, endpoint
    for code, status in documented_error_codes().items():
        row = f'<td><code>{code}</code></td><td class="num">{status}</td>'
        assert row in page, f"{code} {status} missing from the {language} error table"
    assert "<code>mail</code>" in page  # the permission keys need


def test_the_language_cookie_picks_the_page(client, owner, account):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ko"

    page = get_page(client, owner, "de")

    assert f"<h1>{HEADINGS['ko']}</h1>" in page


def test_a_language_without_its_own_page_gets_the_english_one(client, owner, account):
    page = get_page(client, owner, "fr")

    assert f"<h1>{HEADINGS['en']}</h1>" in page


@pytest.mark.parametrize(
    ("language", "numbers"),
    [("en", ["5,242,880", "1,200"]), ("de", ["5.242.880", "1.200"])],
)
def test_numbers_are_written_the_way_the_language_writes_them(
    client, owner, account, language, numbers
):
    text = prose(get_page(client, owner, language))

    for number in numbers:
        assert number in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_examples_use_this_instances_public_url(client, owner, account, settings, language):
    settings.MAILPASS_PUBLIC_URL = "https://mail.example.org"

    blocks = code_blocks(get_page(client, owner, language))

    assert "curl -X POST https://mail.example.org/api/v1/mail/send \\" in blocks["curl-send"]
    assert "https://mail.example.org/api/v1/mail/send-batch" in blocks["curl-batch"]
    assert "curl https://mail.example.org/api/v1/mail/status/MESSAGE_ID" in blocks["curl-status"]
    assert "fetch('https://mail.example.org/api/v1/mail/send'" in blocks["fetch-send"]
    assert "['base_url' => 'https://mail.example.org']" in blocks["sdk-php"]
    assert 'base_url="https://mail.example.org"' in blocks["sdk-python"]
    assert "{ baseUrl: 'https://mail.example.org' }" in blocks["sdk-js"]
    assert not any("dev.mailpass.im" in block for block in blocks.values())


def test_examples_fall_back_to_the_address_the_page_was_asked_on(client, owner, account, settings):
    settings.MAILPASS_PUBLIC_URL = ""

    blocks = code_blocks(get_page(client, owner))

    assert "curl -X POST http://testserver/api/v1/mail/send \\" in blocks["curl-send"]


def test_the_page_links_the_key_page_and_the_openapi_docs(client, owner, account):
    page = get_page(client, owner)

    for url in (reverse("dashboard:key-list"), reverse("api:schema"), reverse("api:docs")):
        assert f'href="{url}"' in page


def test_every_code_sample_has_a_copy_button_and_a_unique_id(client, owner, account):
    page = get_page(client, owner)

    ids = re.findall(r'<pre id="code-([\w-]+)">', page)
    assert len(ids) == len(set(ids)) >= 12
    for block_id in ids:
        assert f'data-copy="#code-{block_id}"' in page
    # Samples are escaped text, never live markup.
    assert "&lt;p&gt;Hello World&lt;/p&gt;" in page


_SECTION = re.compile(r'<section id="([\w-]+)">')
_TOC_ENTRY = re.compile(r'<li><a href="#([\w-]+)">')


def section(page: str, section_id: str) -> str:
    """The HTML of one <section> of the page."""
    start = page.index(f'<section id="{section_id}">')
    return page[start : page.index("</section>", start)]


def field_row(page: str, field: str) -> str:
    """The row of a field in the /send field table."""
    return re.search(rf"<tr><td><code>{field}</code></td>.*?</tr>", section(page, "send"))[0]


def localized(language: str, value, format_value) -> str:
    with translation.override(language):
        return str(format_value(value))


def test_every_language_has_the_same_sections_each_in_its_contents_list(client, owner, account):
    pages = {language: get_page(client, owner, language) for language in LANGUAGES}

    sections = {language: _SECTION.findall(page) for language, page in pages.items()}
    contents = {
        language: _TOC_ENTRY.findall(
            re.search(r'<nav class="card docs-toc".*?</nav>', page, re.S)[0]
        )
        for language, page in pages.items()
    }

    assert all(ids == sections["en"] for ids in sections.values()), sections
    for language in LANGUAGES:
        assert contents[language] == sections[language], language
    assert {
        "attachments",
        "headers",
        "unsubscribe",
        "templates",
        "scheduling",
        "webhooks",
        "test-mode",
        "domains",
    } <= set(sections["en"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_send_fields_table_has_the_new_fields_with_their_limits(
    client, owner, account, language
):
    page = get_page(client, owner, language)

    attachments = field_row(page, "attachments")
    assert "<td>array</td>" in attachments and 'href="#attachments"' in attachments
    assert str(api_serializers.MAX_ATTACHMENTS) in attachments
    assert (
        localized(language, settings.MAILPASS_MAX_ATTACHMENT_BYTES, filesizeformat) in attachments
    )
    headers = field_row(page, "headers")
    assert "<td>object</td>" in headers and 'href="#headers"' in headers
    assert str(api_serializers.MAX_HEADERS) in headers
    assert localized(language, api_serializers.MAX_HEADERS_BYTES, filesizeformat) in headers
    unsubscribe = field_row(page, "unsubscribe")
    assert "<td>boolean</td>" in unsubscribe and 'href="#unsubscribe"' in unsubscribe


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_attachments_section_states_the_apis_limits(client, owner, account, language):
    text = unescape(section(get_page(client, owner, language), "attachments"))

    assert localized(language, settings.MAILPASS_MAX_ATTACHMENT_BYTES, filesizeformat) in text
    assert localized(language, settings.MAILPASS_MAX_ATTACHMENT_BYTES, intcomma) in text
    for number in (api_serializers.MAX_ATTACHMENTS, api_serializers.MAX_FILENAME_CHARS):
        assert str(number) in text
    assert str(api_serializers.MAX_CONTENT_ID_CHARS) in text
    blocked = [
        f"<code>.{extension}</code>" for extension in sorted(api_serializers.BLOCKED_EXTENSIONS)
    ]
    separator = "、" if language == "ja" else ", "
    assert separator.join(blocked) in text
    assert 'src="cid:logo"' in text
    for field in ("filename", "content", "content_type", "content_id", "size"):
        assert f"<code>{field}</code>" in text
    assert "<code>400 VALIDATION_ERROR</code>" in text and "<code>failed</code>" in text


def test_the_attachment_limit_follows_the_operators_setting(client, owner, account, settings):
    settings.MAILPASS_MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024

    text = section(get_page(client, owner), "attachments")

    assert f"{filesizeformat(5 * 1024 * 1024)} (5,242,880 bytes)" in text
    assert filesizeformat(20 * 1024 * 1024) not in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_attachments_section_lists_each_providers_largest_message(
    client, owner, account, language
):
    text = unescape(section(get_page(client, owner, language), "attachments"))

    cells = dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]*)</td></tr>", text))
    for kind in Provider.Kind:
        label = localized(language, Provider.Kind(kind).label, str)
        size = KINDS[kind].max_message_bytes
        if size is None:
            assert "MailPass" in cells[label], label
        else:
            assert localized(language, size, intcomma) in cells[label], label
    assert re.search(r"\bMB 10\b|\b10 MB\b", cells["Postmark"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_headers_section_names_the_allowed_and_refused_headers(
    client, owner, account, language
):
    text = unescape(section(get_page(client, owner, language), "headers"))

    for name in (*api_serializers.ALLOWED_HEADERS, "X-", "From", "Subject", "DKIM-Signature"):
        assert f"<code>{name}</code>" in text, name
    assert localized(language, api_serializers.MAX_HEADER_VALUE_CHARS, intcomma) in text
    assert str(api_serializers.MAX_HEADERS) in text
    assert localized(language, api_serializers.MAX_HEADERS_BYTES, filesizeformat) in text
    assert 'href="#unsubscribe"' in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_unsubscribe_section_shows_this_instances_link_and_the_account_setting(
    client, owner, account, settings, language
):
    settings.MAILPASS_PUBLIC_URL = "https://mail.example.org"

    text = unescape(section(get_page(client, owner, language), "unsubscribe"))

    assert "<code>List-Unsubscribe: <https://mail.example.org/u/…></code>" in text
    assert "<code>List-Unsubscribe-Post: List-Unsubscribe=One-Click</code>" in text
    assert f'href="{reverse("dashboard:account-settings")}"' in text
    for code in ("POST", "GET", "unsubscribed", "404"):
        assert f"<code>{code}</code>" in text, code
    assert 'href="#suppressions"' in text and 'href="#headers"' in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_status_and_limits_sections_mention_attachments_and_headers(
    client, owner, account, language
):
    page = get_page(client, owner, language)

    assert "<code>attachments</code>" in section(page, "status")
    limits = section(page, "limits")
    assert 'href="#attachments"' in limits
    assert localized(language, settings.MAILPASS_MAX_ATTACHMENT_BYTES, filesizeformat) in limits
    assert localized(language, api_serializers.MAX_HEADERS_BYTES, filesizeformat) in limits


@pytest.mark.parametrize("language", LANGUAGES)
def test_templates_and_scheduled_sending_are_in_the_field_table_status_and_their_sections(
    client, owner, account, language
):
    page = get_page(client, owner, language)

    template = field_row(page, "template")
    assert "<td>object</td>" in template and 'href="#templates"' in template
    assert localized(language, api_serializers.MAX_VARIABLES_BYTES, filesizeformat) in template
    scheduled_at = field_row(page, "scheduled_at")
    assert "<td>string</td>" in scheduled_at and 'href="#scheduling"' in scheduled_at
    status = section(page, "status")
    for value in ("scheduled", "cancelled"):  # a message status and an event type
        assert status.count(f"<tr><td><code>{value}</code></td>") == 2, value
    for field in ("scheduled_at", "template"):
        assert f"<code>{field}</code>" in status, field
    templates = unescape(section(page, "templates"))
    for tag in ("{{name}}", "{{{name}}}", "{{& name}}", "{{#lines}}", "{{^lines}}", "{{> footer}}"):
        assert f"<code>{tag}" in templates, tag
    for route in (
        "GET /api/v1/templates",
        "POST /api/v1/templates",
        "GET /api/v1/templates/{id_or_alias}",
        "PATCH /api/v1/templates/{id_or_alias}",
        "DELETE /api/v1/templates/{id_or_alias}",
        "POST /api/v1/templates/{id_or_alias}/render",
    ):
        assert f"<code>{route}</code>" in templates, route
    permissions = ("templates", "mail", "403 FORBIDDEN")
    for code in (*permissions, "409 TEMPLATE_IN_USE", "400 VALIDATION_ERROR"):
        assert f"<code>{code}</code>" in templates, code
    assert '{"template": {"variables": ["Missing: order_id"]}}' in templates
    scheduling = unescape(section(page, "scheduling"))
    for code in ("409 MESSAGE_NOT_SCHEDULED", "+01:00", "+02:00", "--loop", "suppressed"):
        assert f"<code>{code}</code>" in scheduling, code
    assert str(HORIZON.days) in scheduling and 'href="#suppressions"' in scheduling
    limits = section(page, "limits")
    assert str(HORIZON.days) in limits
    assert localized(language, api_serializers.MAX_VARIABLES_BYTES, filesizeformat) in limits


@pytest.mark.parametrize("language", LANGUAGES)
def test_webhooks_and_test_mode_have_their_facts_in_every_language(
    client, owner, account, language
):
    page = get_page(client, owner, language)

    webhooks = unescape(section(page, "webhooks"))
    for name in EVENT_NAMES:
        assert f"<tr><td><code>{name}</code></td>" in webhooks, name
    for code in (
        "webhooks",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "whsec_",
        "<id>.<timestamp>.<body>",
        "webhook.test",
        "409 WEBHOOK_DISABLED",
        "https://",
        "http://",
        '"failing"',
        '"manual"',
        "overlap_hours",
    ):
        assert f"<code>{code}</code>" in webhooks, code
    for route in (
        "GET /api/v1/webhooks",
        "POST /api/v1/webhooks",
        "GET /api/v1/webhooks/{id}",
        "PATCH /api/v1/webhooks/{id}",
        "DELETE /api/v1/webhooks/{id}",
        "POST /api/v1/webhooks/{id}/rotate-secret",
        "POST /api/v1/webhooks/{id}/test",
        "GET /api/v1/webhooks/{id}/deliveries",
        "POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
    ):
        assert f"<code>{route}</code>" in webhooks, route
    assert 'href="#test-mode"' in webhooks and 'href="#sdks"' in webhooks
    test_mode = unescape(section(page, "test-mode"))
    for outcome in ("delivered", "bounced", "complained", "deferred", "opened", "clicked"):
        assert f"<code>{outcome}@{TEST_DOMAIN}</code>" in test_mode, outcome
    for code in ("mp_test_", "mp_live_", "NO_SMTP_PROVIDER", "from_email", '"test": true'):
        assert f"<code>{code}</code>" in test_mode, code
    assert f"<code>bounced+signup@{TEST_DOMAIN}</code>" in test_mode
    assert f'href="{reverse("dashboard:key-list")}"' in test_mode
    assert "<code>test</code>" in section(page, "status")


@pytest.mark.parametrize("language", LANGUAGES)
def test_sender_domains_have_their_facts_in_every_language(client, owner, account, language):
    page = get_page(client, owner, language)

    domains = unescape(section(page, "domains"))
    for code in (
        "domains",
        "403 FORBIDDEN",
        "400 VALIDATION_ERROR",
        "404 NOT_FOUND",
        "422 DOMAIN_NOT_VERIFIED",
        "details.domain",
        "<selector>._domainkey.<domain>",
        "rsa-sha256",
        "ed25519-sha256",
        '"ed25519": true',
        "bücher.example",
        "xn--bcher-kva.example",
        "include:amazonses.com",
        "~all",
        "p=none",
        "p=quarantine",
        "p=reject",
        "pending",
        "verified",
        "failed",
        "found",
        "detail",
        "signing",
        "next_check_at",
        "key_state",
        "active",
        "queue_id",
        "verify",
        "rotate",
    ):
        assert f"<code>{code}</code>" in domains, code
    for route in (
        "GET /api/v1/domains",
        "POST /api/v1/domains",
        "GET /api/v1/domains/{id}",
        "DELETE /api/v1/domains/{id}",
        "POST /api/v1/domains/{id}/verify",
        "POST /api/v1/domains/{id}/rotate",
    ):
        assert f"<code>{route}</code>" in domains, route
    for status in ("pending", "verified", "failed"):
        assert f"<tr><td><code>{status}</code></td>" in domains, status
    assert "RFC 8463" in domains and "255" in domains
    assert re.search(r"(?<![\d.])10(?!\d)", domains)  # SPF's lookup limit
    rotation = domains[domains.index('<h3 id="dkim-rotation">') :]
    assert len(re.findall(r"<li>", rotation[: rotation.index("</ol>")])) == 6
    for url in (reverse("dashboard:account-settings"), reverse("dashboard:overview")):
        assert f'href="{url}"' in domains, url
    try:
        domains_page = reverse("dashboard:domain-list")
    except NoReverseMatch:  # the dashboard's Domains pages are on their way (i18-dash)
        domains_page = None
    if domains_page:
        assert f'href="{domains_page}"' in domains
    contents = re.search(r'<nav class="card docs-toc".*?</nav>', page, re.S)[0]
    assert '<a href="#domains">' in contents
    errors = section(page, "errors")
    assert "<code>domains</code>" in errors and 'href="#domains"' in errors
    assert "<code>domains</code>" in section(page, "overview")
    assert 'href="#domains"' in section(page, "provider")
    assert 'href="#domains"' in field_row(page, "from_email")


def test_the_domain_samples_show_one_and_the_same_domain(client, owner, account):
    blocks = code_blocks(get_page(client, owner))

    created = curl_body(blocks["curl-domain-create"])
    shown = json.loads(blocks["domain-response"])["data"]["domain"]
    refused = json.loads(blocks["domain-not-verified"])["error"]

    assert shown["name"] == created["name"] == refused["details"]["domain"]
    assert shown["ed25519"] is created["ed25519"]
    assert refused["code"] == "DOMAIN_NOT_VERIFIED"
    for name in ("curl-domain-verify", "curl-domain-rotate"):
        method, path = curl_request(blocks[name])
        assert method == "POST"
        assert path == f"/api/v1/domains/{created['name']}/{path.rsplit('/', 1)[1]}", path
    for record in shown["records"]:
        line = f"{record['name']}."
        assert line in blocks["domain-records"], record["name"]
        assert f'"{record["value"]}"' in blocks["domain-records"], record["value"]
    [spf] = [record for record in shown["records"] if record["purpose"] == "spf"]
    mechanism = spf["value"].split()[1]
    assert blocks["spf-merge"].count(mechanism) == 1  # only the record after the change


def test_the_template_samples_show_one_and_the_same_template(client, owner, account):
    blocks = code_blocks(get_page(client, owner))

    created = curl_body(blocks["curl-template-create"])
    shown = json.loads(blocks["template-response"])["data"]["template"]

    assert created["html"] == blocks["template-html"] + "\n"
    for field in ("name", "alias", "subject", "html", "text", "defaults"):
        assert shown[field] == created[field], field
    assert shown["version"] == 1
    assert curl_body(blocks["curl-send-template"])["template"]["alias"] == created["alias"]


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"product pages not found at {SEEDS}")
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_sentence_of_the_product_pages_is_copied(client, owner, account, language):
    text = prose(get_page(client, owner, language))

    copied = [
        fragment
        for seed in sorted(SEEDS.glob("mail-send-api.*.txt"))
        for fragment in seed_prose(seed.read_text())
        if fragment in text
    ]

    assert copied == []


_CODE_LIKE = re.compile(r"""[{}\[\]"$;=\\]|^(curl|//|#|-H|-d|'|[a-z_]+:)|https?:""")
# The seeds' tables lose their cell borders in some languages: "tostringYesRecipient email".
_TABLE_PREFIX = re.compile(
    r"^(?:[a-z_]+(?:string|array|object)(?:Yes\*?|No|Ja|Nein|Ndiyo|Hapana)|[A-Z_]+\d{3})"
)
_DENSE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def seed_prose(text: str) -> list[str]:
    """Prose of a product page long enough to be a copied sentence rather than a term:
    whole lines and single sentences, 40+ characters (15+ in Japanese and Korean)."""
    fragments = []
    for line in text.splitlines():
        for cell in line.split("|"):
            cell = _TABLE_PREFIX.sub("", cell.strip()).strip()
            if not cell or _CODE_LIKE.search(cell):
                continue
            fragments.append(cell)
            fragments.extend(s.strip() for s in re.split(r"(?<=[.。!?])\s*", cell))
    return [f for f in fragments if len(f) >= (15 if _DENSE_SCRIPT.search(f) else 40)]


def test_the_copy_check_would_catch_a_copied_sentence():
    seed = "Sends a single email now. The email is sent through the user's default SMTP provider.\n"
    seed += "VALIDATION_ERROR400Missing required fields or invalid email, and some more words\n"
    seed += "단건 이메일을 즉시 발송합니다. 사용자의 기본 SMTP provider를 통해 발송됩니다.\n"

    fragments = seed_prose(seed)

    assert "The email is sent through the user's default SMTP provider." in fragments
    assert "Missing required fields or invalid email, and some more words" in fragments
    assert "사용자의 기본 SMTP provider를 통해 발송됩니다." in fragments


def test_the_curl_examples_json_bodies_are_accepted_by_the_api(client, owner, api, provider, sink):
    blocks = code_blocks(get_page(client, owner))

    sent = api.post("/api/v1/mail/send", curl_body(blocks["curl-send"]), format="json")
    assert sent.status_code == 200, sent.json()
    assert sent.json()["data"]["status"] == "sent"
    message_id = sent.json()["data"]["message_id"]
    assert [r.message["Message-ID"] for r in sink.received] == [message_id]

    batch = api.post("/api/v1/mail/send-batch", curl_body(blocks["curl-batch"]), format="json")
    assert batch.status_code == 200, batch.json()
    assert {k: batch.json()["data"][k] for k in ("total", "queued", "failed")} == {
        "total": 2,
        "queued": 2,
        "failed": 0,
    }

    status_url = re.match(r"# Check status\ncurl (\S+)", blocks["curl-status"])[1]
    status_path = urlsplit(status_url).path
    for form in (message_id.strip("<>"), quote(message_id, safe="")):
        status = api.get(status_path.replace("MESSAGE_ID", form))
        assert status.status_code == 200, status.json()
        assert status.json()["data"]["message"]["message_id"] == message_id


def test_the_documented_request_bodies_are_accepted_and_answered_in_the_documented_shape(
    client, owner, account, api, provider, sink
):
    blocks = code_blocks(get_page(client, owner))
    documented = {name: json.loads(blocks[name]) for name in blocks if blocks[name][0] == "{"}

    sent = api.post("/api/v1/mail/send", documented["send-request"], format="json")
    assert sent.status_code == 200, sent.json()
    assert sent.json().keys() == documented["send-response"].keys()
    assert sent.json()["data"].keys() == documented["send-response"]["data"].keys()
    [received] = sink.received
    assert received.rcpt_tos == ["user@example.com", "cc@example.com", "bcc@example.com"]

    batch = api.post("/api/v1/mail/send-batch", documented["batch-request"], format="json")
    assert batch.status_code == 200, batch.json()
    documented_batch = documented["batch-response"]["data"]
    assert batch.json()["data"].keys() == documented_batch.keys()
    for item, documented_item in zip(
        batch.json()["data"]["messages"], documented_batch["messages"], strict=True
    ):
        assert item.keys() == documented_item.keys()
        assert (item["to"], item["status"]) == (documented_item["to"], documented_item["status"])

    message = Message.objects.get(message_id=sent.json()["data"]["message_id"])
    MessageEvent.objects.create(
        account=account,
        message=message,
        event_type="open",
        ip_address="192.0.2.1",
        user_agent="Mozilla/5.0",
    )
    status = api.get(f"/api/v1/mail/status/{quote(message.message_id, safe='')}")
    documented_status = documented["status-response"]["data"]
    # The status example predates attachments (it is the product page's); the page shows
    # the message's attachments list in an example of its own.
    documented_message = (
        documented_status["message"].keys() | documented["status-attachments"].keys()
    )
    assert status.json()["data"]["message"].keys() == documented_message
    assert status.json()["data"]["message"]["attachments"] == []
    assert status.json()["data"]["events"][0].keys() == documented_status["events"][0].keys()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", status.json()["data"]["message"]["sent_at"]
    )
    assert documented_status["message"]["sent_at"].endswith("Z")


def test_the_documented_attachments_are_sent_and_listed_as_the_page_says(
    client, owner, api, provider, sink
):
    blocks = code_blocks(get_page(client, owner))
    request = json.loads(blocks["send-attachments-request"])

    sent = api.post("/api/v1/mail/send", request, format="json")

    assert sent.status_code == 200, sent.json()
    [received] = sink.received
    parts = {part.get_filename(): part for part in received.message.walk() if part.get_filename()}
    for attachment in request["attachments"]:
        part = parts[attachment["filename"]]
        assert part.get_content() == base64.b64decode(attachment["content"])
        if "content_id" in attachment:
            assert part["Content-ID"] == f"<{attachment['content_id']}>"
            assert f'src="cid:{attachment["content_id"]}"' in request["html"]
    message_id = quote(sent.json()["data"]["message_id"], safe="")
    status = api.get(f"/api/v1/mail/status/{message_id}").json()["data"]["message"]
    assert status["attachments"] == json.loads(blocks["status-attachments"])["attachments"]


def test_the_documented_headers_are_sent_and_unsubscribe_adds_the_documented_pair(
    client, owner, api, provider, sink, settings
):
    settings.MAILPASS_PUBLIC_URL = "https://mail.example.org"
    page = get_page(client, owner)
    request = json.loads(code_blocks(page)["send-headers-request"])

    sent = api.post("/api/v1/mail/send", request, format="json")
    unsubscribing = api.post("/api/v1/mail/send", request | {"unsubscribe": True}, format="json")

    assert sent.status_code == unsubscribing.status_code == 200, sent.json()
    plain, with_link = (received.message for received in sink.received)
    for name, value in request["headers"].items():
        assert plain[name] == with_link[name] == value
    assert request["unsubscribe"] is False and plain["List-Unsubscribe"] is None
    documented = dict(re.findall(r"<code>(List-Unsubscribe[\w-]*): (.*?)</code>", unescape(page)))
    assert with_link["List-Unsubscribe-Post"] == documented["List-Unsubscribe-Post"]
    link = documented["List-Unsubscribe"].removesuffix("…>")
    assert with_link["List-Unsubscribe"].startswith(link), with_link["List-Unsubscribe"]


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"From": "a@example.com"}, "From"),
        ({"X-Ok": "1", "DKIM-Signature": "v=1"}, "DKIM-Signature"),
    ],
)
def test_headers_the_page_calls_refused_are_refused(client, owner, api, provider, headers, refused):
    page = unescape(section(get_page(client, owner), "headers"))
    assert f"<code>{refused}</code>" in page

    response = api.post(
        "/api/v1/mail/send",
        {"to": "user@example.com", "subject": "Hi", "text": "Hello", "headers": headers},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]["headers"]) == [refused]


def later(days: float) -> str:
    """A time `days` from now, written as the page writes it: seconds and an offset (+01:00)."""
    moment = datetime.now(timezone(timedelta(hours=1))) + timedelta(days=days)
    return moment.replace(microsecond=0).isoformat()


def curl_request(command: str) -> tuple[str, str]:
    """The method and path of a cURL example."""
    match = re.search(r"curl (?:-X (\w+) )?(\S+)", command)
    return match[1] or "GET", urlsplit(match[2]).path


def client_with(account, *permissions: str) -> APIClient:
    _, key = factories.make_api_key(account, permissions=list(permissions))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def test_the_documented_template_is_created_filled_in_and_sent_as_the_page_says(
    client, owner, account, api, provider, sink
):
    blocks = code_blocks(get_page(client, owner))
    documented = json.loads(blocks["template-response"])
    editor = client_with(account, "mail", "templates")

    created = editor.post(
        "/api/v1/templates", curl_body(blocks["curl-template-create"]), format="json"
    )
    sent = api.post("/api/v1/mail/send", curl_body(blocks["curl-send-template"]), format="json")

    assert created.status_code == 201, created.json()
    assert created.json().keys() == documented.keys()
    template = created.json()["data"]["template"]
    assert template.keys() == documented["data"]["template"].keys()
    for field in ("alias", "name", "version", "latest_version", "subject", "html", "text"):
        assert template[field] == documented["data"]["template"][field], field
    for field in ("defaults", "variables"):
        assert template[field] == documented["data"]["template"][field], field
    assert sent.status_code == 200, sent.json()
    [received] = sink.received
    assert received.message["Subject"] == "Order 12345 has shipped"
    html = received.message.get_body(("html",)).get_content()
    text = received.message.get_body(("plain",)).get_content()
    assert "<p>Hi Ada,</p>" in html and html.count("<li>") == 2 and "1 \u00d7 Teapot" in html
    assert 'href="https://track.example.com/?order=12345&amp;lang=en"' in html
    assert "Track your parcel: https://track.example.com/?order=12345&lang=en" in text
    message_id = quote(sent.json()["data"]["message_id"], safe="")
    status = api.get(f"/api/v1/mail/status/{message_id}").json()["data"]["message"]
    assert status["template"] == {"id": template["id"], "alias": "order-shipped", "version": 1}


def test_template_errors_and_permissions_are_what_the_page_says(
    client, owner, account, api, provider
):
    blocks = code_blocks(get_page(client, owner))
    editor = client_with(account, "mail", "templates")
    created = editor.post(
        "/api/v1/templates", curl_body(blocks["curl-template-create"]), format="json"
    )
    assert created.status_code == 201, created.json()
    request = curl_body(blocks["curl-send-template"])
    variables = request["template"]["variables"]

    # tracking_url and name have defaults; order_id has none.
    missing = api.post(
        "/api/v1/mail/send",
        request | {"template": {"alias": "order-shipped", "variables": {"lines": []}}},
        format="json",
    )
    unknown = api.post(
        "/api/v1/mail/send", request | {"template": {"alias": "no-such-template"}}, format="json"
    )
    both = api.post("/api/v1/mail/send", request | {"subject": "Hi"}, format="json")
    rendered = api.post(
        "/api/v1/templates/order-shipped/render",
        {"variables": {"order_id": variables["order_id"], "lines": []}},
        format="json",
    )
    refused = api.post(
        "/api/v1/templates", curl_body(blocks["curl-template-create"]), format="json"
    )
    partial = editor.post(
        "/api/v1/templates",
        {"name": "Footer", "alias": "footer", "subject": "Hi", "text": "{{> footer}}"},
        format="json",
    )

    assert missing.status_code == 400
    assert missing.json()["error"]["details"] == {"template": {"variables": ["Missing: order_id"]}}
    assert unknown.json()["error"]["details"] == {"template": ["No template with this alias."]}
    assert both.status_code == 400 and "template" in both.json()["error"]["details"]
    assert rendered.status_code == 200, rendered.json()
    assert "<p>Hi there,</p>" in rendered.json()["data"]["html"]
    assert "The tracking link follows" in rendered.json()["data"]["html"]
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    assert partial.status_code == 400 and partial.json()["error"]["code"] == "VALIDATION_ERROR"


def test_the_documented_scheduled_send_is_moved_and_cancelled_as_the_page_says(
    client, owner, account, api, provider, sink
):
    blocks = code_blocks(get_page(client, owner))
    documented = json.loads(blocks["send-scheduled-response"])
    request = curl_body(blocks["curl-send-scheduled"]) | {"scheduled_at": later(days=1)}

    scheduled = api.post("/api/v1/mail/send", request, format="json")

    assert scheduled.status_code == 200, scheduled.json()
    assert scheduled.json().keys() == documented.keys()
    data = scheduled.json()["data"]
    assert data.keys() == documented["data"].keys()
    assert data["status"] == "scheduled" and data["scheduled_at"].endswith("Z")
    assert datetime.fromisoformat(data["scheduled_at"].replace("Z", "+00:00")) == (
        datetime.fromisoformat(request["scheduled_at"])
    )
    assert sink.received == []  # no provider is contacted
    message_id = data["message_id"].strip("<>")
    method, path = curl_request(blocks["curl-reschedule"])
    assert method == "PATCH"
    moved = api.patch(
        path.replace("MESSAGE_ID", message_id),
        curl_body(blocks["curl-reschedule"]) | {"scheduled_at": later(days=2)},
        format="json",
    )
    assert moved.status_code == 200, moved.json()
    assert moved.json()["data"].keys() == {"message_id", "status", "scheduled_at"}
    method, path = curl_request(blocks["curl-cancel"])
    assert method == "POST"
    for _ in range(2):  # a second cancel answers the same
        cancelled = api.post(path.replace("MESSAGE_ID", message_id))
        assert cancelled.status_code == 200, cancelled.json()
        assert cancelled.json()["data"] == {"message_id": data["message_id"], "status": "cancelled"}
    too_late = api.patch(
        f"/api/v1/mail/{message_id}", {"scheduled_at": later(days=3)}, format="json"
    )
    assert too_late.status_code == 409
    assert too_late.json()["error"]["code"] == "MESSAGE_NOT_SCHEDULED"
    assert too_late.json()["error"]["details"] == {
        "message_id": data["message_id"],
        "status": "cancelled",
    }
    status = api.get(f"/api/v1/mail/status/{message_id}").json()["data"]
    assert status["message"]["status"] == "cancelled"
    events = [event["event_type"] for event in status["events"]]
    assert events.count("scheduled") == 2 and events.count("cancelled") == 1


# The operator's settings the documented domain answer shows (its SPF and DMARC rows).
DOCUMENTED_SPF_INCLUDE = "include:amazonses.com"
DOCUMENTED_DMARC_RUA = "dmarc@operator.example"


@pytest.fixture
def documented_operator(settings, dns_server):
    """The instance of the page's domain example: it asks for the documented SPF mechanism
    and reports, and the tests' DNS server publishes the mechanism's own record."""
    settings.MAILPASS_SPF_INCLUDE = DOCUMENTED_SPF_INCLUDE
    settings.MAILPASS_DMARC_RUA = DOCUMENTED_DMARC_RUA
    dns_server.publish(DOCUMENTED_SPF_INCLUDE.partition(":")[2], "v=spf1 ip4:192.0.2.0/24 -all")
    return dns_server


def records_by_purpose(domain: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for record in domain["records"]:
        found.setdefault(record["purpose"], []).append(record)
    return found


def test_the_documented_domain_is_added_checked_and_rotated_as_the_page_says(
    client, owner, account, documented_operator
):
    dns_server: DnsServer = documented_operator
    blocks = code_blocks(get_page(client, owner))
    documented = json.loads(blocks["domain-response"])
    shown = documented["data"]["domain"]
    admin = client_with(account, "domains")

    created = admin.post("/api/v1/domains", curl_body(blocks["curl-domain-create"]), format="json")

    assert created.status_code == 201, created.json()
    assert created.json().keys() == documented.keys()
    assert created.json()["data"].keys() == documented["data"].keys()
    domain = created.json()["data"]["domain"]
    assert domain.keys() == shown.keys()
    for field in ("name", "status", "ed25519", "signing", "checked_at", "verified_at"):
        assert domain[field] == shown[field], field
    assert [r["purpose"] for r in domain["records"]] == [r["purpose"] for r in shown["records"]]
    for record, documented_record in zip(domain["records"], shown["records"], strict=True):
        assert record.keys() == documented_record.keys(), record["purpose"]
        for field in ("type", "status", "found", "detail"):
            assert record[field] == documented_record[field], field
        if record["purpose"] == "dkim":
            for field in ("algorithm", "key_state"):
                assert record[field] == documented_record[field], field
            assert re.fullmatch(r"mp\d{8}", record["selector"])
            assert record["name"] == f"{record['selector']}._domainkey.example.com"
            assert record["value"].startswith(documented_record["value"].removesuffix("…"))
            assert len(record["value"]) > 400  # "over 400 characters": split in DNS
        else:
            assert (record["name"], record["value"]) == (
                documented_record["name"],
                documented_record["value"],
            )

    # Nothing published yet: the check fails, and says why.
    method, path = curl_request(blocks["curl-domain-verify"])
    assert method == "POST"
    failed = admin.post(path).json()["data"]["domain"]
    assert failed["status"] == "failed" and failed["signing"] is False
    [dkim] = records_by_purpose(failed)["dkim"]
    assert dkim["status"] == "failed" and dkim["found"] is None
    assert dkim["detail"].startswith("No TXT record at ")

    dns_server.publish_all(domain["records"])
    verified = admin.post(path).json()["data"]["domain"]
    assert verified["status"] == "verified" and verified["signing"] is True, verified
    assert {r["status"] for r in verified["records"]} == {"verified"}
    assert all(r["found"] == r["value"] and r["detail"] == "" for r in verified["records"])

    # The rotation, step by step.
    method, rotate_path = curl_request(blocks["curl-domain-rotate"])
    assert method == "POST"
    rotating = admin.post(rotate_path).json()["data"]["domain"]
    old, new = records_by_purpose(rotating)["dkim"]
    assert (old["key_state"], new["key_state"], new["status"]) == ("active", "pending", "pending")
    assert new["selector"] == old["selector"] + "b"  # a second key on the same day
    assert admin.post(rotate_path).json()["data"]["domain"] == rotating  # the same pending key
    still = admin.post(path).json()["data"]["domain"]  # the new record is not published yet
    assert still["status"] == "verified" and still["signing"] is True
    dns_server.publish(new["name"], new["value"])
    rotated = admin.post(path).json()["data"]["domain"]
    [current] = records_by_purpose(rotated)["dkim"]
    assert (current["selector"], current["key_state"]) == (new["selector"], "active")
    assert rotated["status"] == "verified"

    listed = admin.get("/api/v1/domains").json()["data"]
    assert listed.keys() == {"total", "page", "pages", "domains"}
    assert admin.get("/api/v1/domains/example.com").json()["data"]["domain"]["id"] == domain["id"]
    deleted = admin.delete(f"/api/v1/domains/{domain['id']}")
    assert deleted.status_code == 200
    assert deleted.json()["data"] == {"id": domain["id"], "name": "example.com"}


def test_the_domain_routes_answer_as_the_page_says(client, owner, account, outsider_account):
    text = unescape(section(get_page(client, owner), "domains"))
    assert f"newest first, {DOMAINS_PAGE_SIZE} per page" in text
    admin = client_with(account, "domains")
    theirs = client_with(outsider_account, "domains")
    theirs.post("/api/v1/domains", {"name": "theirs.example"}, format="json")

    unicode = admin.post("/api/v1/domains", {"name": "bücher.example"}, format="json")
    again = admin.post("/api/v1/domains", {"name": "xn--bcher-kva.example"}, format="json")
    refused = [
        admin.post("/api/v1/domains", {"name": name}, format="json")
        for name in (
            "192.0.2.1",
            "localhost",
            "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".example",
        )
    ]

    assert unicode.status_code == 201, unicode.json()
    assert unicode.json()["data"]["domain"]["name"] == "xn--bcher-kva.example"
    for answer in (again, *refused):
        assert answer.status_code == 400, answer.json()
        assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
        assert "name" in answer.json()["error"]["details"]
    assert admin.get("/api/v1/domains/theirs.example").status_code == 404
    mail_only = client_with(account, "mail").get("/api/v1/domains")
    assert mail_only.status_code == 403 and mail_only.json()["error"]["code"] == "FORBIDDEN"
    unavailable = admin.post("/api/v1/domains/xn--bcher-kva.example/verify")  # no DNS server
    assert unavailable.status_code == 503
    assert unavailable.json()["error"]["code"] == "UNAVAILABLE"
    unchanged = admin.get("/api/v1/domains/xn--bcher-kva.example").json()["data"]["domain"]
    assert unchanged["status"] == "pending" and unchanged["checked_at"] is None


def test_the_documented_refusal_is_what_the_api_answers(client, owner, account, api, provider):
    documented = json.loads(code_blocks(get_page(client, owner))["domain-not-verified"])
    account.verified_domains_only = True
    account.save(update_fields=["verified_domains_only"])
    message = {"to": "user@example.com", "from_email": "shop@example.com", "subject": "Hi"}
    message["text"] = "Hello"

    sent = api.post("/api/v1/mail/send", message, format="json")
    batch = api.post("/api/v1/mail/send-batch", {"messages": [message]}, format="json")

    assert sent.status_code == 422
    assert sent.json() == documented
    assert batch.status_code == 200, batch.json()
    assert batch.json()["data"]["messages"] == [
        {"to": "user@example.com", "status": "failed", "error": documented["error"]}
    ]
    assert not Message.objects.filter(account=account).exists()  # nothing stored


def deliver_webhooks() -> None:
    webhook_sender.process_due(threads=1)


def test_the_documented_endpoint_is_created_and_tested_as_the_page_says(client, owner, account):
    blocks = code_blocks(get_page(client, owner))
    documented = json.loads(blocks["webhook-create-response"])
    documented_delivery = json.loads(blocks["webhook-test-response"])
    hooks = client_with(account, "webhooks")
    request = curl_body(blocks["curl-webhook-create"])

    with WebhookReceiver() as receiver:
        # The page's URL, but on this machine: the documented host would be looked up.
        created = hooks.post("/api/v1/webhooks", request | {"url": receiver.url}, format="json")
        assert created.status_code == 201, created.json()
        assert created.json().keys() == documented.keys()
        data = created.json()["data"]
        assert data.keys() == documented["data"].keys()
        webhook = data["webhook"]
        assert webhook.keys() == documented["data"]["webhook"].keys()
        for field in ("description", "events", "enabled", "disabled_reason", "failing_since"):
            assert webhook[field] == documented["data"]["webhook"][field], field
        assert data["secret"].startswith("whsec_")
        assert documented["data"]["secret"].startswith("whsec_")

        method, path = curl_request(blocks["curl-webhook-test"])
        assert method == "POST"
        queued = hooks.post(path.replace("WEBHOOK_ID", str(webhook["id"])))
        assert queued.status_code == 202, queued.json()
        delivery = queued.json()["data"]["delivery"]
        assert delivery.keys() == documented_delivery["data"]["delivery"].keys()
        for field in ("type", "test", "status", "attempts", "last_attempt_at", "response_code"):
            assert delivery[field] == documented_delivery["data"]["delivery"][field], field
        deliver_webhooks()

    [posted] = receiver.requests
    assert verify(posted.body, posted.headers, data["secret"])
    assert posted.headers["webhook-id"] == delivery["event_id"]
    documented_headers = dict(
        line.split(": ", 1) for line in blocks["webhook-request"].splitlines()[1:]
    )
    for name, value in documented_headers.items():
        assert name.lower() in posted.headers, name
        if name in ("Content-Type", "User-Agent"):
            assert posted.headers[name.lower()] == value, name
    assert posted.event["type"] == "webhook.test"
    assert posted.event["data"] == {
        "webhook_id": webhook["id"],
        "message": "This is a test event from MailPass.",
    }
    assert posted.event.keys() == json.loads(blocks["webhook-event"]).keys()

    hooks.patch(f"/api/v1/webhooks/{webhook['id']}", {"enabled": False}, format="json")
    refused = hooks.post(path.replace("WEBHOOK_ID", str(webhook["id"])))
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "WEBHOOK_DISABLED"


def test_the_test_mode_example_bounces_and_posts_the_documented_event(client, owner, account, sink):
    blocks = code_blocks(get_page(client, owner))
    documented = json.loads(blocks["webhook-event"])
    assert "mp_test_YOUR_KEY" in blocks["curl-test-mode"]
    test_api = client_with_test_key(account)

    with WebhookReceiver() as receiver:
        test_api.post("/api/v1/webhooks", {"url": receiver.url}, format="json")
        sent = test_api.post(
            "/api/v1/mail/send", curl_body(blocks["curl-test-mode"]), format="json"
        )
        deliver_webhooks()

    assert sent.status_code == 200, sent.json()  # with no provider at all
    assert sent.json()["data"]["status"] == "sent" and sink.received == []
    message_id = sent.json()["data"]["message_id"].strip("<>")
    status = test_api.get(f"/api/v1/mail/status/{message_id}").json()["data"]["message"]
    assert status["status"] == "bounced" and status["test"] is True
    events = {request.event["type"]: request.event for request in receiver.requests}
    assert set(events) == {"email.sent", "email.bounced"}
    bounced = events["email.bounced"]
    assert bounced.keys() == documented.keys()
    assert bounced["data"].keys() == documented["data"].keys()
    assert bounced["data"]["details"].keys() == documented["data"]["details"].keys()
    assert bounced["test"] is True and documented["test"] is False
    assert bounced["type"] == documented["type"]
    live = client_with(account, "mail").get(f"/api/v1/mail/status/{message_id}")
    assert live.status_code == 404  # live and test never mix


def client_with_test_key(account) -> APIClient:
    _, key = factories.make_api_key(account, permissions=["mail", "webhooks"], test=True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


@pytest.mark.parametrize(
    ("scheduled_at", "refusal"),
    [
        ("2026-12-05T09:00:00", "Must include a time zone offset, e.g. +01:00 or Z."),
        (later(days=-1), "Must not be in the past."),
        (later(days=HORIZON.days + 1), f"At most {HORIZON.days} days ahead."),
    ],
)
def test_the_times_the_page_calls_refused_are_refused(api, provider, scheduled_at, refusal):
    response = api.post(
        "/api/v1/mail/send",
        {"to": "user@example.com", "subject": "Hi", "text": "Hello", "scheduled_at": scheduled_at},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"scheduled_at": [refusal]}


def test_the_documented_failed_batch_item_is_what_the_api_answers(client, owner, api, provider):
    documented = json.loads(code_blocks(get_page(client, owner))["batch-failed-item"])

    batch = api.post(
        "/api/v1/mail/send-batch",
        {"messages": [{"to": documented["to"], "subject": "Hi", "text": "Hello"}]},
        format="json",
    )

    assert batch.json()["data"]["messages"] == [documented]


def test_the_documented_error_answer_is_what_the_api_answers(client, owner, api):
    documented = json.loads(code_blocks(get_page(client, owner))["error-response"])

    response = api.post(
        "/api/v1/mail/send",
        {"to": "user@example.com", "subject": "Hi", "text": "Hello"},
        format="json",
    )

    assert response.status_code == 422
    assert response.json() == documented


def test_the_documented_health_answer_has_the_apis_shape(client, owner, settings):
    documented = json.loads(code_blocks(get_page(client, owner))["health-response"])
    settings.MAILPASS_HEALTH_TOKEN = "operator-token"

    health = client.get("/api/v1/health", HTTP_AUTHORIZATION="Bearer operator-token").json()

    assert health["data"].keys() == documented["data"].keys()
    assert health["data"]["queue"].keys() == documented["data"]["queue"].keys()


# --- The examples as written, against a live server ----------------------------------


@pytest.fixture
def live_examples(live_server, client, owner, account, sink, settings):
    """The English page's code samples with this live server as base URL, and a key."""
    settings.MAILPASS_PUBLIC_URL = live_server.url
    factories.make_provider(account, port=sink.port)
    _, key = factories.make_api_key(account)
    return code_blocks(get_page(client, owner)), key


def run(command: list[str], **kwargs) -> str:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=30, check=True, **kwargs
    ).stdout


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_examples_work_as_written(live_examples, sink):
    blocks, key = live_examples

    def curl(name: str, message_id: str = "") -> dict:
        command = blocks[name].replace("YOUR_API_KEY", key).replace("MESSAGE_ID", message_id)
        return json.loads(run(["bash", "-c", command + " --silent --show-error --max-time 20"]))

    single = curl("curl-send")
    assert single["data"]["status"] == "sent"
    assert curl("curl-batch")["data"]["queued"] == 2
    status = curl("curl-status", message_id=single["data"]["message_id"].strip("<>"))
    assert status["data"]["message"]["status"] == "sent"
    assert len(sink.received) == 1  # the batch waits for the queue worker


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_template_and_scheduling_curl_examples_work_as_written(
    live_server, client, owner, account, sink, settings
):
    settings.MAILPASS_PUBLIC_URL = live_server.url
    factories.make_provider(account, port=sink.port)
    _, key = factories.make_api_key(account, permissions=["mail", "templates"])
    blocks = code_blocks(get_page(client, owner))

    def curl(name: str, message_id: str = "", times: dict[str, str] | None = None) -> dict:
        command = blocks[name].replace("YOUR_API_KEY", key).replace("MESSAGE_ID", message_id)
        for documented, now_valid in (times or {}).items():
            assert documented in command, documented
            command = command.replace(documented, now_valid)
        return json.loads(run(["bash", "-c", command + " --silent --show-error --max-time 20"]))

    assert curl("curl-template-create")["data"]["template"]["version"] == 1
    assert curl("curl-send-template")["data"]["status"] == "sent"
    scheduled = curl("curl-send-scheduled", times={"2026-12-05T09:00:00+01:00": later(days=1)})
    assert scheduled["data"]["status"] == "scheduled", scheduled
    message_id = scheduled["data"]["message_id"].strip("<>")
    moved = curl("curl-reschedule", message_id, {"2026-12-07T09:00:00+01:00": later(days=2)})
    assert moved["data"]["status"] == "scheduled", moved
    assert curl("curl-cancel", message_id)["data"]["status"] == "cancelled"
    [received] = sink.received  # the template's message; the scheduled one never went out
    assert received.message["Subject"] == "Order 12345 has shipped"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_webhook_and_test_mode_curl_examples_work_as_written(
    live_server, client, owner, account, settings
):
    settings.MAILPASS_PUBLIC_URL = live_server.url
    _, key = factories.make_api_key(account, permissions=["mail", "webhooks"])
    _, test_key = factories.make_api_key(account, permissions=["mail", "webhooks"], test=True)
    blocks = code_blocks(get_page(client, owner))

    def curl(name: str, replacements: dict[str, str]) -> dict:
        command = blocks[name]
        for documented, now_valid in replacements.items():
            assert documented in command, documented
            command = command.replace(documented, now_valid)
        return json.loads(run(["bash", "-c", command + " --silent --show-error --max-time 20"]))

    with WebhookReceiver() as receiver:
        created = curl(
            "curl-webhook-create",
            {"YOUR_API_KEY": key, "https://app.example.com/hooks/mailpass": receiver.url},
        )
        assert created["success"] is True, created
        webhook_id = str(created["data"]["webhook"]["id"])
        queued = curl("curl-webhook-test", {"YOUR_API_KEY": key, "WEBHOOK_ID": webhook_id})
        assert queued["data"]["delivery"]["type"] == "webhook.test", queued
        sent = curl("curl-test-mode", {"mp_test_YOUR_KEY": test_key})
        assert sent["data"]["status"] == "sent", sent
        deliver_webhooks()

    # The documented endpoint wants delivered, bounced and complained: not sent.
    posted = sorted((r.event["type"], r.event["test"]) for r in receiver.requests)
    assert posted == [("email.bounced", True), ("webhook.test", False)]
    assert all(verify(r.body, r.headers, created["data"]["secret"]) for r in receiver.requests)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_fetch_examples_work_as_written(live_examples, sink, tmp_path):
    blocks, key = live_examples

    def node(name: str, message_id: str = "") -> str:
        script = tmp_path / f"{name}.mjs"  # an ES module, for the top-level await
        script.write_text(
            blocks[name].replace("YOUR_API_KEY", key).replace("MESSAGE_ID", message_id)
        )
        return run(["node", str(script)]).strip()

    message_id = node("fetch-send")
    assert [r.message["Message-ID"] for r in sink.received] == [message_id]
    assert node("fetch-batch").startswith("2 [")
    assert node("fetch-status", message_id=message_id).startswith("sent ")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_domain_curl_examples_work_as_written(
    live_server, client, owner, account, settings, documented_operator
):
    dns_server: DnsServer = documented_operator
    settings.MAILPASS_PUBLIC_URL = live_server.url
    _, key = factories.make_api_key(account, permissions=["domains"])
    blocks = code_blocks(get_page(client, owner))

    def curl(name: str) -> dict:
        command = blocks[name]
        assert "YOUR_API_KEY" in command
        command = command.replace("YOUR_API_KEY", key)
        return json.loads(run(["bash", "-c", command + " --silent --show-error --max-time 20"]))

    created = curl("curl-domain-create")
    assert created["success"] is True, created
    dns_server.publish_all(created["data"]["domain"]["records"])
    verified = curl("curl-domain-verify")
    assert verified["data"]["domain"]["status"] == "verified", verified
    rotated = curl("curl-domain-rotate")
    states = [r["key_state"] for r in records_by_purpose(rotated["data"]["domain"])["dkim"]]
    assert states == ["active", "pending"], rotated
