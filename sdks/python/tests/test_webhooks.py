"""client.webhooks: the request each call makes (method, path, body) and the errors the
answers map to, against tests/recorder.py."""

from __future__ import annotations

import unittest
from typing import Any

import mailpass_client
from mailpass_client import errors
from tests.recorder import Recorder

ENDPOINT = {
    "id": 7,
    "url": "https://app.example.com/hooks/mailpass",
    "description": "Production app",
    "events": ["delivered", "bounced"],
    "enabled": True,
    "disabled_reason": None,
    "failing_since": None,
    "created_at": "2026-12-04T10:00:00Z",
    "updated_at": "2026-12-04T10:00:00Z",
    "secret_rotated_at": None,
    "previous_secret_expires_at": None,
}
DELIVERY = {
    "id": 991,
    "event_id": "msg_2Zt6",
    "type": "webhook.test",
    "test": False,
    "status": "pending",
    "attempts": 0,
    "created_at": "2026-12-04T10:00:00Z",
    "next_attempt_at": "2026-12-04T10:00:00Z",
    "last_attempt_at": None,
    "response_code": None,
    "duration_ms": None,
    "error": None,
}
DISABLED: tuple[str, str, dict[str, Any]] = (
    "WEBHOOK_DISABLED",
    "This webhook endpoint is disabled; enable it first.",
    {},
)


