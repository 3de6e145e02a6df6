"""cancel, reschedule, scheduled_at and template on send, and client.templates: the
request each call makes (method, path, body) and the errors the answers map to, against
tests/recorder.py."""

from __future__ import annotations

import unittest
from datetime import datetime, timedelta, timezone

import mailpass_client
from mailpass_client import errors
from tests.recorder import Recorder

PARIS_WINTER = timezone(timedelta(hours=1))
NOT_SCHEDULED = (
    "MESSAGE_NOT_SCHEDULED",
    "The message is sent, not scheduled.",
    {"message_id": "<m1@mail.example.com>", "status": "sent"},
)


class RecorderTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = Recorder()
        cls.addClassCleanup(cls.server.close)
        cls.client = cls.server.client()

    def setUp(self) -> None:
        self.server.reset()

    def assertRequest(self, method: str, path: str, body: object = None) -> None:
        request = self.server.last
        self.assertEqual((request["method"], request["path"]), (method, path))
        self.assertEqual(request["body"], body)
        self.assertEqual(
            "content-type" in request["headers"], body is not None, "Content-Type iff a body"
        )


class CancelTest(RecorderTestCase):
    def test_cancel_posts_to_the_message_without_a_body(self) -> None:
        self.server.answer(data={"message_id": "<m1@mail.example.com>", "status": "cancelled"})
        result = self.client.mail.cancel("<m1@mail.example.com>")
        self.assertRequest("POST", "/api/v1/mail/m1%40mail.example.com/cancel")
        self.assertEqual(result["data"]["status"], "cancelled")

    def test_the_message_id_is_one_url_encoded_segment_brackets_or_not(self) -> None:
        for given in ("<a/b?c#d@x>", " a/b?c#d@x "):
            with self.subTest(given=given):
                self.client.mail.cancel(given)
                self.assertRequest("POST", "/api/v1/mail/a%2Fb%3Fc%23d%40x/cancel")

    def test_a_message_that_is_not_scheduled_raises_message_not_scheduled(self) -> None:
        self.server.answer(409, error=NOT_SCHEDULED)
        with self.assertRaises(mailpass_client.MessageNotScheduledError) as raised:
            self.client.mail.cancel("<m1@mail.example.com>")
        error = raised.exception
        self.assertEqual((error.code, error.status), ("MESSAGE_NOT_SCHEDULED", 409))
        self.assertEqual(error.details["status"], "sent")
        self.assertEqual(error.message_id, "<m1@mail.example.com>")
        self.assertEqual(len(self.server.requests), 1)


class RescheduleTest(RecorderTestCase):
    def test_an_aware_datetime_is_sent_as_iso_8601_with_its_offset(self) -> None:
        for when, sent in (
            (datetime(2026, 12, 5, 9, 0, tzinfo=PARIS_WINTER), "2026-12-05T09:00:00+01:00"),
            (datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc), "2026-12-05T08:00:00+00:00"),
            (
                datetime(2026, 12, 5, 8, 0, 0, 250000, tzinfo=timezone.utc),
                "2026-12-05T08:00:00.250000+00:00",
            ),
        ):
            with self.subTest(sent=sent):
                self.client.mail.reschedule("<m1@mail.example.com>", when)
                self.assertRequest(
                    "PATCH", "/api/v1/mail/m1%40mail.example.com", {"scheduled_at": sent}
                )

    def test_a_string_is_sent_as_it_is(self) -> None:
        for text in ("2026-12-05T08:00:00Z", "2026-12-05T09:00:00"):  # the server judges
            with self.subTest(text=text):
                self.client.mail.reschedule("m1@mail.example.com", text)
                self.assertRequest(
                    "PATCH", "/api/v1/mail/m1%40mail.example.com", {"scheduled_at": text}
                )

    def test_a_naive_datetime_is_refused_before_any_request(self) -> None:
        with self.assertRaises(ValueError) as raised:
            self.client.mail.reschedule("<m1@mail.example.com>", datetime(2026, 12, 5, 9, 0))
        self.assertIn("offset", str(raised.exception))
        self.assertEqual(self.server.requests, [])

    def test_the_answer_and_the_error_when_not_scheduled(self) -> None:
        data = {
            "message_id": "<m1@mail.example.com>",
            "status": "scheduled",
            "scheduled_at": "2026-12-05T08:00:00Z",
        }
        self.server.answer(data=data)
        result = self.client.mail.reschedule("<m1@mail.example.com>", "2026-12-05T08:00:00Z")
        self.assertEqual(result["data"], data)

        self.server.answer(409, error=NOT_SCHEDULED)
        with self.assertRaises(mailpass_client.MessageNotScheduledError):
            self.client.mail.reschedule("<m1@mail.example.com>", "2026-12-05T08:00:00Z")


