"""The hand-rendered wire format: whatever goes in comes out of a standard MIME parser."""

import email
import email.policy

import pytest

from api.emails import build_email, render
from api.models import Message


def message(**fields) -> Message:
    values = {
        "message_id": "<abc.1700000000@mailpass.test>",
        "from_email": "sender@example.com",
        "from_name": "",
        "to_email": "to@example.com",
        "subject": "Hello",
        "text": "",
        "html": "",
        "cc": [],
        "bcc": [],
        "reply_to": "",
    }
    values.update(fields)
    return Message(**values)


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def assert_lines_fit(data: bytes) -> None:
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


@pytest.mark.parametrize(
    "subject",
    ["Hello", "Grüße aus Köln, 世界 🌍", "x" * 998, "word " * 190, "ü" * 400, "=?utf-8?q?x?="],
    ids=["ascii", "unicode", "998-chars", "many-words", "long-unicode", "looks-encoded"],
)
def test_subjects_survive_the_round_trip(subject):
    data = render(message(subject=subject, text="x"))

    assert_lines_fit(data)
    assert parse(data)["Subject"] == subject


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("plain ascii\nsecond line", ""),
        ("", "<p>only html</p>"),
        ("both", "<p>both</p>"),
        ("Ünïcödé ✓\r\nwindows\rmac\nunix", "<p>Ünïcödé ✓</p>"),
        ("", "<p>" + "minified" * 500 + "</p>"),  # one 4,000-character line
        (".\n..leading dots\n.", ""),
        ("=_mp_ and --=_mp_ and = signs", "<a href='x?a=1&b=2'>=</a>"),
    ],
    ids=["text", "html", "both", "unicode-newlines", "long-line", "dots", "boundary-like"],
)
def test_bodies_survive_the_round_trip(text, html):
    data = render(message(text=text, html=html))

    assert_lines_fit(data)
    mail = parse(data)
    if text:
        expected = text.replace("\r\n", "\n").replace("\r", "\n")
        assert mail.get_body(("plain",)).get_content().replace("\r\n", "\n") == expected
    if html:
        assert mail.get_body(("html",)).get_content().replace("\r\n", "\n") == html
    if text and html:
        assert mail.get_content_type() == "multipart/alternative"


def test_addresses_and_names_are_encoded_and_bcc_is_left_out():
    data = render(
        message(
            from_name='Zoë "The Boss", Inc.',
            cc=["cc1@example.com", "cc2@example.com"],
            bcc=["secret@example.com"],
            reply_to="reply@example.com",
            text="x",
        )
    )

    mail = parse(data)
    assert mail["From"].addresses[0].display_name == 'Zoë "The Boss", Inc.'
    assert mail["From"].addresses[0].addr_spec == "sender@example.com"
    assert [a.addr_spec for a in mail["Cc"].addresses] == ["cc1@example.com", "cc2@example.com"]
    assert mail["Reply-To"] == "reply@example.com"
    assert mail["Message-ID"] == "<abc.1700000000@mailpass.test>"
    assert mail["Date"] is not None
    assert b"secret@example.com" not in data


def test_fifty_cc_addresses_are_folded_onto_short_lines():
    cc = [f"recipient-number-{i}@example.com" for i in range(50)]

    data = render(message(cc=cc, text="x"))

    assert_lines_fit(data)
    cc_lines = data.split(b"\r\n\r\n")[0].split(b"Cc:")[1].split(b"\r\n")
    assert all(len(line) <= 78 for line in cc_lines[:-1])
    assert [a.addr_spec for a in parse(data)["Cc"].addresses] == cc


def test_the_smtp_envelope_names_every_recipient_bcc_included():
    email_message = build_email(message(cc=["c@example.com"], bcc=["b@example.com"], text="x"))

    sender, recipients, data = email_message.smtp_envelope()

    assert sender == "sender@example.com"
    assert recipients == ["to@example.com", "c@example.com", "b@example.com"]
    assert data.startswith(b"From: sender@example.com\r\n")
