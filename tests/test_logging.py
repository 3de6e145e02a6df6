"""Log lines: MAILPASS_LOG_FORMAT=json gives one object per line with the request, account
and message ids; requests carry an X-Request-ID; a wrong Host is one line, no traceback."""

import io
import json
import logging

import pytest

from mailpass.logs import ContextFilter, JsonFormatter
from tests import factories
from tests.processes import PRODUCTION_ENV, run_configured


@pytest.fixture
def json_log() -> io.StringIO:
    """What the root logger writes with the json format, as the settings configure it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield out
    root.removeHandler(handler)


def lines_of(log: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in log.getvalue().splitlines()]


def test_a_failed_send_logs_json_with_its_request_account_and_message_ids(
    api, api_key, account, settings, json_log
):
    factories.make_provider(account, port=9, name="nothing listens")

    response = api.post(
        "/api/v1/mail/send",
        {"from_email": "a@example.com", "to": "b@example.com", "subject": "s", "text": "t"},
        format="json",
    )

    assert response.status_code >= 400
    delivery_lines = [line for line in lines_of(json_log) if line["logger"] == "providers.delivery"]
    assert delivery_lines, (response.json(), json_log.getvalue())
    line = delivery_lines[0]
    assert line["level"] == "WARNING"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["account_id"] == str(account.pk)
    assert line["message_id"].endswith(">") and line["message_id"].startswith("<")
    assert set(line) >= {"time", "level", "logger", "message"}
    assert api_key[1] not in json_log.getvalue()


def test_a_request_keeps_a_plain_x_request_id_and_replaces_anything_else(client):
    kept = client.get("/api/v1/health", HTTP_X_REQUEST_ID="lb-7f3a9c21.0")
    assert kept["X-Request-ID"] == "lb-7f3a9c21.0"
    # A header the answer repeats: nothing but a plain token may get through (no CR/LF).
    given_ids = ["short", "x" * 65, "a b c d e f", "id\u00e9\u00e9\u00e9\u00e9\u00e9", ""]
    given_ids += ["abcdefgh\r\nSet-Cookie: sessionid=x", "abcdefgh\nX-Frame-Options: ALLOW"]
    for given in given_ids:
        answer = client.get("/api/v1/health", HTTP_X_REQUEST_ID=given)
        assert answer["X-Request-ID"] != given
        assert len(answer["X-Request-ID"]) == 32


def test_ids_do_not_outlive_their_request(api, json_log):
    api.get("/api/v1/health")
    logging.getLogger("after").warning("outside any request")
    [line] = [line for line in lines_of(json_log) if line["logger"] == "after"]
    assert "request_id" not in line and "account_id" not in line


def test_a_wrong_host_is_one_warning_line_without_a_traceback(client, caplog):
    with caplog.at_level(logging.INFO, logger="django.security.DisallowedHost"):
        response = client.get("/api/v1/health", HTTP_HOST="scanner.invalid")
    assert response.status_code == 400
    [record] = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None


def test_the_json_format_is_configured_from_the_environment():
    script = "import django; django.setup(); import logging; logging.getLogger('x').info('hi')"
    done = run_configured({**PRODUCTION_ENV, "MAILPASS_LOG_FORMAT": "json"}, "-c", script)
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["message"] == "hi" and line["logger"] == "x" and line["level"] == "INFO"

    refused = run_configured({**PRODUCTION_ENV, "MAILPASS_LOG_FORMAT": "xml"}, "-c", script)
    assert refused.returncode != 0
    assert "MAILPASS_LOG_FORMAT must be text or json" in refused.stderr


def test_the_settings_import_writes_nothing_to_a_read_only_checkout():
    """A service user with a read-only checkout and PostgreSQL: starting Django creates no
    directory (it used to create var/ at import, and crashed)."""
    script = (
        "import pathlib\n"
        "def refuse(*args, **kwargs): raise PermissionError('read-only checkout')\n"
        "pathlib.Path.mkdir = refuse\n"
        "import django; django.setup(); print('started')"
    )
    done = run_configured(PRODUCTION_ENV, "-c", script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "started"