class SendScheduledWithTemplateTest(RecorderTestCase):
    def test_send_converts_a_datetime_and_passes_the_template_through(self) -> None:
        template = {"alias": "order-shipped", "variables": {"name": "Ada"}, "version": 2}
        params: mailpass_client.SendParams = {
            "to": "a@example.com",
            "template": template,
            "scheduled_at": datetime(2026, 12, 5, 9, 0, tzinfo=PARIS_WINTER),
        }
        self.client.mail.send(params)
        self.assertRequest(
            "POST",
            "/api/v1/mail/send",
            {
                "to": "a@example.com",
                "template": template,
                "scheduled_at": "2026-12-05T09:00:00+01:00",
            },
        )
        # The caller's dict is not changed.
        self.assertIsInstance(params["scheduled_at"], datetime)
        self.assertTrue(self.server.last["headers"]["idempotency-key"])

    def test_send_passes_a_string_as_it_is_and_refuses_a_naive_datetime(self) -> None:
        self.client.mail.send(
            {"to": "a@example.com", "template": {"id": 12}, "scheduled_at": "2026-12-05T08:00:00Z"}
        )
        self.assertEqual(self.server.last["body"]["scheduled_at"], "2026-12-05T08:00:00Z")
        with self.assertRaises(ValueError) as raised:
            self.client.mail.send(
                {"to": "a@example.com", "template": {"id": 12}, "scheduled_at": datetime.now()}
            )
        self.assertIn("scheduled_at", str(raised.exception))
        self.assertEqual(len(self.server.requests), 1)

    def test_each_batch_item_has_its_datetime_converted(self) -> None:
        later = datetime(2026, 12, 5, 8, 0, tzinfo=timezone.utc)
        messages = [
            {"to": "a@example.com", "subject": "Now", "text": "now"},
            {"to": "b@example.com", "template": {"alias": "welcome"}, "scheduled_at": later},
            {"to": "c@example.com", "subject": "S", "text": "t", "scheduled_at": "2026-12-05"},
        ]
        self.client.mail.send_batch({"messages": messages, "from_email": "s@example.com"})
        self.assertRequest(
            "POST",
            "/api/v1/mail/send-batch",
            {
                "messages": [
                    messages[0],
                    {
                        "to": "b@example.com",
                        "template": {"alias": "welcome"},
                        "scheduled_at": "2026-12-05T08:00:00+00:00",
                    },
                    messages[2],
                ],
                "from_email": "s@example.com",
            },
        )
        self.assertIs(messages[1]["scheduled_at"], later)

    def test_a_naive_datetime_in_a_batch_names_its_item(self) -> None:
        messages = [
            {"to": "a@example.com", "subject": "s", "text": "t"},
            {"to": "b@example.com", "subject": "s", "text": "t", "scheduled_at": datetime.now()},
        ]
        with self.assertRaises(ValueError) as raised:
            self.client.mail.send_batch({"messages": messages})
        self.assertIn("messages[1].scheduled_at", str(raised.exception))
        self.assertEqual(self.server.requests, [])


TEMPLATE = {
    "id": 12,
    "alias": "order-shipped",
    "name": "Order shipped",
    "version": 1,
    "latest_version": 1,
    "subject": "Order {{order_id}} shipped",
    "html": "<p>Hi {{name}}</p>",
    "text": "Hi {{name}}",
    "defaults": {"name": "there"},
    "variables": ["name", "order_id"],
    "created_at": "2026-12-01T10:00:00Z",
    "updated_at": "2026-12-01T10:00:00Z",
}


