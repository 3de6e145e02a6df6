"""Against a live MailPass: every method, every error code the server can be made to give."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import mailpass_client
from tests.support import REQUIRED, LiveTestCase, env, live

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


# Webhook endpoints and test mode. MAILPASS_TEST_KEY_WEBHOOKS has `mail` and `webhooks`
# (MAILPASS_TEST_KEY has `mail` only); the server must allow private hosts, as a development
# instance does, for the endpoint http://127.0.0.1:9/hook. Nothing listens there and no
# webhook worker runs, so its deliveries stay pending. MAILPASS_TEST_KEY_TEST_MODE is a test
# key (mp_test_..., `mail` and `webhooks`) of an account without a provider.

HOOK_URL = "http://127.0.0.1:9/hook"
UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"
ENDPOINT_FIELDS = [
    "id",
    "url",
    "description",
    "events",
    "enabled",
    "disabled_reason",
    "failing_since",
    "created_at",
    "updated_at",
    "secret_rotated_at",
    "previous_secret_expires_at",
]
DELIVERY_FIELDS = [
    "id",
    "event_id",
    "type",
    "test",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
    "last_attempt_at",
    "response_code",
    "duration_ms",
    "error",
]


def webhooks_client() -> mailpass_client.Client:
    return live("MAILPASS_TEST_KEY_WEBHOOKS")


class WebhooksLiveTest(LiveTestCase):
    required = (*REQUIRED, "MAILPASS_TEST_KEY_WEBHOOKS")

    def assertSelfSigned(self, secret: str) -> None:
        """`secret` is a whsec_ secret of a 32-byte key that verify_webhook takes."""
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        self.assertEqual(len(key), 32)
        body = b'{"type":"webhook.test","data":{}}'
        now = int(time.time())
        digest = hmac.new(key, f"msg_1.{now}.".encode() + body, hashlib.sha256).digest()
        headers = {
            "Webhook-Id": "msg_1",
            "Webhook-Timestamp": str(now),
            "Webhook-Signature": "v1," + base64.b64encode(digest).decode(),
        }
        self.assertEqual(
            mailpass_client.verify_webhook(body, headers, secret)["type"], "webhook.test"
        )

    def test_an_endpoint_from_create_to_delete(self) -> None:
        client = webhooks_client()
        webhooks = client.webhooks

        # Create: the secret, shown this once, is one verify_webhook takes.
        created = webhooks.create(
            {"url": HOOK_URL, "description": "Python SDK suite", "events": ["bounced", "delivered"]}
        )
        self.assertIs(created["success"], True)
        secret = created["data"]["secret"]
        self.assertTrue(secret.startswith("whsec_"), secret[:6])
        webhook: mailpass_client.WebhookEndpoint = created["data"]["webhook"]
        self.assertEqual(list(webhook), ENDPOINT_FIELDS)
        self.assertIsInstance(webhook["id"], int)
        self.assertEqual(
            (webhook["url"], webhook["description"], webhook["events"], webhook["enabled"]),
            (HOOK_URL, "Python SDK suite", ["delivered", "bounced"], True),  # the API's order
        )
        for field in (
            "disabled_reason",
            "failing_since",
            "secret_rotated_at",
            "previous_secret_expires_at",
        ):
            self.assertIsNone(webhook[field], field)  # type: ignore[literal-required]  # a loop
        self.assertRegex(webhook["created_at"], UTC)
        webhook_id = webhook["id"]
        self.assertSelfSigned(secret)

        # Without `events`: all of them.
        every = webhooks.create({"url": HOOK_URL + "/all"})["data"]["webhook"]
        self.assertEqual(tuple(every["events"]), mailpass_client.WEBHOOK_EVENTS)
        self.assertEqual(webhooks.delete(every["id"])["data"], {"id": every["id"]})

        # Refused: an empty or unknown event list, a URL that is not http(s).
        for bad in ({"events": []}, {"events": ["delivered", "teleported"]}):
            with self.assertRaises(mailpass_client.ValidationError) as raised:
                webhooks.create({"url": HOOK_URL, **bad})
            self.assertEqual(
                (raised.exception.code, raised.exception.status), ("VALIDATION_ERROR", 400)
            )
            self.assertIn("events", raised.exception.details)
        with self.assertRaises(mailpass_client.ValidationError) as ftp:
            webhooks.create({"url": "ftp://127.0.0.1/hook"})
        self.assertIn("url", ftp.exception.details)

        # Read it back, alone and in the list.
        self.assertEqual(webhooks.get(webhook_id)["data"], {"webhook": webhook})
        listed = webhooks.list()["data"]
        self.assertEqual((listed["page"], listed["pages"]), (1, 1))
        self.assertIn(webhook, listed["webhooks"])
        self.assertEqual(webhooks.list(1)["data"], listed)
        with self.assertRaises(mailpass_client.ValidationError) as past:
            webhooks.list(99)
        self.assertIn("page", past.exception.details)

        # Update: events and description; then off by hand.
        updated = webhooks.update(
            webhook_id, {"events": ["opened", "clicked"], "description": "Changed"}
        )
        self.assertEqual(updated["data"]["webhook"]["events"], ["opened", "clicked"])
        self.assertEqual(updated["data"]["webhook"]["description"], "Changed")
        off = webhooks.update(webhook_id, {"enabled": False})["data"]["webhook"]
        self.assertEqual((off["enabled"], off["disabled_reason"]), (False, "manual"))

        # A disabled endpoint takes no test event.
        with self.assertRaises(mailpass_client.ApiError) as disabled:
            webhooks.test(webhook_id)
        self.assertIsInstance(disabled.exception, mailpass_client.WebhookDisabledError)
        self.assertEqual(
            (disabled.exception.code, disabled.exception.status), ("WEBHOOK_DISABLED", 409)
        )

        # Back on: the test event is queued, a pending delivery.
        on = webhooks.update(webhook_id, {"enabled": True})["data"]["webhook"]
        self.assertEqual(
            (on["enabled"], on["disabled_reason"], on["failing_since"]), (True, None, None)
        )
        delivery: mailpass_client.WebhookDelivery = webhooks.test(webhook_id)["data"]["delivery"]
        self.assertEqual(list(delivery), DELIVERY_FIELDS)
        self.assertIsInstance(delivery["id"], int)
        self.assertTrue(delivery["event_id"].startswith("msg_"), delivery["event_id"])
        self.assertEqual((delivery["type"], delivery["status"]), ("webhook.test", "pending"))
        # A test event when the key is a test key.
        self.assertIs(delivery["test"], env("MAILPASS_TEST_KEY_WEBHOOKS").startswith("mp_test_"))
        self.assertRegex(delivery["created_at"], UTC)

        # The log lists it, by status too.
        deliveries = webhooks.deliveries(webhook_id)["data"]
        self.assertEqual(deliveries["total"], 1)
        self.assertEqual([d["id"] for d in deliveries["deliveries"]], [delivery["id"]])
        self.assertEqual(webhooks.deliveries(webhook_id, 1, "pending")["data"]["total"], 1)
        self.assertEqual(webhooks.deliveries(webhook_id, status="succeeded")["data"]["total"], 0)
        with self.assertRaises(mailpass_client.ValidationError) as lost:
            webhooks.deliveries(webhook_id, status="lost")  # type: ignore[arg-type]  # on purpose
        self.assertIn("status", lost.exception.details)

        # Retry it: pending again, the same event.
        retried = webhooks.retry_delivery(webhook_id, delivery["id"])["data"]["delivery"]
        self.assertEqual(
            (retried["id"], retried["event_id"], retried["status"]),
            (delivery["id"], delivery["event_id"], "pending"),
        )
        self.assertIsNotNone(retried["next_attempt_at"])
        with self.assertRaises(mailpass_client.NotFoundError):
            webhooks.retry_delivery(webhook_id, delivery["id"] + 1000)
        webhooks.update(webhook_id, {"enabled": False})
        with self.assertRaises(mailpass_client.WebhookDisabledError):
            webhooks.retry_delivery(webhook_id, delivery["id"])
        webhooks.update(webhook_id, {"enabled": True})

        # Rotate: a new secret; the old one signs on for the overlap (24 h unless told).
        rotated = webhooks.rotate_secret(webhook_id)["data"]
        self.assertTrue(rotated["secret"].startswith("whsec_"))
        self.assertNotEqual(rotated["secret"], secret)
        self.assertRegex(rotated["webhook"]["secret_rotated_at"] or "", UTC)
        expires = rotated["webhook"]["previous_secret_expires_at"] or ""
        self.assertRegex(expires, UTC)
        self.assertLess(
            abs(
                utc(expires.split(".")[0].rstrip("Z") + "Z")
                - datetime.now(timezone.utc)
                - timedelta(hours=24)
            ),
            timedelta(minutes=2),
        )
        self.assertSelfSigned(rotated["secret"])
        at_once = webhooks.rotate_secret(webhook_id, 0)["data"]
        self.assertNotEqual(at_once["secret"], rotated["secret"])
        self.assertIsNone(at_once["webhook"]["previous_secret_expires_at"])
        with self.assertRaises(mailpass_client.ValidationError) as too_long:
            webhooks.rotate_secret(webhook_id, 169)
        self.assertIn("overlap_hours", too_long.exception.details)

        # Delete: gone, with its deliveries.
        self.assertEqual(webhooks.delete(webhook_id), {"success": True, "data": {"id": webhook_id}})
        with self.assertRaises(mailpass_client.ApiError) as gone:
            webhooks.get(webhook_id)
        self.assertIsInstance(gone.exception, mailpass_client.NotFoundError)
        self.assertEqual((gone.exception.code, gone.exception.status), ("NOT_FOUND", 404))
        for call in (webhooks.delete, webhooks.deliveries):
            with self.assertRaises(mailpass_client.NotFoundError):
                call(webhook_id)

    def test_without_the_webhooks_permission_it_is_forbidden(self) -> None:
        webhooks = live().webhooks  # `mail` only
        for call in (
            webhooks.list,
            lambda: webhooks.create({"url": HOOK_URL}),
            lambda: webhooks.test(1),
        ):
            with self.assertRaises(mailpass_client.ApiError) as raised:
                call()
            self.assertIsInstance(raised.exception, mailpass_client.ForbiddenError)
            self.assertEqual((raised.exception.code, raised.exception.status), ("FORBIDDEN", 403))


def message_for_test_key(**fields: str) -> dict:
    """A message for a test key: its account has no provider, so `from_email` is needed."""
    return {
        "subject": "Test mode",
        "text": "Never sent.",
        "from_email": "shop@example.com",
        **fields,
    }


def bounced_address() -> str:
    """A bounced@ address of its own, through a +label."""
    return f"bounced+py-{uuid.uuid4().hex[:8]}@test.mailpass.invalid"


class TestModeLiveTest(LiveTestCase):
    # Runs with a test key alone: against any instance, nothing is sent.
    required = ("MAILPASS_BASE_URL", "MAILPASS_TEST_KEY_TEST_MODE")

    def test_a_test_key_sends_nothing(self) -> None:
        self.assertTrue(env("MAILPASS_TEST_KEY_TEST_MODE").startswith("mp_test_"))
        test = live("MAILPASS_TEST_KEY_TEST_MODE")

        # delivered@: "sent" from send (no provider needed, none contacted), then delivered.
        sent = test.mail.send(message_for_test_key(to="delivered@test.mailpass.invalid"))
        self.assertEqual(sent["data"]["status"], "sent")
        status = test.mail.status(sent["data"]["message_id"])["data"]
        self.assertIs(status["message"]["test"], True)
        self.assertEqual(status["message"]["status"], "delivered")
        # (Being sent is the message's status, not one of its events, as for a live one.)
        self.assertEqual([e["event_type"] for e in status["events"]], ["delivered"])
        self.assertIn("Test mode", status["events"][0]["description"])

        # clicked+label@: delivered, opened, then its first link clicked.
        html = '<p>Your order: <a href="https://shop.example.com/orders/1">see it</a></p>'
        sent = test.mail.send(
            message_for_test_key(to="clicked+py@test.mailpass.invalid", html=html)
        )
        events = test.mail.status(sent["data"]["message_id"])["data"]["events"]
        self.assertEqual([e["event_type"] for e in events], ["delivered", "open", "click"])
        self.assertEqual(events[2]["url"], "https://shop.example.com/orders/1")

        # bounced+label@: a hard bounce; the address becomes a (test) suppression.
        bounced = bounced_address()
        sent = test.mail.send(message_for_test_key(to=bounced))
        self.assertEqual(sent["data"]["status"], "sent")
        status = test.mail.status(sent["data"]["message_id"])["data"]
        self.assertEqual(status["message"]["status"], "bounced")
        self.assertEqual(test.suppressions.list({"email": bounced})["data"]["total"], 1)


class LiveAndTestDataTest(LiveTestCase):
    required = (*REQUIRED, "MAILPASS_TEST_KEY_TEST_MODE", "MAILPASS_TEST_KEY_NO_PROVIDER")

    def test_live_and_test_data_never_mix(self) -> None:
        test = live("MAILPASS_TEST_KEY_TEST_MODE")
        same_account_live = live("MAILPASS_TEST_KEY_NO_PROVIDER")
        other_account_live = live()  # MAILPASS_TEST_KEY

        # A test message: the test key finds it; no live key does, its own account's neither.
        sent = test.mail.send(message_for_test_key(to="delivered@test.mailpass.invalid"))
        message_id = sent["data"]["message_id"]
        self.assertIs(test.mail.status(message_id)["data"]["message"]["test"], True)
        for live_client in (same_account_live, other_account_live):
            with self.assertRaises(mailpass_client.ApiError) as raised:
                live_client.mail.status(message_id)
            self.assertIsInstance(raised.exception, mailpass_client.NotFoundError)
            self.assertEqual((raised.exception.code, raised.exception.status), ("NOT_FOUND", 404))

        # A live message says it is not a test, and a test key does not find it.
        live_id = other_account_live.mail.send(one("live-mode"))["data"]["message_id"]
        self.assertIs(other_account_live.mail.status(live_id)["data"]["message"]["test"], False)
        with self.assertRaises(mailpass_client.NotFoundError):
            test.mail.status(live_id)

        # A suppression caused in test mode holds for test keys only.
        bounced = bounced_address()
        test.mail.send(message_for_test_key(to=bounced))
        self.assertEqual(test.suppressions.list({"email": bounced})["data"]["total"], 1)
        self.assertEqual(
            same_account_live.suppressions.list({"email": bounced})["data"]["total"], 0
        )

        # The account has no provider: a test message needs none, but its `from_email`.
        with self.assertRaises(mailpass_client.ValidationError) as no_from:
            test.mail.send({"to": "delivered@test.mailpass.invalid", "subject": "x", "text": "x"})
        self.assertIn("from_email", no_from.exception.details)


# Sender domains. MAILPASS_TEST_KEY_DOMAINS: an account with no domains (its provider the
# SMTP sink), `mail` and `domains`. MAILPASS_TEST_KEY_STRICT: another account, "only send
# from verified domains" on, `mail` and `domains`, whose domain verified.example is
# verified (its records are on the tests' DNS server). Nothing is published for the
# domains made here, so their checks fail.

DOMAIN_FIELDS = {
    "id",
    "name",
    "status",
    "ed25519",
    "signing",
    "created_at",
    "checked_at",
    "next_check_at",
    "verified_at",
    "records",
}
RECORD_FIELDS = {"purpose", "type", "name", "value", "status", "found", "detail"}
DKIM_FIELDS = RECORD_FIELDS | {"selector", "algorithm", "key_state"}
SELECTOR = r"^mp\d{8}[a-z]*$"


def domain_name() -> str:
    return f"sdk-{uuid.uuid4().hex[:8]}.example"


def dkim_records(domain: mailpass_client.Domain) -> list[mailpass_client.DomainRecord]:
    return [record for record in domain["records"] if record["purpose"] == "dkim"]


def selectors(domain: mailpass_client.Domain) -> list[str]:
    return sorted(record.get("selector", "") for record in dkim_records(domain))


class DomainsLiveTest(LiveTestCase):
    required = ("MAILPASS_BASE_URL", "MAILPASS_TEST_KEY_DOMAINS")

    def assertRecords(self, domain: mailpass_client.Domain) -> None:
        """Every record has its fields; a dkim one its key's, published under its selector."""
        for record in domain["records"]:
            fields = DKIM_FIELDS if record["purpose"] == "dkim" else RECORD_FIELDS
            self.assertEqual(set(record), fields, record["purpose"])
            self.assertEqual(record["type"], "TXT")
        for record in dkim_records(domain):
            self.assertRegex(record.get("selector", ""), SELECTOR)
            self.assertEqual(
                record["name"], f"{record.get('selector')}._domainkey.{domain['name']}"
            )
        purposes = [record["purpose"] for record in domain["records"]]
        self.assertEqual(purposes.count("dmarc"), 1)
        self.assertLessEqual(purposes.count("spf"), 1)  # only if the operator asks for one
        [dmarc] = [record for record in domain["records"] if record["purpose"] == "dmarc"]
        self.assertEqual(dmarc["name"], "_dmarc." + domain["name"])
        self.assertTrue(dmarc["value"].startswith("v=DMARC1;"), dmarc["value"])

    def test_a_domain_from_create_to_delete(self) -> None:
        domains = live("MAILPASS_TEST_KEY_DOMAINS").domains
        name = domain_name()

        # Create: pending, one active RSA key whose record is to be published.
        created = domains.create(name)
        self.assertIs(created["success"], True)
        domain: mailpass_client.Domain = created["data"]["domain"]
        self.assertEqual(set(domain), DOMAIN_FIELDS)
        self.assertIsInstance(domain["id"], int)
        self.assertEqual(
            (domain["name"], domain["status"], domain["ed25519"], domain["signing"]),
            (name, "pending", False, False),
        )
        self.assertRegex(domain["created_at"], UTC)
        self.assertIsNone(domain["checked_at"])
        self.assertIsNone(domain["verified_at"])
        self.assertRecords(domain)
        [dkim] = dkim_records(domain)
        self.assertTrue(dkim["value"].startswith("v=DKIM1; k=rsa; p="), dkim["value"])
        self.assertEqual(
            (dkim.get("algorithm"), dkim.get("key_state"), dkim["status"], dkim["found"]),
            ("rsa-sha256", "active", "pending", None),
        )
        self.assertEqual(dkim["detail"], "")
        domain_id = domain["id"]

        # Read it back by id and by name, alone and in the list.
        by_id = domains.get(domain_id)["data"]["domain"]
        self.assertEqual(domains.get(name)["data"]["domain"], by_id)
        self.assertEqual(
            (by_id["id"], by_id["name"], by_id["status"], by_id["records"]),
            (domain_id, name, "pending", domain["records"]),
        )
        listed: mailpass_client.DomainPage = domains.list()["data"]
        self.assertEqual(listed["page"], 1)
        self.assertGreaterEqual(listed["total"], 1)
        self.assertIn(domain_id, [d["id"] for d in listed["domains"]])
        self.assertEqual(domains.list(1)["data"], listed)

        # Verify: nothing is published, so it fails, and the dkim record says why.
        checked = domains.verify(name)["data"]["domain"]
        self.assertEqual(
            (checked["id"], checked["status"], checked["signing"]), (domain_id, "failed", False)
        )
        self.assertRegex(checked["checked_at"] or "", UTC)
        self.assertIsNone(checked["verified_at"])
        self.assertRecords(checked)
        [dkim] = dkim_records(checked)
        self.assertEqual((dkim["status"], dkim["found"]), ("failed", None))
        self.assertTrue(dkim["detail"], "a failed record says why")
        self.assertEqual(domains.get(domain_id)["data"]["domain"]["status"], "failed")

        # Rotate: a second key, pending, under a new selector, next to the active one.
        rotated = domains.rotate(domain_id)["data"]["domain"]
        self.assertRecords(rotated)
        states = {r.get("selector"): r.get("key_state") for r in dkim_records(rotated)}
        self.assertEqual(len(states), 2, states)
        self.assertEqual(states.pop(dkim.get("selector")), "active")
        [(new_selector, new_state)] = states.items()
        self.assertEqual(new_state, "pending")
        [pending] = [r for r in dkim_records(rotated) if r.get("selector") == new_selector]
        self.assertTrue(pending["value"].startswith("v=DKIM1; k=rsa; p="), pending["value"])
        self.assertNotEqual(pending["value"], dkim["value"])

        # Again while that rotation is pending: the same keys, nothing new.
        again = domains.rotate(name)["data"]["domain"]
        self.assertEqual(selectors(again), selectors(rotated))
        self.assertEqual(
            [(r.get("key_state"), r["value"]) for r in dkim_records(again)],
            [(r.get("key_state"), r["value"]) for r in dkim_records(rotated)],
        )

        # The account has it already: a validation error about the name.
        with self.assertRaises(mailpass_client.ApiError) as twice:
            domains.create({"name": name})
        self.assertIsInstance(twice.exception, mailpass_client.ValidationError)
        self.assertEqual((twice.exception.code, twice.exception.status), ("VALIDATION_ERROR", 400))
        self.assertIn("name", twice.exception.details)

        # Delete; then it is not found, by id or by name. (Issue 18's contract says 204
        # without a body, data None here; the server answers 200 with its id and name.)
        deleted = domains.delete(name)
        self.assertIs(deleted["success"], True)
        self.assertIn(deleted["data"], (None, {"id": domain_id, "name": name}))
        with self.assertRaises(mailpass_client.ApiError) as gone:
            domains.get(domain_id)
        self.assertIsInstance(gone.exception, mailpass_client.NotFoundError)
        self.assertEqual((gone.exception.code, gone.exception.status), ("NOT_FOUND", 404))
        for call in (domains.get, domains.delete, domains.verify, domains.rotate):
            with self.subTest(call=call.__name__), self.assertRaises(mailpass_client.NotFoundError):
                call(name)
        self.assertNotIn(domain_id, [d["id"] for d in domains.list()["data"]["domains"]])

    def test_an_ed25519_domain_has_a_key_of_each_kind(self) -> None:
        domains = live("MAILPASS_TEST_KEY_DOMAINS").domains
        domain = domains.create({"name": domain_name(), "ed25519": True})["data"]["domain"]
        self.assertIs(domain["ed25519"], True)
        self.assertRecords(domain)
        by_algorithm = {r.get("algorithm"): r for r in dkim_records(domain)}
        self.assertEqual(set(by_algorithm), {"rsa-sha256", "ed25519-sha256"})
        rsa, ed25519 = by_algorithm["rsa-sha256"], by_algorithm["ed25519-sha256"]
        self.assertEqual(ed25519.get("selector"), f"{rsa.get('selector')}e")
        self.assertTrue(ed25519["value"].startswith("v=DKIM1; k=ed25519; p="), ed25519["value"])
        self.assertEqual({rsa.get("key_state"), ed25519.get("key_state")}, {"active"})
        self.assertEqual(domains.delete(domain["id"])["success"], True)

    def test_names_are_stored_lower_case_and_idns_as_punycode(self) -> None:
        domains = live("MAILPASS_TEST_KEY_DOMAINS").domains
        label = uuid.uuid4().hex[:8]
        upper = domains.create(f"SDK-{label}.Example")["data"]["domain"]
        self.assertEqual(upper["name"], f"sdk-{label}.example")
        domains.delete(upper["id"])

        idn = domains.create(f"bücher-{label}.example")["data"]["domain"]
        punycode = f"bücher-{label}.example".encode("idna").decode()
        self.assertTrue(punycode.startswith("xn--"), punycode)
        self.assertEqual(idn["name"], punycode)
        self.assertEqual(domains.get(punycode)["data"]["domain"]["id"], idn["id"])
        # The name as typed, percent-encoded UTF-8 in the path, finds it too.
        self.assertEqual(domains.get(f"bücher-{label}.example")["data"]["domain"]["id"], idn["id"])
        domains.delete(f"bücher-{label}.example")
        with self.assertRaises(mailpass_client.NotFoundError):
            domains.get(punycode)

    def test_a_name_that_is_not_a_domain_is_a_validation_error(self) -> None:
        domains = live("MAILPASS_TEST_KEY_DOMAINS").domains
        for bad in ("not a domain", "127.0.0.1", "localhost", "a" * 250 + ".example"):
            with self.subTest(name=bad[:20]):
                with self.assertRaises(mailpass_client.ValidationError) as raised:
                    domains.create(bad)
                self.assertIn("name", raised.exception.details)


