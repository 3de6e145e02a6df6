"""The Python SDK (sdks/python): the wheel built and installed into a fresh venv, its own
unittest suite run there against a live MailPass and the retry fake, its README's
quickstart run as written, and its webhook verifier (alone, and in the docs page's
receiver example) on what MailPass's own sender signs."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from api import services, webhook_sender
from api.models import Message, WebhookDelivery, WebhookEndpoint
from tests.sdks.conftest import (
    SDKS,
    assert_invoice_mail_arrived,
    assert_sent_mail_arrived,
    free_port,
    run_suite,
    signed_deliveries,
    wait_listening,
)

PYTHON_SDK = SDKS / "python"
DOCS_RECEIVER = (
    Path(__file__).resolve().parents[2] / "templates/dashboard/docs/code/webhook_verify_python.txt"
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="the SDK suites run once, on the SQLite leg"
    ),
]


def readme_quickstart() -> str:
    return re.search(r"```python\n(.*?)```", (PYTHON_SDK / "README.md").read_text(), re.S)[1]


def test_python_sdk(sdk_env, sink, tmp_path):
    # 1. Packaging: the wheel builds, installs into an empty venv, is typed, and imports
    #    from outside the repository.
    venv = tmp_path / "venv"
    run_suite([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=sdk_env)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    run_suite(
        [*pip, "wheel", "--no-deps", "-w", str(tmp_path), str(PYTHON_SDK)],
        cwd=tmp_path,
        env=sdk_env,
    )
    [wheel] = tmp_path.glob("mailpass_client-0.1.0-*.whl")
    run_suite([*pip, "install", str(wheel)], cwd=tmp_path, env=sdk_env)
    where = run_suite(
        [
            python,
            "-c",
            "import mailpass_client, pathlib; "
            "p = pathlib.Path(mailpass_client.__file__).parent; "
            "assert (p / 'py.typed').exists(); print(p)",
        ],
        cwd=tmp_path,
        env=sdk_env,
    )
    assert str(venv) in where

    # 2. The SDK's own suite, importing the installed wheel (sdks/python/src is not on the
    #    path: the working directory holds only tests/).
    output = run_suite(
        [python, "-m", "unittest", "discover", "-s", "tests", "-t", "."],
        cwd=PYTHON_SDK,
        env=sdk_env,
    )
    ran = re.search(r"^Ran (\d+) tests? in", output, re.M)
    assert ran and "skipped" not in output, output
    print(f"[sdk] python: {ran[1]} tests")

    # 3. The README's quickstart, as written but for the key.
    script = tmp_path / "quickstart.py"
    script.write_text(readme_quickstart().replace("mp_live_YOUR_KEY", sdk_env["MAILPASS_TEST_KEY"]))
    before = len(sink.received)
    message_id = run_suite([python, str(script)], cwd=tmp_path, env=sdk_env).strip()
    assert [r.message["Message-ID"] for r in sink.received[before:]] == [message_id]

    # 4. Everything the server recorded as sent reached the sink, once; the message with
    #    attachments, a custom header and unsubscribe as the suite sent it.
    assert_sent_mail_arrived(sink)
    assert_invoice_mail_arrived(sink)

    # 5. Test mode: the suite's test-key messages are recorded, as test messages, and none
    #    of them reached the sink; the webhook endpoints it made went, deliveries and all.
    test_ids = set(Message.objects.filter(test=True).values_list("message_id", flat=True))
    assert len(test_ids) == 5  # three of test_a_test_key_sends_nothing, two of ...never_mix
    assert not test_ids & {r.message["Message-ID"] for r in sink.received}
    assert not [r for r in sink.received if "test.mailpass.invalid" in " ".join(r.rcpt_tos)]
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()


def sdk_python_env() -> dict[str, str]:
    """The environment of a Python that imports mailpass_client from sdks/python/src."""
    return {**os.environ, "PYTHONPATH": str(PYTHON_SDK / "src")}


# Verifies one received request with each secret in turn: the event's type, or "refused".
VERIFY_PY = """
import json, sys
import mailpass_client

given = json.load(sys.stdin)
body = given["body"].encode()
for secret in given["secrets"]:
    try:
        print(mailpass_client.verify_webhook(body, given["headers"], secret)["type"])
    except mailpass_client.WebhookVerificationError:
        print("refused")
"""


def test_python_verifier_takes_what_mailpass_signs(account):
    """mailpass_client.verify_webhook() on two real deliveries of the server's sender: one
    signed with the endpoint's secret; one, after a rotation, with the new and the old."""
    deliveries = signed_deliveries(account)
    first, second = deliveries.first, deliveries.second
    old, new, wrong = deliveries.old, deliveries.new, deliveries.wrong

    def verified(request) -> list[str]:
        given = {
            "body": request.body.decode(),
            "headers": request.headers,
            "secrets": [old, new, wrong],
        }
        result = subprocess.run(
            [sys.executable, "-c", VERIFY_PY],
            input=json.dumps(given),
            env=sdk_python_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.split()

    assert verified(first) == ["webhook.test", "refused", "refused"]
    assert verified(second) == ["webhook.test", "webhook.test", "refused"]


def test_the_docs_receiver_example_verifies_what_mailpass_sends(account, tmp_path):
    """The docs page's Python receiver, as printed but for where it listens: MailPass's
    sender delivers a test event to it (answered 204, its line printed) and one signed
    with another endpoint's secret (answered 400)."""
    example = DOCS_RECEIVER.read_text()
    listen = 'HTTPServer(("", 8000), Receiver)'
    assert example.count(listen) == 1
    port = free_port()
    script = tmp_path / "receiver.py"
    script.write_text(example.replace(listen, f'HTTPServer(("127.0.0.1", {port}), Receiver)'))
    url = f"http://127.0.0.1:{port}/hooks/mailpass"
    endpoint, secret = services.webhook_create(account=account, url=url)
    stranger, _ = services.webhook_create(account=account, url=url)  # another secret

    process = subprocess.Popen(
        [sys.executable, "-u", str(script)],
        env={**sdk_python_env(), "MAILPASS_WEBHOOK_SECRET": secret},
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
    assert out.split("\n")[0] == f"{good.event.event_id} webhook.test False", out + err
    assert "Traceback" not in err, err
