"""Suite "provider text in logs": a provider's words cannot forge a log line.

A tenant chooses the SMTP server (or, through a proxy, what an ESP answers), so what it
says is hostile input. Delivery logs it; a multi-line SMTP reply, or an ESP message with a
CR, LF, NEL or line separator in it, used to start lines of its own in the log, which look
like records MailPass wrote. Each case here sends one message through a real loopback
server saying such things, formats every record logged as a log file would, and checks
that each record is one line that quotes the provider (repr) and quotes at most
LOGGED_TEXT_LIMIT characters of it.
"""

import ast
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.mail import EmailMessage

from providers.delivery import LOGGED_TEXT_LIMIT
from providers.models import Provider
from tests import factories
from tests.providers.esp_servers import EspServer
from tests.security import figures
from tests.sending import deliver_via

pytestmark = pytest.mark.django_db

SUITE = "11 provider text in logs"
FORGED = "2026-01-01 00:00:00,000 CRITICAL api.errors: forged record"
# Everything str.splitlines() breaks a line at (log viewers differ in which they honour).
LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
RCPT = "rcpt@example.com"


@dataclass(frozen=True)
class Case:
    name: str
    # (sink, esp server, account) → the provider to send through, set up to say its piece
    arrange: Callable[[Any, EspServer, Any], Provider]


def _smtp(sink: Any, account: Any) -> Provider:
    Provider.objects.filter(account=account).delete()
    return factories.make_provider(account, port=sink.port, timeout=5)


def _rcpt_reply(reply: str) -> Callable[[Any, EspServer, Any], Provider]:
    def arrange(sink: Any, esp: EspServer, account: Any) -> Provider:
        sink.fail_rcpt(RCPT, reply)
        return _smtp(sink, account)

    return arrange


def _data_reply(reply: str) -> Callable[[Any, EspServer, Any], Provider]:
    def arrange(sink: Any, esp: EspServer, account: Any) -> Provider:
        sink.fail_data(RCPT, reply)
        return _smtp(sink, account)

    return arrange


def _esp_message(message: str) -> Callable[[Any, EspServer, Any], Provider]:
    def arrange(sink: Any, esp: EspServer, account: Any) -> Provider:
        esp.fail_next(422, message)
        Provider.objects.filter(account=account).delete()
        return factories.make_esp_provider(account, "postmark", key="key")

    return arrange


CASES = [
    Case("multi-line SMTP refusal at RCPT", _rcpt_reply(f"550-5.1.1 No such user\r\n550 {FORGED}")),
    Case("multi-line SMTP reply to DATA", _data_reply(f"451-4.3.0 Try later\r\n451 {FORGED}")),
    Case("a bare CR inside an SMTP reply line", _rcpt_reply(f"550 5.1.1 Unknown\r{FORGED}")),
    Case(
        "an SMTP reply of many lines",
        _rcpt_reply("".join(f"550-{FORGED} {i}\r\n" for i in range(50)) + "550 end"),
    ),
    Case("a very long SMTP reply", _rcpt_reply("550 5.1.1 " + "x" * 5000)),
    *(
        Case(f"an ESP message with {name}", _esp_message(f"Bad request{brk}{FORGED}"))
        for name, brk in [
            ("CRLF", "\r\n"),
            ("LF", "\n"),
            ("NEL", "\x85"),
            ("a line separator", "\u2028"),
            ("a vertical tab", "\x0b"),
        ]
    ),
]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def collected() -> Iterator[_Collect]:
    handler = _Collect()
    logger = logging.getLogger("providers")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def esp(settings) -> Iterator[EspServer]:
    server = EspServer("postmark").start()
    settings.MAILPASS_ESP_API_URLS = {"postmark": server.url}
    yield server
    server.stop()


def test_a_providers_words_never_start_a_log_line_of_their_own(account, sink, esp, collected):
    failures: list[str] = []
    for case in CASES:
        collected.lines.clear()
        provider = case.arrange(sink, esp, account)
        email = EmailMessage("Hi", "Body", "sender@example.com", [RCPT])

        [result] = deliver_via(provider, [email])

        if FORGED[:20] not in result.error_text and "x" * 100 not in result.error_text:
            failures.append(f"{case.name}: the provider's words did not reach the result")
        if not collected.lines:
            failures.append(f"{case.name}: nothing was logged")
        for line in collected.lines:
            if any(brk in line for brk in LINE_BREAKS):
                failures.append(f"{case.name}: a record of several lines: {line!r}")
            if len(line) > LOGGED_TEXT_LIMIT * 4 + 200:
                failures.append(f"{case.name}: a record of {len(line)} characters")

    figures.check(SUITE, cases=len(CASES), failures=failures)


def test_a_logged_provider_text_is_quoted_and_cut(account, sink, collected):
    sink.fail_rcpt(RCPT, f"550-5.1.1 No such user\r\n550 {FORGED}" + "y" * 1000)
    provider = _smtp(sink, account)

    [result] = deliver_via(provider, [EmailMessage("Hi", "B", "sender@example.com", [RCPT])])

    [line] = [line for line in collected.lines if "delivery failed" in line]
    quoted = line.split("delivery failed: ", 1)[1]
    checks = {
        "the reply's own two lines reach the result": result.error_text.count("\n") == 1,
        "the record quotes the reply": quoted.startswith(f"'{RCPT}: 550 5.1.1 No such user\\n"),
        "the quote is cut, and says so": quoted.endswith("'…"),
        "the quote holds the limit": len(ast.literal_eval(quoted[:-1])) == LOGGED_TEXT_LIMIT,
    }
    failures = [name for name, ok in checks.items() if not ok]
    figures.check(SUITE, cases=len(checks), failures=failures)
