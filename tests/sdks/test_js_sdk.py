"""The JavaScript SDK (sdks/js): its declarations type-checked, its tarball's contents, its
own `node --test` suite against a live MailPass and the retry fake, and its README's
quickstart run as written from the installed tarball."""

import json
import os
import re
import shutil
import subprocess
from email.utils import parseaddr

import pytest
from django.db import connection

from api import services, webhook_sender
from tests.sdks.conftest import (
    SDKS,
    assert_invoice_mail_arrived,
    assert_sent_mail_arrived,
    free_port,
    run_suite,
    signed_deliveries,
    wait_listening,
)

JS_SDK = SDKS / "js"
PACKAGE_FILES = {"package.json", "index.js", "index.d.ts", "README.md"}

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="the SDK suites run once, on the SQLite leg"
    ),
    pytest.mark.skipif(
        shutil.which("node") is None or shutil.which("npm") is None,
        reason="the JavaScript SDK needs node and npm on PATH",
    ),
    pytest.mark.skipif(
        not (JS_SDK / "node_modules" / ".bin" / "tsc").exists(),
        reason="sdks/js/node_modules/.bin/tsc is missing: `make deps` installs it (npm ci)",
    ),
]
NPM = ["npm", "--no-audit", "--no-fund", "--loglevel=error"]


def readme_quickstart() -> str:
    return re.search(r"```js\n(.*?)```", (JS_SDK / "README.md").read_text(), re.S)[1]


def test_js_sdk(sdk_env, sink, tmp_path):
    # 1. Packaging: TypeScript (the pinned dev dependency, installed by `make deps`) accepts
    #    the declarations and a typed example using every method; the tarball holds only
    #    what the package needs.
    run_suite(["npx", "--no-install", "tsc", "--noEmit", "-p", "."], cwd=JS_SDK, env=sdk_env)
    packed = json.loads(
        run_suite(
            [*NPM, "pack", "--json", "--pack-destination", str(tmp_path)], cwd=JS_SDK, env=sdk_env
        )
    )
    assert {f["path"] for f in packed[0]["files"]} == PACKAGE_FILES
    tarball = tmp_path / packed[0]["filename"]

    # 2. The SDK's own suite.
    output = run_suite(["node", "--test", "test/"], cwd=JS_SDK, env=sdk_env)
    counts = dict(re.findall(r"^# (tests|skipped|fail) (\d+)$", output, re.M))
    assert counts["skipped"] == "0" and counts["fail"] == "0", output
    # node --test counts the tests of a skipped describe nowhere: its line says SKIP.
    assert not re.search(r"^\s*ok \d+ - .*# SKIP", output, re.M), output
    print(f"[sdk] js: {counts['tests']} tests")

    # 3. The README's quickstart, as written but for the key, in a project that installed
    #    the tarball the way a user would.
    project = tmp_path / "project"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"name": "quickstart", "private": True}))
    run_suite([*NPM, "install", "--offline", str(tarball)], cwd=project, env=sdk_env)
    script = project / "quickstart.mjs"
    script.write_text(readme_quickstart().replace("mp_live_YOUR_KEY", sdk_env["MAILPASS_TEST_KEY"]))
    before = len(sink.received)
    message_id = run_suite(["node", str(script)], cwd=project, env=sdk_env).strip()
    assert [r.message["Message-ID"] for r in sink.received[before:]] == [message_id]

    # 4. Everything the server recorded as sent reached the sink, once; the message with
    #    attachments, a custom header and unsubscribe as the suite sent it.
    assert_sent_mail_arrived(sink)
    assert_invoice_mail_arrived(sink)

    # 5. The suite's sends from verified.example (and from a subdomain of it) went out
    #    DKIM-signed for verified.example; nothing from unverified.example went out.
    senders = {parseaddr(str(r.message["From"]))[1]: r.message for r in sink.received}
    for sender in ("hello@verified.example", "news@mail.verified.example"):
        signature = senders[sender]["DKIM-Signature"]
        assert signature and "d=verified.example;" in signature.replace(" ", ""), sender
    assert not [s for s in senders if s.endswith("@unverified.example")], list(senders)


DOCS_RECEIVER = SDKS.parent / "templates" / "dashboard" / "docs" / "code" / "webhook_verify_js.txt"


def _with_the_sdk_installed(project):
    """A directory whose scripts import '@mailpass/client' as users do: this checkout's SDK."""
    scope = project / "node_modules" / "@mailpass"
    scope.mkdir(parents=True)
    (scope / "client").symlink_to(JS_SDK, target_is_directory=True)
    return project


def test_js_verifier_takes_what_mailpass_signs(account, tmp_path):
    """verifyWebhook() on two real deliveries of the server's sender: one signed with the
    endpoint's secret; one, after a rotation, with the new and the old secret."""
    deliveries = signed_deliveries(account)
    first, second = deliveries.first, deliveries.second
    old, new, wrong = deliveries.old, deliveries.new, deliveries.wrong
    script = _with_the_sdk_installed(tmp_path) / "verify.mjs"
    script.write_text(
        "import { readFileSync } from 'node:fs';\n"
        "import { verifyWebhook } from '@mailpass/client';\n"
        "const { body, headers, secrets } = JSON.parse(readFileSync(0, 'utf8'));\n"
        "for (const secret of secrets) {\n"
        "  try { console.log((await verifyWebhook(body, headers, secret)).type); }\n"
        "  catch (error) {\n"
        "    console.log(error.name === 'WebhookVerificationError' ? 'refused' : error);\n"
        "  }\n"
        "}\n"
    )

    def verified(request) -> list[str]:
        given = {
            "body": request.body.decode(),
            "headers": request.headers,
            "secrets": [old, new, wrong],
        }
        result = subprocess.run(
            ["node", str(script)],
            input=json.dumps(given),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.split()

    assert verified(first) == ["webhook.test", "refused", "refused"]
    assert verified(second) == ["webhook.test", "webhook.test", "refused"]


def test_the_docs_receiver_example_verifies_what_mailpass_sends(account, tmp_path):
    """The docs page's JavaScript receiver, as printed but for its port: MailPass's sender
    delivers a test event to it (204) and one signed with another endpoint's secret (400)."""
    example = DOCS_RECEIVER.read_text()
    assert example.count(".listen(3000)") == 1
    port = free_port()
    script = _with_the_sdk_installed(tmp_path) / "receiver.mjs"
    script.write_text(example.replace(".listen(3000)", f".listen({port}, '127.0.0.1')"))
    url = f"http://127.0.0.1:{port}/hooks/mailpass"
    endpoint, secret = services.webhook_create(account=account, url=url)
    stranger, _ = services.webhook_create(account=account, url=url)  # another secret
    process = subprocess.Popen(
        ["node", str(script)],
        env={**os.environ, "MAILPASS_WEBHOOK_SECRET": secret},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_listening(port, process)
        good = services.webhook_send_test(endpoint=endpoint, test=False)
        bad = services.webhook_send_test(endpoint=stranger, test=False)
        webhook_sender.process_due(threads=1)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)

    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.status, good.response_code) == ("succeeded", 204), (good.error, out, err)
    assert (bad.status, bad.response_code) == ("pending", 400), (bad.error, out, err)
    assert out.split("\n")[0] == f"{good.event.event_id} webhook.test false", out + err
