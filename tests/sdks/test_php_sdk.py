"""The PHP SDK (sdks/php): its packaging, its own PHPUnit suite against a live MailPass and
the retry fake, the product page's PHP snippet run as printed, the DKIM signature of what it
sent from a verified domain, and its webhook verifier on what MailPass's own sender signs."""

import json
import re
import shutil
import subprocess

import dkim
import pytest
from django.db import connection

from api.models import Message, WebhookDelivery, WebhookEndpoint
from providers.models import SenderDomain
from tests.sdks.conftest import (
    SDKS,
    assert_invoice_mail_arrived,
    assert_sent_mail_arrived,
    run_suite,
    signed_deliveries,
)
from tests.test_seed_examples import SEED_PAGE, seed_section

PHP_SDK = SDKS / "php"
TOOLS = ("php", "phpunit", "composer")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="the SDK suites run once, on the SQLite leg"
    ),
    pytest.mark.skipif(
        any(shutil.which(tool) is None for tool in TOOLS),
        reason="the PHP SDK needs php, phpunit and composer on PATH",
    ),
    pytest.mark.skipif(not SEED_PAGE.exists(), reason=f"product page not found at {SEED_PAGE}"),
]


def test_php_sdk(sdk_env, sink, dns_server, tmp_path):
    # 1. Packaging: the Composer manifest is valid, strictly.
    run_suite(["composer", "validate", "--strict", "--no-interaction"], cwd=PHP_SDK, env=sdk_env)

    # 2. The SDK's own suite, against the live server and the retry fake.
    output = run_suite(["phpunit", "-c", "phpunit.xml.dist"], cwd=PHP_SDK, env=sdk_env)
    summary = re.search(r"^OK \((\d+) tests?, \d+ assertions?\)$", output, re.MULTILINE)
    assert summary, f"the PHP suite skipped or left something out:\n{output}"
    print(f"[sdk] php: {summary.group(1)} tests")

    # 3. The product page's snippet, verbatim but for the key, after the drop-in autoloader.
    snippet = seed_section("PHP SDK\n", "SMTP Provider Setup Required")
    assert "mp_live_YOUR_KEY" in snippet
    script = tmp_path / "quickstart.php"
    script.write_text(
        f"<?php require {str(PHP_SDK / 'autoload.php')!r};\n"
        + snippet.replace("mp_live_YOUR_KEY", sdk_env["MAILPASS_TEST_KEY"])
    )
    before = len(sink.received)
    result = subprocess.run(
        ["php", str(script)], env=sdk_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    message_id = result.stdout.strip()
    assert re.fullmatch(r"<[^<>\s]+@[^<>\s]+>", message_id), result.stdout + result.stderr
    assert [r.message["Message-ID"] for r in sink.received[before:]] == [message_id]

    # 4. Everything the server recorded as sent reached the sink, once; the message with
    #    attachments, a custom header and unsubscribe as the suite sent it; the one sent
    #    with a template, rendered; none of the messages the suite scheduled and cancelled.
    assert_sent_mail_arrived(sink)
    assert_invoice_mail_arrived(sink)
    [templated] = [
        r.message for r in sink.received if r.message["Subject"] == "Order PHP-16 shipped"
    ]
    assert "<p>Hi Ada</p><ul><li>Tea</li></ul>" in templated.get_body(("html",)).get_content()
    assert templated.get_body(("plain",)).get_content().startswith("Hi Ada")
    cancelled = set(Message.objects.filter(status="cancelled").values_list("message_id", flat=True))
    assert len(cancelled) == 2
    assert not cancelled & {r.message["Message-ID"] for r in sink.received}

    # 5. Test mode: the suite's test-key messages are recorded, as test messages, and none
    #    of them reached the sink; the webhook endpoints it made went, deliveries and all.
    test_ids = set(Message.objects.filter(test=True).values_list("message_id", flat=True))
    assert len(test_ids) == 5  # three of testATestKeySendsNothing, two of ...NeverMix
    assert not test_ids & {r.message["Message-ID"] for r in sink.received}
    assert not [r for r in sink.received if "test.mailpass.invalid" in " ".join(r.rcpt_tos)]
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()

    # 6. Sender domains: the strict account's mail from verified.example arrived signed for
    #    that domain, with a signature that verifies against the tests' DNS; what it tried to
    #    send from unverified.example (a send, a batch item) was never stored; the domains
    #    the suite added are gone.
    [signed] = [r for r in sink.received if r.message["Subject"] == "From a verified domain"]
    assert "d=verified.example;" in re.sub(r"\s", "", signed.message["DKIM-Signature"])
    assert dkim.verify(signed.data, dnsfunc=dns_server.dkimpy_lookup)
    assert not Message.objects.filter(from_email="hello@unverified.example").exists()
    assert not SenderDomain.objects.filter(name__startswith="sdk-").exists()


# Verifies one received request with each secret in turn: the event's type, or "refused".
VERIFY_PHP = """<?php
require $argv[1];
$in = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
foreach ($in['secrets'] as $secret) {
    try {
        echo MailPass\\Webhook::verify($in['body'], $in['headers'], $secret)['type'], "\\n";
    } catch (MailPass\\Exception\\WebhookVerificationException $e) {
        echo "refused\\n";
    }
}
"""


def test_php_verifier_takes_what_mailpass_signs(account, tmp_path):
    """MailPass\\Webhook::verify() on two real deliveries of the server's sender: one signed
    with the endpoint's secret; one, after a rotation, with the new and the old secret."""
    deliveries = signed_deliveries(account)
    first, second = deliveries.first, deliveries.second
    old, new, wrong = deliveries.old, deliveries.new, deliveries.wrong
    script = tmp_path / "verify.php"
    script.write_text(VERIFY_PHP)

    def verified(request) -> list[str]:
        given = {
            "body": request.body.decode(),
            "headers": request.headers,
            "secrets": [old, new, wrong],
        }
        result = subprocess.run(
            ["php", str(script), str(PHP_SDK / "autoload.php")],
            input=json.dumps(given),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.split()

    assert verified(first) == ["webhook.test", "refused", "refused"]
    assert verified(second) == ["webhook.test", "webhook.test", "refused"]
