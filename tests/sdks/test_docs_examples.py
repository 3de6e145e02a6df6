"""The API docs page's client-library examples (PHP, Python, JavaScript), run as written
against a live server, with each library installed the way its README says: Composer with
a path repository, pip from the folder, npm from the folder."""

import json
import re
import shutil
import subprocess
import sys

import pytest
from django.db import connection

from tests import factories
from tests.dashboard.test_docs import code_blocks, get_page
from tests.sdks.conftest import SDKS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="the SDK suites run once, on the SQLite leg"
    ),
]
MESSAGE_ID = re.compile(r"<[0-9a-f]{32}\.\d+@mailpass\.test>")


@pytest.fixture
def examples(live_server, client, owner, account, sink, settings):
    """The English page's samples with this live server as base URL, and a real key."""
    settings.MAILPASS_PUBLIC_URL = live_server.url
    factories.make_provider(account, port=sink.port)
    _, key = factories.make_api_key(account)
    blocks = code_blocks(get_page(client, owner))
    return {name: block.replace("mp_live_YOUR_KEY", key) for name, block in blocks.items()}


def run(command: list[str], **kwargs) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, **kwargs)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def check_the_three_answers(output: str, sink) -> None:
    """Each example prints the message id, the number queued, and the first one's status."""
    message_id, queued, status = output.split()
    assert MESSAGE_ID.fullmatch(message_id)
    assert [r.message["Message-ID"] for r in sink.received] == [message_id]
    assert (queued, status) == ("2", "sent")


@pytest.mark.skipif(
    shutil.which("php") is None or shutil.which("composer") is None,
    reason="php and composer are not installed",
)
def test_the_php_example_works_as_written(examples, sink, tmp_path):
    project = {
        "repositories": [
            {
                "type": "path",
                "url": str(SDKS / "php"),
                "options": {"versions": {"mailpass/mailpass-php": "0.1.0"}},
            },
            {"packagist.org": False},
        ],
        "require": {"mailpass/mailpass-php": "^0.1"},
    }
    (tmp_path / "composer.json").write_text(json.dumps(project))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COMPOSER_ALLOW_SUPERUSER": "1"}
    run(["composer", "update", "--no-interaction", "--quiet"], cwd=tmp_path, env=env)
    (tmp_path / "example.php").write_text(examples["sdk-php"])

    check_the_three_answers(run(["php", "example.php"], cwd=tmp_path, env=env), sink)


def test_the_python_example_works_as_written(examples, sink, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(SDKS / "python"),
        ]
    )
    (tmp_path / "example.py").write_text(examples["sdk-python"])

    output = run([str(venv / "bin" / "python"), "example.py"], cwd=tmp_path)

    check_the_three_answers(output, sink)


@pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are not installed",
)
def test_the_javascript_example_works_as_written(examples, sink, tmp_path):
    (tmp_path / "package.json").write_text(json.dumps({"name": "example", "private": True}))
    run(
        ["npm", "install", "--offline", "--no-audit", "--no-fund", "--silent", str(SDKS / "js")],
        cwd=tmp_path,
    )
    (tmp_path / "example.mjs").write_text(examples["sdk-js"])

    check_the_three_answers(run(["node", "example.mjs"], cwd=tmp_path), sink)