class WebhooksTest(unittest.TestCase):
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
        self.assertNotIn("idempotency-key", request["headers"])

    def test_list_asks_for_a_page_only_when_given_one(self) -> None:
        page = {"total": 1, "page": 1, "pages": 1, "webhooks": [ENDPOINT]}
        self.server.answer(data=page)
        listed: mailpass_client.WebhookPage = self.client.webhooks.list()["data"]
        self.assertEqual(listed, page)
        self.assertRequest("GET", "/api/v1/webhooks")
        self.client.webhooks.list(2)
        self.assertRequest("GET", "/api/v1/webhooks?page=2")

    def test_create_posts_the_params_as_given(self) -> None:
        params: mailpass_client.WebhookParams = {
            "url": "https://app.example.com/hooks/mailpass",
            "description": "Production app",
            "events": ["delivered", "bounced"],
            "enabled": False,
        }
        self.server.answer(201, data={"webhook": ENDPOINT, "secret": "whsec_abc"})
        created: mailpass_client.WebhookCreated = self.client.webhooks.create(params)["data"]
        self.assertRequest("POST", "/api/v1/webhooks", dict(params))
        self.assertEqual((created["webhook"]["id"], created["secret"]), (7, "whsec_abc"))

        self.client.webhooks.create({"url": "https://app.example.com/h"})
        self.assertRequest("POST", "/api/v1/webhooks", {"url": "https://app.example.com/h"})
        # An empty event list goes as one, for the server to refuse.
        self.client.webhooks.create({"url": "https://a.example/h", "events": []})
        self.assertRequest("POST", "/api/v1/webhooks", {"url": "https://a.example/h", "events": []})

    def test_get_update_and_delete_name_the_endpoint_by_its_id(self) -> None:
        self.server.answer(data={"webhook": ENDPOINT})
        self.assertEqual(self.client.webhooks.get(7)["data"]["webhook"], ENDPOINT)
        self.assertRequest("GET", "/api/v1/webhooks/7")

        self.client.webhooks.update(7, {"enabled": False, "events": ["opened"]})
        self.assertRequest("PATCH", "/api/v1/webhooks/7", {"enabled": False, "events": ["opened"]})

        self.server.answer(data={"id": 12345})
        self.assertEqual(self.client.webhooks.delete(12345)["data"], {"id": 12345})
        self.assertRequest("DELETE", "/api/v1/webhooks/12345")

    def test_rotate_secret_sends_the_overlap_only_when_given_one(self) -> None:
        self.server.answer(data={"webhook": ENDPOINT, "secret": "whsec_new"})
        self.assertEqual(self.client.webhooks.rotate_secret(7)["data"]["secret"], "whsec_new")
        self.assertRequest("POST", "/api/v1/webhooks/7/rotate-secret")
        self.client.webhooks.rotate_secret(7, 48)
        self.assertRequest("POST", "/api/v1/webhooks/7/rotate-secret", {"overlap_hours": 48})
        self.client.webhooks.rotate_secret(7, overlap_hours=0)
        self.assertRequest("POST", "/api/v1/webhooks/7/rotate-secret", {"overlap_hours": 0})

    def test_deliveries_asks_for_a_page_and_a_status_only_when_given(self) -> None:
        page = {"total": 1, "page": 1, "pages": 1, "deliveries": [DELIVERY]}
        self.server.answer(data=page)
        self.assertEqual(self.client.webhooks.deliveries(7)["data"], page)
        self.assertRequest("GET", "/api/v1/webhooks/7/deliveries")
        for args, kwargs, path in (
            ((7, 2), {}, "/api/v1/webhooks/7/deliveries?page=2"),
            ((7,), {"status": "failed"}, "/api/v1/webhooks/7/deliveries?status=failed"),
            ((7, 3, "pending"), {}, "/api/v1/webhooks/7/deliveries?page=3&status=pending"),
        ):
            with self.subTest(path=path):
                self.client.webhooks.deliveries(*args, **kwargs)
                self.assertRequest("GET", path)

    def test_retry_delivery_and_test_post_without_a_body(self) -> None:
        self.server.answer(202, data={"delivery": DELIVERY})
        retried: mailpass_client.WebhookDeliveryQueued = self.client.webhooks.retry_delivery(
            7, 991
        )["data"]
        self.assertEqual(retried["delivery"]["status"], "pending")
        self.assertRequest("POST", "/api/v1/webhooks/7/deliveries/991/retry")

        self.assertEqual(self.client.webhooks.test(7)["data"]["delivery"], DELIVERY)
        self.assertRequest("POST", "/api/v1/webhooks/7/test")

    def test_an_id_that_is_not_a_positive_int_is_refused_before_any_request(self) -> None:
        webhooks = self.client.webhooks
        for call, raised in (
            (lambda: webhooks.get(0), ValueError),
            (lambda: webhooks.update(-1, {"enabled": True}), ValueError),
            (lambda: webhooks.delete(0), ValueError),
            (lambda: webhooks.rotate_secret(0, 1), ValueError),
            (lambda: webhooks.deliveries(-7), ValueError),
            (lambda: webhooks.retry_delivery(7, 0), ValueError),
            (lambda: webhooks.retry_delivery(0, 991), ValueError),
            (lambda: webhooks.test(0), ValueError),
            (lambda: webhooks.get("7"), TypeError),  # type: ignore[arg-type]  # the check
            (lambda: webhooks.get(True), TypeError),
            (lambda: webhooks.retry_delivery(7, 9.5), TypeError),  # type: ignore[arg-type]  # the check
        ):
            with self.assertRaises(raised) as error:
                call()
            self.assertRegex(str(error.exception), r"^(webhook|delivery)_id must be")
        self.assertEqual(self.server.requests, [])

    def test_webhook_disabled_is_its_own_error(self) -> None:
        self.server.answer(409, error=DISABLED)
        for call in (
            lambda: self.client.webhooks.test(7),
            lambda: self.client.webhooks.retry_delivery(7, 991),
        ):
            with self.assertRaises(mailpass_client.WebhookDisabledError) as raised:
                call()
            error = raised.exception
            self.assertIsInstance(error, mailpass_client.ApiError)
            self.assertEqual((error.code, error.status), ("WEBHOOK_DISABLED", 409))
            self.assertEqual(error.message, DISABLED[1])
            self.assertEqual(error.details, {})
        self.assertEqual(len(self.server.requests), 2, "a 409 is not retried")

    def test_the_other_errors_of_webhooks_map_as_everywhere(self) -> None:
        for status, code, cls, call in (
            (
                400,
                "VALIDATION_ERROR",
                mailpass_client.ValidationError,
                lambda: self.client.webhooks.create({"url": "http://10.0.0.1/h"}),
            ),
            (404, "NOT_FOUND", mailpass_client.NotFoundError, lambda: self.client.webhooks.get(99)),
            (403, "FORBIDDEN", mailpass_client.ForbiddenError, self.client.webhooks.list),
        ):
            with self.subTest(code=code):
                self.server.answer(status, error=(code, "No.", {}))
                with self.assertRaises(cls) as raised:
                    call()
                self.assertEqual((raised.exception.code, raised.exception.status), (code, status))


class WebhooksShapeTest(unittest.TestCase):
    def test_the_error_class_and_the_event_list(self) -> None:
        self.assertIs(
            errors.ERRORS_BY_CODE["WEBHOOK_DISABLED"], mailpass_client.WebhookDisabledError
        )
        self.assertEqual(len(mailpass_client.WEBHOOK_EVENTS), 11)
        self.assertEqual(mailpass_client.WEBHOOK_EVENTS[:3], ("sent", "delivered", "bounced"))
        self.assertIs(mailpass_client.Webhooks.EVENTS, mailpass_client.WEBHOOK_EVENTS)

    def test_the_webhooks_resource_hides_the_key(self) -> None:
        secret = "mp_live_secret-never-shown-0123456789"
        client = mailpass_client.Client(secret, base_url="https://mail.example.com")
        self.assertEqual(repr(client.webhooks), "mailpass_client.Webhooks()")
        self.assertNotIn(secret, str(vars(client.webhooks)))


if __name__ == "__main__":
    unittest.main()
