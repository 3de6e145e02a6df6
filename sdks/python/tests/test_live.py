"""Against a live MailPass: every method, every error code the server can be made to give."""

from __future__ import annotations

import base64
import os
import tempfile
import uuid
from pathlib import Path

import mailpass_client
from tests.support import LiveTestCase, live

# A 1x1 PNG, for the inline image.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def address(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


class MailTest(LiveTestCase):
    def test_send_with_every_field_and_read_its_status_with_and_without_brackets(self) -> None:
        client = live()
        result = client.mail.send(
            {
                "to": address("to"),
                "subject": "Every field",
                "html": "<p>Hello</p>",
                "text": "Hello",
                "from_email": "sender@example.com",
                "from_name": "Sender",
                "reply_to": "reply@example.com",
                "cc": [address("cc")],
                "bcc": [address("bcc")],
                "tags": ["welcome", "sdk"],
                "metadata": {"user_id": 42, "plan": "pro", "beta": True, "note": None},
                "track_opens": False,
                "track_clicks": False,
            }
        )
        self.assertIs(result["success"], True)
        message_id = result["data"]["message_id"]
        self.assertEqual(result["data"]["status"], "sent")
        for form in (message_id, message_id.strip("<>")):
            status = client.mail.status(form)
            self.assertEqual(status["data"]["message"]["message_id"], message_id)
            self.assertEqual(status["data"]["message"]["status"], "sent")

    def test_an_invoice_an_inline_logo_a_header_and_unsubscribe_then_the_status(self) -> None:
        pdf = b"%PDF-1.4\n% invoice 2024-017\n" + os.urandom(2048) + b"\n%%EOF\n"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "invoice-2024-017.pdf"
            path.write_bytes(pdf)
            invoice = mailpass_client.attachment_from_path(path)
        logo = mailpass_client.attachment_from_bytes(
            "logo.png", PNG, content_type="image/png", content_id="logo"
        )
        client = live()
        result = client.mail.send(
            {
                "to": address("attachments"),
                "subject": "Your invoice 2024-017",
                "html": '<p><img src="cid:logo" alt="Logo"></p><p>Your invoice is attached.</p>',
                "attachments": [invoice, logo],
                "headers": {"X-Invoice-Id": "2024-017"},
                "unsubscribe": True,
            }
        )
        self.assertEqual(result["data"]["status"], "sent")

        status = client.mail.status(result["data"]["message_id"])
        self.assertEqual(
            status["data"]["message"]["attachments"],
            [
                # The PDF's type is the server's guess from its name.
                {
                    "filename": "invoice-2024-017.pdf",
                    "content_type": "application/pdf",
                    "size": len(pdf),
                    "content_id": None,
                },
                {
                    "filename": "logo.png",
                    "content_type": "image/png",
                    "size": len(PNG),
                    "content_id": "logo",
                },
            ],
        )
        plain = client.mail.send({"to": address("plain"), "subject": "Plain", "text": "No files."})
        self.assertEqual(
            client.mail.status(plain["data"]["message_id"])["data"]["message"]["attachments"], []
        )

    def test_a_batch_with_one_bad_message_queues_the_others(self) -> None:
        result = live().mail.send_batch(
            {
                "messages": [
                    {"to": address("a"), "subject": "A", "text": "a"},
                    {"to": "not an address", "subject": "B", "text": "b"},
                    {"to": address("c"), "subject": "C", "text": "c"},
                ],
                "from_email": "sender@example.com",
            }
        )
        data = result["data"]
        self.assertEqual((data["total"], data["queued"], data["failed"]), (3, 2, 1))
        self.assertEqual([m["status"] for m in data["messages"]], ["queued", "failed", "queued"])

    def test_the_same_idempotency_key_sends_once(self) -> None:
        client = live()
        key = str(uuid.uuid4())
        body = {"to": address("once"), "subject": "Once", "text": "once"}
        first = client.mail.send(body, idempotency_key=key)
        second = client.mail.send(body, idempotency_key=key)
        self.assertEqual(first["data"]["message_id"], second["data"]["message_id"])


class SuppressionsTest(LiveTestCase):
    def test_round_trip(self) -> None:
        client = live()
        email = address("suppressed")
        added = client.suppressions.add({"email": email, "description": "asked to stop"})
        self.assertIs(added["success"], True)
        listed = client.suppressions.list({"email": email})
        self.assertIn(email, str(listed["data"]))

        with self.assertRaises(mailpass_client.RecipientSuppressedError) as raised:
            client.mail.send({"to": email, "subject": "s", "text": "t"})
        self.assertEqual(
            (raised.exception.code, raised.exception.status), ("RECIPIENT_SUPPRESSED", 422)
        )
        self.assertTrue(raised.exception.message_id)

        client.suppressions.remove(email)
        self.assertNotIn(email, str(client.suppressions.list({"email": email})["data"]))
        with self.assertRaises(mailpass_client.NotFoundError):
            client.suppressions.remove(email)


