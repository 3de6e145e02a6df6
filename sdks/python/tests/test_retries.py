"""Against tests/sdks/retry_fake.py: what is retried, how often, how long apart, and with
which Idempotency-Key."""

from __future__ import annotations

import mailpass_client
from tests.support import LiveTestCase, attempts, fake

MESSAGE = {"to": "a@example.com", "subject": "s", "text": "t"}


class RetryTest(LiveTestCase):
    def keys_sent(self, key: str) -> list:
        return [a["headers"].get("idempotency-key") for a in attempts(key)]

    def test_a_dropped_connection_is_retried_with_the_same_idempotency_key(self) -> None:
        client, key = fake("drop.ok")
        result = client.mail.send(MESSAGE)
        self.assertEqual(result["data"]["message_id"], "<fake.1@fake.test>")
        sent = self.keys_sent(key)
        self.assertEqual(len(sent), 2)
        self.assertTrue(sent[0])
        self.assertEqual(sent[0], sent[1])

    def test_each_call_has_a_fresh_key_unless_the_caller_gives_one(self) -> None:
        client, key = fake("ok")
        client.mail.send(MESSAGE)
        client.mail.send_batch({"messages": [MESSAGE]})
        client.mail.send(MESSAGE, idempotency_key="mine-1")
        first, second, third = self.keys_sent(key)
        self.assertNotEqual(first, second)
        self.assertEqual(third, "mine-1")

    def test_retry_after_is_honoured(self) -> None:
        client, key = fake("r429-1.ok")
        client.mail.send(MESSAGE)
        first, second = attempts(key)
        self.assertGreaterEqual(second["at"] - first["at"], 1.0)

    def test_server_errors_are_retried_but_not_send_failed_or_validation(self) -> None:
        for script, retried in (
            ("e503.ok", True),
            ("e500.ok", True),
            ("e502html.ok", True),
            ("failed", False),
            ("invalid", False),
        ):
            with self.subTest(script=script):
                client, key = fake(script)
                if retried:
                    client.mail.send(MESSAGE)
                    self.assertEqual(len(attempts(key)), 2)
                else:
                    with self.assertRaises(mailpass_client.ApiError):
                        client.mail.send(MESSAGE)
                    self.assertEqual(len(attempts(key)), 1)

    def test_send_limit_is_retried_only_when_asked(self) -> None:
        client, key = fake("q429-1.ok")
        with self.assertRaises(mailpass_client.SendLimitExceededError) as raised:
            client.mail.send(MESSAGE)
        self.assertEqual(raised.exception.retry_after, 1)
        self.assertEqual(len(attempts(key)), 1)

        client, key = fake("q429-1.ok", retry_on_send_limit=True)
        client.mail.send(MESSAGE)
        self.assertEqual(len(attempts(key)), 2)

    def test_no_retries_when_turned_off(self) -> None:
        client, key = fake("e503.ok", max_retries=0)
        with self.assertRaises(mailpass_client.UnavailableError):
            client.mail.send(MESSAGE)
        self.assertEqual(len(attempts(key)), 1)

    def test_a_long_retry_after_is_raised_not_waited_for(self) -> None:
        client, key = fake("r429-120.ok")
        with self.assertRaises(mailpass_client.RateLimitedError) as raised:
            client.mail.send(MESSAGE)
        self.assertEqual(raised.exception.retry_after, 120)
        self.assertEqual(len(attempts(key)), 1)

    def test_when_retries_run_out_the_last_error_is_raised(self) -> None:
        client, key = fake("e503.e503.e500")
        with self.assertRaises(mailpass_client.InternalServerError) as raised:
            client.mail.send(MESSAGE)
        self.assertEqual(raised.exception.code, "INTERNAL_ERROR")
        self.assertEqual(len(attempts(key)), 3)

    def test_an_answer_that_is_not_json_is_an_unexpected_response(self) -> None:
        client, _ = fake("e502html", max_retries=0)
        with self.assertRaises(mailpass_client.ApiError) as raised:
            client.mail.send(MESSAGE)
        error = raised.exception
        self.assertIs(type(error), mailpass_client.ApiError)
        self.assertEqual((error.code, error.status), ("UNEXPECTED_RESPONSE", 502))
        self.assertIn("502 Bad Gateway", error.message)

    def test_rate_limited_maps_by_code(self) -> None:
        client, _ = fake("r429-1", max_retries=0)
        with self.assertRaises(mailpass_client.RateLimitedError) as raised:
            client.suppressions.list()
        self.assertEqual((raised.exception.status, raised.exception.retry_after), (429, 1))

    def test_a_timeout_has_its_own_class(self) -> None:
        client, _ = fake("sleep-3", timeout=1, max_retries=0)
        with self.assertRaises(mailpass_client.RequestTimeoutError):
            client.mail.send(MESSAGE)

    def test_a_refused_connection_is_a_network_error_after_the_retries(self) -> None:
        client = mailpass_client.Client("k", base_url="http://127.0.0.1:9", backoff=0.01)
        with self.assertRaises(mailpass_client.NetworkError):
            client.mail.status("x")
