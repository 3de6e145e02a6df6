"""attachment_from_path and attachment_from_bytes, and how attachments, headers and
unsubscribe travel in a request (through the retry fake, which records each body)."""

from __future__ import annotations

import base64
import json
import tempfile
import unittest
from pathlib import Path

import mailpass_client
from mailpass_client import attachment_from_bytes, attachment_from_path
from tests.support import LiveTestCase, attempts, fake

# Every byte value, so nothing is lost between the file and the base64.
BINARY = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"


class AttachmentFromPathTest(unittest.TestCase):
    def setUp(self) -> None:
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.dir = Path(folder.name)

    def test_the_name_comes_from_the_path_and_the_bytes_are_base64(self) -> None:
        path = self.dir / "invoice-2024-017.pdf"
        path.write_bytes(BINARY)
        for given in (path, str(path)):
            with self.subTest(given=type(given).__name__):
                attachment = attachment_from_path(given)
                self.assertEqual(list(attachment), ["filename", "content"])
                self.assertEqual(attachment["filename"], "invoice-2024-017.pdf")
                self.assertEqual(base64.b64decode(attachment["content"], validate=True), BINARY)

    def test_a_type_and_a_content_id_for_an_inline_image(self) -> None:
        path = self.dir / "logo.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n")
        self.assertEqual(
            attachment_from_path(path, content_type="image/png", content_id="logo"),
            {
                "filename": "logo.png",
                "content": base64.b64encode(b"\x89PNG\r\n\x1a\n").decode(),
                "content_type": "image/png",
                "content_id": "logo",
            },
        )

    def test_a_non_ascii_name_is_kept_whole(self) -> None:
        path = self.dir / "Rechnung März 2024 ü.pdf"
        path.write_bytes(BINARY)
        self.assertEqual(attachment_from_path(path)["filename"], "Rechnung März 2024 ü.pdf")

    def test_a_missing_file_raises_file_not_found_naming_it(self) -> None:
        path = self.dir / "no-such-invoice.pdf"
        with self.assertRaises(FileNotFoundError) as raised:
            attachment_from_path(path)
        self.assertIn(str(path), str(raised.exception))

    def test_a_directory_is_not_a_file(self) -> None:
        with self.assertRaises(IsADirectoryError):
            attachment_from_path(self.dir)


class AttachmentFromBytesTest(unittest.TestCase):
    def test_bytes_bytearray_and_memoryview(self) -> None:
        expected = {"filename": "report.csv", "content": base64.b64encode(b"a,b\n1,2\n").decode()}
        for data in (b"a,b\n1,2\n", bytearray(b"a,b\n1,2\n"), memoryview(b"a,b\n1,2\n")):
            with self.subTest(data=type(data).__name__):
                self.assertEqual(attachment_from_bytes("report.csv", data), expected)

    def test_only_the_options_given_are_set(self) -> None:
        self.assertEqual(
            attachment_from_bytes("invoice.pdf", BINARY, content_type="application/pdf"),
            {
                "filename": "invoice.pdf",
                "content": base64.b64encode(BINARY).decode(),
                "content_type": "application/pdf",
            },
        )
        self.assertEqual(
            attachment_from_bytes("x.gif", b"GIF", content_id="x@example.com"),
            {"filename": "x.gif", "content": "R0lG", "content_id": "x@example.com"},
        )

    def test_text_is_refused_with_a_hint(self) -> None:
        with self.assertRaises(TypeError) as raised:
            attachment_from_bytes("notes.txt", "plain text")  # type: ignore[arg-type]  # on purpose
        self.assertIn("encode", str(raised.exception))

    def test_the_names_are_exported(self) -> None:
        for name in ("attachment_from_path", "attachment_from_bytes", "Attachment"):
            self.assertIn(name, mailpass_client.__all__)


class RequestBodyTest(LiveTestCase):
    def test_attachments_headers_and_unsubscribe_are_sent_as_given(self) -> None:
        client, key = fake("ok")
        message = {
            "to": "attach@example.com",
            "subject": "Attachments",
            "html": '<p><img src="cid:logo"></p>',
            "attachments": [
                attachment_from_bytes("invoice.pdf", BINARY, content_type="application/pdf"),
                attachment_from_bytes(
                    "logo.png", b"\x89PNG", content_type="image/png", content_id="logo"
                ),
            ],
            "headers": {"X-Campaign": "spring", "In-Reply-To": "<a.1@example.com>"},
            "unsubscribe": True,
        }
        client.mail.send(message)
        client.mail.send_batch({"messages": [message, {**message, "headers": {}}]})

        send, batch = (json.loads(a["body"]) for a in attempts(key))
        self.assertEqual(send, message)
        self.assertEqual(batch["messages"], [message, {**message, "headers": {}}])


if __name__ == "__main__":
    unittest.main()
