"""The product page's own cURL and JavaScript examples, run as written against a live server.

Only the base URL and the placeholders (YOUR_API_KEY, MESSAGE_ID) are substituted.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from api.models import Message
from tests import factories

SEEDS = Path(os.environ.get("MAILPASS_SEEDS_DIR", settings.BASE_DIR.parent / "shared" / "seeds"))
SEED_PAGE = SEEDS / "mail-send-api.en.txt"
SEED_BASE_URL = "https://dev.mailpass.im"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not SEED_PAGE.exists(), reason=f"product page not found at {SEED_PAGE}"),
]


def seed_section(start: str, end: str) -> str:
    text = SEED_PAGE.read_text()
    return text[text.index(start) + len(start) : text.index(end)]


def seed_curl_commands() -> dict[str, str]:
    """{comment: command} for each '# Single send' / '# Batch send' / '# Check status' block."""
    section = seed_section("cURL\n", "JavaScript (fetch)")
    blocks = re.split(r"^# (.+)$", section, flags=re.MULTILINE)[1:]
    return {
        title.strip(): body.strip() for title, body in zip(blocks[::2], blocks[1::2], strict=True)
    }


@pytest.fixture
def live(live_server, account, sink):
    factories.make_provider(account, port=sink.port)
    _, key = factories.make_api_key(account)
    return live_server.url, key


def run_curl(command: str, base_url: str, key: str, **placeholders: str) -> dict:
    command = command.replace(SEED_BASE_URL, base_url).replace("YOUR_API_KEY", key)
    for name, value in placeholders.items():
        command = command.replace(name, value)
    result = subprocess.run(
        ["bash", "-c", command + " --silent --show-error --max-time 20"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_seeds_curl_examples_work_as_written(live, sink):
    base_url, key = live
    commands = seed_curl_commands()
    assert set(commands) == {"Single send", "Batch send", "Check status"}

    single = run_curl(commands["Single send"], base_url, key)
    assert single["success"] is True and single["data"]["status"] == "sent"
    message_id = single["data"]["message_id"]
    assert [r.message["Message-ID"] for r in sink.received] == [message_id]

    batch = run_curl(commands["Batch send"], base_url, key)
    assert batch["data"] | {"messages": None} == {
        "total": 2,
        "queued": 2,
        "failed": 0,
        "messages": None,
    }
    assert [m["to"] for m in batch["data"]["messages"]] == ["a@example.com", "b@example.com"]

    for form in (message_id.strip("<>"), quote(message_id, safe="")):
        status = run_curl(commands["Check status"], base_url, key, MESSAGE_ID=form)
        assert status["data"]["message"]["message_id"] == message_id
        assert status["data"]["message"]["status"] == "sent"
    assert Message.objects.count() == 3


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_seeds_javascript_example_works_as_written(live, sink, tmp_path):
    base_url, key = live
    script = seed_section("JavaScript (fetch)\n", "PHP SDK")
    script = script.replace(SEED_BASE_URL, base_url).replace("YOUR_API_KEY", key)
    path = tmp_path / "send.mjs"  # an ES module, so the example's top-level await works
    path.write_text(script)

    result = subprocess.run(
        ["node", str(path)], capture_output=True, text=True, timeout=30, check=True
    )

    message_id = result.stdout.strip()
    assert re.fullmatch(r"<[0-9a-f]{32}\.\d+@mailpass\.test>", message_id)
    assert [r.message["Message-ID"] for r in sink.received] == [message_id]
