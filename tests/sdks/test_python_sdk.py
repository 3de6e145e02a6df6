"""The Python SDK (sdks/python): the wheel built and installed into a fresh venv, its own
unittest suite run there against a live MailPass and the retry fake, and its README's
quickstart run as written."""

import re
import sys

import pytest
from django.db import connection

from tests.sdks.conftest import (
    SDKS,
    assert_invoice_mail_arrived,
    assert_sent_mail_arrived,
    run_suite,
)

PYTHON_SDK = SDKS / "python"

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
