"""Where the suite's servers are: set by tests/sdks/conftest.py of the MailPass repository."""

from __future__ import annotations

import json
import os
import unittest
import urllib.request
import uuid
from urllib.parse import quote

import mailpass_client

# MAILPASS_TEST_KEY_TEMPLATES: the account of MAILPASS_TEST_KEY, with `mail` and `templates`.
# The webhook and test-mode tests (test_live.py) name the other variables they need.
REQUIRED = (
    "MAILPASS_BASE_URL",
    "MAILPASS_TEST_KEY",
    "MAILPASS_TEST_KEY_TEMPLATES",
    "MAILPASS_FAKE_URL",
)


def env(name: str) -> str:
    return os.environ[name]


def live(key_name: str = "MAILPASS_TEST_KEY", **options) -> mailpass_client.Client:
    return mailpass_client.Client(env(key_name), backoff=0.01, **options)


def fake(script: str, **options) -> tuple[mailpass_client.Client, str]:
    """A client of the retry fake whose key is `script`, made unique."""
    key = f"{script}~{uuid.uuid4().hex}"
    options.setdefault("backoff", 0.01)
    return mailpass_client.Client(key, base_url=env("MAILPASS_FAKE_URL"), **options), key


def attempts(key: str) -> list[dict]:
    url = env("MAILPASS_FAKE_URL") + "/_log/" + quote(key, safe="")
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


class LiveTestCase(unittest.TestCase):
    # The variables this class's tests need: REQUIRED unless a class names its own.
    required: tuple[str, ...] = REQUIRED

    @classmethod
    def setUpClass(cls) -> None:
        missing = [name for name in cls.required if not os.environ.get(name)]
        if missing:
            raise unittest.SkipTest(f"not set: {', '.join(missing)} (tests/sdks sets them)")