class TemplatesTest(RecorderTestCase):
    def test_list_with_and_without_a_page(self) -> None:
        page = {"total": 1, "page": 1, "pages": 1, "templates": [TEMPLATE]}
        self.server.answer(data=page)
        self.assertEqual(self.client.templates.list()["data"], page)
        self.assertRequest("GET", "/api/v1/templates")
        self.client.templates.list(2)
        self.assertRequest("GET", "/api/v1/templates?page=2")

    def test_create_posts_the_params(self) -> None:
        params: mailpass_client.TemplateParams = {
            "name": "Order shipped",
            "alias": "order-shipped",
            "subject": "Order {{order_id}} shipped",
            "html": "<p>Hi {{name}}</p>",
            "defaults": {"name": "there"},
        }
        self.server.answer(201, data={"template": TEMPLATE})
        result = self.client.templates.create(params)
        self.assertRequest("POST", "/api/v1/templates", dict(params))
        self.assertEqual(result["data"]["template"]["id"], 12)

    def test_get_by_id_or_alias_and_a_version(self) -> None:
        for args, path in (
            ((12,), "/api/v1/templates/12"),
            (("order-shipped",), "/api/v1/templates/order-shipped"),
            (("order-shipped", 3), "/api/v1/templates/order-shipped?version=3"),
            (("a b/c?d",), "/api/v1/templates/a%20b%2Fc%3Fd"),
        ):
            with self.subTest(args=args):
                self.client.templates.get(*args)
                self.assertRequest("GET", path)
        self.client.templates.get(12, version=1)
        self.assertRequest("GET", "/api/v1/templates/12?version=1")

    def test_update_patches_the_params(self) -> None:
        self.client.templates.update("order-shipped", {"subject": "Shipped: {{order_id}}"})
        self.assertRequest(
            "PATCH", "/api/v1/templates/order-shipped", {"subject": "Shipped: {{order_id}}"}
        )
        self.client.templates.update(12, {"name": "Shipped"})
        self.assertRequest("PATCH", "/api/v1/templates/12", {"name": "Shipped"})

    def test_delete_and_template_in_use(self) -> None:
        self.server.answer(data={"id": 12, "alias": "order-shipped"})
        self.assertEqual(self.client.templates.delete(12)["data"]["alias"], "order-shipped")
        self.assertRequest("DELETE", "/api/v1/templates/12")

        self.server.answer(
            409, error=("TEMPLATE_IN_USE", "2 scheduled messages use it.", {"scheduled": 2})
        )
        with self.assertRaises(mailpass_client.TemplateInUseError) as raised:
            self.client.templates.delete("order-shipped")
        error = raised.exception
        self.assertEqual((error.code, error.status), ("TEMPLATE_IN_USE", 409))
        self.assertEqual(error.details, {"scheduled": 2})
        self.assertRequest("DELETE", "/api/v1/templates/order-shipped")
        self.assertEqual(len(self.server.requests), 2)

    def test_render_sends_only_what_is_given(self) -> None:
        rendered = {"subject": "Order 7 shipped", "html": "<p>Hi Ada</p>", "text": "Hi Ada"}
        self.server.answer(data={**rendered, "version": 1})
        result = self.client.templates.render(
            "order-shipped", {"name": "Ada", "order_id": 7}, version=1
        )
        self.assertRequest(
            "POST",
            "/api/v1/templates/order-shipped/render",
            {"variables": {"name": "Ada", "order_id": 7}, "version": 1},
        )
        self.assertEqual(result["data"]["subject"], "Order 7 shipped")
        self.client.templates.render(12)
        self.assertRequest("POST", "/api/v1/templates/12/render", {})
        self.client.templates.render(12, version=2)
        self.assertRequest("POST", "/api/v1/templates/12/render", {"version": 2})

    def test_an_empty_alias_is_refused_before_any_request(self) -> None:
        for call in (
            lambda: self.client.templates.get(""),
            lambda: self.client.templates.update("", {"name": "x"}),
            lambda: self.client.templates.delete(""),
            lambda: self.client.templates.render(""),
        ):
            with self.assertRaises(ValueError):
                call()
        self.assertEqual(self.server.requests, [])

    def test_the_other_errors_map_by_code(self) -> None:
        for status, code, cls in (
            (404, "NOT_FOUND", mailpass_client.NotFoundError),
            (403, "FORBIDDEN", mailpass_client.ForbiddenError),
            (400, "VALIDATION_ERROR", mailpass_client.ValidationError),
        ):
            with self.subTest(code=code):
                self.server.answer(status, error=(code, "No.", {}))
                with self.assertRaises(cls):
                    self.client.templates.get("order-shipped")


class NewErrorClassesTest(unittest.TestCase):
    def test_one_class_per_new_code_each_an_api_error(self) -> None:
        for code, cls in (
            ("MESSAGE_NOT_SCHEDULED", mailpass_client.MessageNotScheduledError),
            ("TEMPLATE_IN_USE", mailpass_client.TemplateInUseError),
        ):
            self.assertIs(errors.ERRORS_BY_CODE[code], cls)
            self.assertTrue(issubclass(cls, mailpass_client.ApiError))

    def test_the_templates_resource_hides_the_key(self) -> None:
        secret = "mp_live_secret-never-shown-0123456789"
        client = mailpass_client.Client(secret, base_url="https://mail.example.com")
        self.assertEqual(repr(client.templates), "mailpass_client.Templates()")
        self.assertNotIn(secret, str(vars(client.templates)))


if __name__ == "__main__":
    unittest.main()
