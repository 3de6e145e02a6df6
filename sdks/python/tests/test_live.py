"""Against a live MailPass: every method, every error code the server can be made to give."""

from __future__ import annotations

import base64
import os
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
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


def utc(text: str) -> datetime:
    """An answer's `scheduled_at` ("...Z", always UTC) as an aware datetime."""
    if not text.endswith("Z"):
        raise AssertionError(f"not UTC with a Z: {text!r}")
    return datetime.fromisoformat(text[:-1] + "+00:00")


def editor() -> mailpass_client.Client:
    """A client whose key may create, change and delete templates (live(): mail only)."""
    return live("MAILPASS_TEST_KEY_TEMPLATES")


class TemplatesAndSchedulingTest(LiveTestCase):
    def new_template(self) -> dict:
        alias = f"order-shipped-{uuid.uuid4().hex[:8]}"
        created = editor().templates.create(
            {
                "name": "Order shipped",
                "alias": alias,
                "subject": "Order {{order_id}} shipped",
                "html": "<p>Hi {{name}}, order {{order_id}} is on its way.</p>",
                "text": "Hi {{name}}, order {{order_id}} is on its way.",
                "defaults": {"name": "there"},
            }
        )
        template = created["data"]["template"]
        self.assertEqual(
            (template["alias"], template["version"], template["variables"]),
            (alias, 1, ["name", "order_id"]),
        )
        return template

    def test_a_template_rendered_sent_scheduled_moved_cancelled_then_deleted(self) -> None:
        template = self.new_template()
        alias = template["alias"]
        client = live()  # `mail` is enough to render a template and send with it

        rendered = client.templates.render(alias, {"order_id": "A-1042", "name": "Ada & Bob"})
        self.assertEqual(
            rendered["data"],
            {
                "subject": "Order A-1042 shipped",
                "html": "<p>Hi Ada &amp; Bob, order A-1042 is on its way.</p>",
                "text": "Hi Ada & Bob, order A-1042 is on its way.",
                "version": 1,
            },
        )

        sent = client.mail.send(
            {
                "to": address("template"),
                "template": {"id": template["id"], "variables": {"order_id": "A-1042"}},
            }
        )
        self.assertEqual(sent["data"]["status"], "sent")
        self.assertNotIn("scheduled_at", sent["data"])
        message = client.mail.status(sent["data"]["message_id"])["data"]["message"]
        self.assertEqual(message["subject"], "Order A-1042 shipped")
        self.assertEqual(message["template"], {"id": template["id"], "alias": alias, "version": 1})
        self.assertIsNone(message["scheduled_at"])

        # An hour ahead, given as an aware datetime in another zone than UTC.
        in_an_hour = datetime.now(timezone.utc) + timedelta(hours=1)
        scheduled = client.mail.send(
            {
                "to": address("scheduled"),
                "template": {"alias": alias, "variables": {"order_id": "A-1043"}},
                "scheduled_at": in_an_hour.astimezone(timezone(timedelta(hours=-5))),
            }
        )["data"]
        self.assertEqual(scheduled["status"], "scheduled")
        self.assertLess(abs(utc(scheduled["scheduled_at"]) - in_an_hour), timedelta(seconds=1))
        message_id = scheduled["message_id"]

        with self.assertRaises(mailpass_client.TemplateInUseError) as in_use:
            editor().templates.delete(alias)
        self.assertEqual(
            (in_use.exception.status, in_use.exception.details), (409, {"scheduled": 1})
        )

        # Two hours ahead, given as a string.
        later = (in_an_hour + timedelta(hours=1)).replace(microsecond=0)
        moved = client.mail.reschedule(message_id, later.strftime("%Y-%m-%dT%H:%M:%S+00:00"))
        self.assertEqual(
            moved["data"],
            {
                "message_id": message_id,
                "status": "scheduled",
                "scheduled_at": later.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
        # The same time again, as a datetime: the same answer, and no second move.
        self.assertEqual(client.mail.reschedule(message_id, later)["data"], moved["data"])
        message = client.mail.status(message_id)["data"]["message"]
        self.assertEqual((message["status"], utc(message["scheduled_at"])), ("scheduled", later))

        cancelled = {"message_id": message_id, "status": "cancelled"}
        self.assertEqual(client.mail.cancel(message_id)["data"], cancelled)
        self.assertEqual(client.mail.cancel(message_id.strip("<>"))["data"], cancelled)
        with self.assertRaises(mailpass_client.MessageNotScheduledError) as not_scheduled:
            client.mail.reschedule(message_id, later + timedelta(hours=1))
        error = not_scheduled.exception
        self.assertEqual((error.code, error.status), ("MESSAGE_NOT_SCHEDULED", 409))
        self.assertEqual(error.details, {"message_id": message_id, "status": "cancelled"})

        status = client.mail.status(message_id)["data"]
        self.assertEqual(status["message"]["status"], "cancelled")
        events = status["events"]
        self.assertEqual([e["event_type"] for e in events], ["scheduled", "scheduled", "cancelled"])
        self.assertIn(later.strftime("%Y-%m-%dT%H:%M:%SZ"), events[1]["description"])

        deleted = editor().templates.delete(alias)
        self.assertEqual(deleted["data"], {"id": template["id"], "alias": alias})
        with self.assertRaises(mailpass_client.NotFoundError):
            client.templates.get(alias)

    def test_list_get_update_and_versions(self) -> None:
        template = self.new_template()
        client = editor()
        listed = live().templates.list()["data"]
        self.assertIn(template["id"], [t["id"] for t in listed["templates"]])
        self.assertEqual(listed["page"], 1)

        updated = client.templates.update(
            template["id"], {"name": "Shipped", "subject": "Shipped: {{order_id}}"}
        )["data"]
        self.assertEqual(
            (updated["template"]["name"], updated["template"]["version"]), ("Shipped", 2)
        )
        self.assertEqual([v["version"] for v in updated["versions"]], [2, 1])
        again = client.templates.update(template["alias"], {"subject": "Shipped: {{order_id}}"})
        self.assertEqual(again["data"]["template"]["version"], 2, "the same subject: no version")

        first = live().templates.get(template["alias"], version=1)["data"]["template"]
        self.assertEqual((first["version"], first["subject"]), (1, "Order {{order_id}} shipped"))
        rendered = live().templates.render(template["id"], {"order_id": "7"}, version=1)
        self.assertEqual(rendered["data"]["subject"], "Order 7 shipped")
        client.templates.delete(template["id"])

    def test_a_scheduled_batch_item_is_queued_and_can_be_cancelled(self) -> None:
        client = live()
        when = datetime.now(timezone.utc) + timedelta(minutes=90)
        data = client.mail.send_batch(
            {
                "messages": [
                    {"to": address("b"), "subject": "Later", "text": "t", "scheduled_at": when},
                    {"to": address("b"), "subject": "Never", "text": "t", "scheduled_at": "soon"},
                ]
            }
        )["data"]
        self.assertEqual((data["total"], data["queued"], data["failed"]), (2, 1, 1))
        item = data["messages"][0]
        self.assertEqual(item["status"], "scheduled")
        self.assertLess(abs(utc(item["scheduled_at"]) - when), timedelta(seconds=1))
        self.assertEqual(client.mail.cancel(item["message_id"])["data"]["status"], "cancelled")

    def test_a_sent_message_is_not_scheduled(self) -> None:
        client = live()
        message_id = client.mail.send(one("sent"))["data"]["message_id"]
        with self.assertRaises(mailpass_client.MessageNotScheduledError) as raised:
            client.mail.cancel(message_id)
        self.assertEqual(raised.exception.details["status"], "sent")
        self.assertEqual(raised.exception.message_id, message_id)

    def test_the_server_judges_what_the_client_passes_through(self) -> None:
        client = live()
        for body, field in (
            ({**one("tz"), "scheduled_at": "2030-01-01T09:00:00"}, "scheduled_at"),
            (
                {**one("past"), "scheduled_at": datetime(2020, 1, 1, tzinfo=timezone.utc)},
                "scheduled_at",
            ),
            (
                {**one("both"), "template": {"alias": "order-shipped-none"}},
                "template",
            ),
            ({"to": address("unknown"), "template": {"alias": "no-such-template"}}, "template"),
        ):
            with self.subTest(field=field, body=body):
                with self.assertRaises(mailpass_client.ValidationError) as raised:
                    client.mail.send(body)
                self.assertIn(field, raised.exception.details)
        with self.assertRaises(mailpass_client.NotFoundError):
            client.mail.reschedule("<nothing@example.com>", "2030-01-01T09:00:00Z")


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
        with self.assertRaises(mailpass_client.ApiError) as raised:
            live("MAILPASS_TEST_KEY_NO_MAIL").templates.list()
        self.check(raised, mailpass_client.ForbiddenError, "FORBIDDEN", 403)
        with self.assertRaises(mailpass_client.ApiError) as raised:  # `mail` only reads them
            live().templates.create({"name": "n", "alias": "no-right", "subject": "s", "text": "t"})
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
