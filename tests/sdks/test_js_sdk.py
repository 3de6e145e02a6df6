"""The JavaScript SDK (sdks/js): its declarations type-checked, its tarball's contents, its
own `node --test` suite against a live MailPass and the retry fake, and its README's
quickstart run as written from the installed tarball."""

import json
import re
import shutil

import pytest
from django.db import connection

from tests.sdks.conftest import (
    SDKS,
    assert_invoice_mail_arrived,
    assert_sent_mail_arrived,
    run_suite,
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