class StrictDomainsLiveTest(LiveTestCase):
    required = ("MAILPASS_BASE_URL", "MAILPASS_TEST_KEY_STRICT")

    def test_only_a_verified_domain_sends(self) -> None:
        client = live("MAILPASS_TEST_KEY_STRICT")
        domain = client.domains.get("verified.example")["data"]["domain"]
        self.assertEqual(
            (domain["name"], domain["status"], domain["signing"]),
            ("verified.example", "verified", True),
        )
        self.assertRegex(domain["verified_at"] or "", UTC)
        self.assertTrue(all(r["status"] == "verified" for r in dkim_records(domain)))

        sent = client.mail.send({**one("strict"), "from_email": "hello@verified.example"})
        self.assertEqual(sent["data"]["status"], "sent")

        with self.assertRaises(mailpass_client.ApiError) as raised:
            client.mail.send({**one("strict"), "from_email": "hello@unverified.example"})
        error = raised.exception
        self.assertIsInstance(error, mailpass_client.DomainNotVerifiedError)
        self.assertEqual((error.code, error.status), ("DOMAIN_NOT_VERIFIED", 422))
        self.assertTrue(error.message)
        self.assertEqual(error.details["domain"], "unverified.example")

        batch = client.mail.send_batch(
            {
                "messages": [
                    {**one("strict-a"), "from_email": "hello@verified.example"},
                    {**one("strict-b"), "from_email": "hello@unverified.example"},
                ]
            }
        )["data"]
        self.assertEqual((batch["total"], batch["queued"], batch["failed"]), (2, 1, 1))
        queued, failed = batch["messages"]
        self.assertEqual(queued["status"], "queued")
        self.assertEqual(failed["status"], "failed")
        self.assertEqual(failed["error"]["code"], "DOMAIN_NOT_VERIFIED")
        self.assertEqual(failed["error"]["details"], {"domain": "unverified.example"})


class DomainsForbiddenLiveTest(LiveTestCase):
    required = ("MAILPASS_BASE_URL", "MAILPASS_TEST_KEY")

    def test_without_the_domains_permission_it_is_forbidden(self) -> None:
        domains = live().domains  # `mail` only
        for call in (
            domains.list,
            lambda: domains.create(domain_name()),
            lambda: domains.get("verified.example"),
        ):
            with self.assertRaises(mailpass_client.ApiError) as raised:
                call()
            self.assertIsInstance(raised.exception, mailpass_client.ForbiddenError)
            self.assertEqual((raised.exception.code, raised.exception.status), ("FORBIDDEN", 403))