def one(name: str) -> dict:
    return {"to": address(name), "subject": "s", "text": "t"}


class LiveErrorsTest(LiveTestCase):
    def check(self, raised, cls, code: str, status: int) -> mailpass_client.ApiError:
        error = raised.exception
        self.assertIsInstance(error, cls)
        self.assertEqual((error.code, error.status), (code, status))
        self.assertTrue(error.message)
        return error

    def test_validation_error(self) -> None:
        with self.assertRaises(mailpass_client.ApiError) as raised:
            live().mail.send({"to": "nobody", "subject": "s", "text": "t"})
        error = self.check(raised, mailpass_client.ValidationError, "VALIDATION_ERROR", 400)
        self.assertIn("to", error.details)

    def test_an_exe_attachment_is_a_validation_error_about_attachments(self) -> None:
        program = mailpass_client.attachment_from_bytes("setup.exe", b"MZ\x90\x00")
        with self.assertRaises(mailpass_client.ApiError) as raised:
            live().mail.send(
                {"to": address("exe"), "subject": "s", "text": "t", "attachments": [program]}
            )
        error = self.check(raised, mailpass_client.ValidationError, "VALIDATION_ERROR", 400)
        self.assertEqual(list(error.details), ["attachments"])
        self.assertIn("filename", error.details["attachments"]["0"])

    def test_unauthorized(self) -> None:
        client = mailpass_client.Client("mp_live_not-a-key", max_retries=0)
        with self.assertRaises(mailpass_client.ApiError) as raised:
            client.mail.status("x")
        self.check(raised, mailpass_client.UnauthorizedError, "UNAUTHORIZED", 401)

    def test_forbidden(self) -> None:
        with self.assertRaises(mailpass_client.ApiError) as raised:
            live("MAILPASS_TEST_KEY_NO_MAIL").mail.send(one("f"))
        self.check(raised, mailpass_client.ForbiddenError, "FORBIDDEN", 403)

    def test_not_found(self) -> None:
        with self.assertRaises(mailpass_client.ApiError) as raised:
            live().mail.status("<nothing@example.com>")
        self.check(raised, mailpass_client.NotFoundError, "NOT_FOUND", 404)

    def test_idempotency_conflict(self) -> None:
        client, key = live(), str(uuid.uuid4())
        client.mail.send(one("i"), idempotency_key=key)
        with self.assertRaises(mailpass_client.ApiError) as raised:
            client.mail.send(
                {"to": address("i"), "subject": "two", "text": "t"}, idempotency_key=key
            )
        self.check(raised, mailpass_client.IdempotencyConflictError, "IDEMPOTENCY_CONFLICT", 409)

    def test_payload_too_large(self) -> None:
        body = {"to": address("big"), "subject": "s", "text": "x" * (11 * 1024 * 1024)}
        with self.assertRaises(mailpass_client.ApiError) as raised:
            live().mail.send(body)
        self.check(raised, mailpass_client.PayloadTooLargeError, "PAYLOAD_TOO_LARGE", 413)

    def test_no_smtp_provider(self) -> None:
        with self.assertRaises(mailpass_client.ApiError) as raised:
            live("MAILPASS_TEST_KEY_NO_PROVIDER").mail.send(one("n"))
        self.check(raised, mailpass_client.NoSmtpProviderError, "NO_SMTP_PROVIDER", 422)

    def test_send_failed_names_the_message_and_is_not_retried(self) -> None:
        with self.assertRaises(mailpass_client.ApiError) as raised:
            live("MAILPASS_TEST_KEY_FAILING").mail.send(one("x"))
        error = self.check(raised, mailpass_client.SendFailedError, "SEND_FAILED", 500)
        status = live("MAILPASS_TEST_KEY_FAILING").mail.status(error.message_id)
        self.assertEqual(status["data"]["message"]["status"], "failed")

    def test_send_limit_exceeded_for_the_account_quota(self) -> None:
        body = {"to": address("q"), "cc": [address("q")], "subject": "s", "text": "t"}
        with self.assertRaises(mailpass_client.ApiError) as raised:
            live("MAILPASS_TEST_KEY_QUOTA").mail.send(body)
        error = self.check(
            raised, mailpass_client.SendLimitExceededError, "SEND_LIMIT_EXCEEDED", 429
        )
        self.assertEqual(error.details["scope"], "account")
        self.assertGreater(error.retry_after, 0)
