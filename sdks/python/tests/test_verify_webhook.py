"""verify_webhook, the receiver's check, on the Standard Webhooks vector and on requests
altered every way it must notice."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import os
import time
import unittest
from typing import Any

import mailpass_client
from mailpass_client import WebhookVerificationError, verify_webhook

# The known vector, made with the standardwebhooks Python package.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1733306400
BODY = b'{"type":"email.delivered","test":true}'
SIGNATURE = "v1,5h3bA8xPOby/eWQMFLkf3/Oq1qkCluE+gH+H9B4Ig70="
EVENT = {"type": "email.delivered", "test": True}


def headers(signature: str = SIGNATURE, **changed: str) -> dict[str, str]:
    given = {
        "webhook-id": ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": signature,
    }
    given.update({name.replace("_", "-"): value for name, value in changed.items()})
    return given


def random_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """A v1 signature of `body`, made here with the same recipe as MailPass's."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{event_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class VerifyWebhookTest(unittest.TestCase):
    def refused(self, expected: str, *args: object, **kwargs: object) -> WebhookVerificationError:
        kwargs.setdefault("now", TIMESTAMP)
        with self.assertRaises(WebhookVerificationError) as raised:
            verify_webhook(*args, **kwargs)  # type: ignore[arg-type]  # the cases vary them
        self.assertIn(expected, str(raised.exception))
        return raised.exception

    def test_the_known_vector_verifies_and_gives_the_event(self) -> None:
        event: mailpass_client.WebhookEvent = verify_webhook(
            BODY, headers(), SECRET, 300, now=TIMESTAMP
        )
        self.assertEqual(event, EVENT)
        # The default tolerance, 300 s, and a clock that far off either way.
        self.assertEqual(verify_webhook(BODY, headers(), SECRET, now=TIMESTAMP + 300), EVENT)
        self.assertEqual(verify_webhook(BODY, headers(), SECRET, now=TIMESTAMP - 300), EVENT)
        # The body as a str (its UTF-8), or a bytearray, is the same body.
        self.assertEqual(verify_webhook(BODY.decode(), headers(), SECRET, now=TIMESTAMP), EVENT)
        self.assertEqual(verify_webhook(bytearray(BODY), headers(), SECRET, now=TIMESTAMP), EVENT)
        # The base64 part alone, without the prefix, is the same key.
        self.assertEqual(verify_webhook(BODY, headers(), SECRET[6:], now=TIMESTAMP), EVENT)

    def test_header_names_in_any_case_and_the_usual_shapes(self) -> None:
        message = http.client.HTTPMessage()  # what http.server's self.headers is
        message["Webhook-Id"] = ID
        message["Webhook-Timestamp"] = str(TIMESTAMP)
        message["Webhook-Signature"] = SIGNATURE
        shapes: dict[str, Any] = {
            "any case": {
                "Webhook-Id": ID,
                "WEBHOOK-TIMESTAMP": str(TIMESTAMP),
                "webhook-Signature": SIGNATURE,
                "Content-Type": "application/json",
            },
            "http.server": message,
            "dict(http.server)": dict(message),
            "WSGI environ / Django META": {
                "HTTP_WEBHOOK_ID": ID,
                "HTTP_WEBHOOK_TIMESTAMP": str(TIMESTAMP),
                "HTTP_WEBHOOK_SIGNATURE": SIGNATURE,
                "REQUEST_METHOD": "POST",
                "wsgi.input": object(),
            },
            "ASGI raw pairs": [
                (b"webhook-id", ID.encode()),
                (b"webhook-timestamp", str(TIMESTAMP).encode()),
                (b"webhook-signature", SIGNATURE.encode()),
            ],
            "lists of values": {
                "webhook-id": [ID],
                "webhook-timestamp": [str(TIMESTAMP)],
                "webhook-signature": [SIGNATURE],
            },
        }
        for shape, given in shapes.items():
            with self.subTest(shape=shape):
                self.assertEqual(verify_webhook(BODY, given, SECRET, now=TIMESTAMP), EVENT)

    def test_a_tampered_body_is_refused(self) -> None:
        nope = "No webhook signature matches"
        self.refused(nope, BODY.replace(b"true", b"false"), headers(), SECRET)
        # One byte more: the body is checked exactly as received.
        self.refused(nope, BODY + b"\n", headers(), SECRET)
        # So are the id and the timestamp, which the signature covers.
        self.refused(nope, BODY, headers(webhook_id="msg_other"), SECRET)
        self.refused(nope, BODY, headers(webhook_timestamp=str(TIMESTAMP + 1)), SECRET)

    def test_the_wrong_secret_is_refused_and_not_shown(self) -> None:
        other = random_secret()
        error = self.refused("No webhook signature matches", BODY, headers(), other)
        self.assertIsInstance(error, mailpass_client.MailPassError)
        self.assertNotIsInstance(error, mailpass_client.ApiError)
        self.assertNotIn(other, str(error))
        self.assertNotIn(other[6:], repr(error))

    def test_a_timestamp_outside_the_tolerance_is_refused_even_well_signed(self) -> None:
        self.refused("too old", BODY, headers(), SECRET, now=TIMESTAMP + 301)
        self.refused("in the future", BODY, headers(), SECRET, now=TIMESTAMP - 301)
        self.refused("too old", BODY, headers(), SECRET, 10, now=TIMESTAMP + 11)
        self.refused("too old", BODY, headers(), SECRET, tolerance=0, now=TIMESTAMP + 1)
        self.assertEqual(verify_webhook(BODY, headers(), SECRET, 0, now=TIMESTAMP), EVENT)
        # Without `now`, the real clock: a request of 2024 is long past.
        with self.assertRaisesRegex(WebhookVerificationError, "too old"):
            verify_webhook(BODY, headers(), SECRET)

        # Signed now, it passes on the real clock.
        now = int(time.time())
        signature = sign(SECRET, ID, now, BODY)
        fresh = headers(signature, webhook_timestamp=str(now))
        self.assertEqual(verify_webhook(BODY, fresh, SECRET), EVENT)

    def test_two_signatures_where_the_second_matches(self) -> None:
        old = sign(random_secret(), ID, TIMESTAMP, BODY)
        self.assertEqual(
            verify_webhook(BODY, headers(f"{old} {SIGNATURE}"), SECRET, now=TIMESTAMP), EVENT
        )
        # Two header lines count as one space-separated line.
        lines = [
            ("webhook-id", ID),
            ("webhook-timestamp", str(TIMESTAMP)),
            ("webhook-signature", old),
            ("Webhook-Signature", SIGNATURE),
        ]
        self.assertEqual(verify_webhook(BODY, lines, SECRET, now=TIMESTAMP), EVENT)
        # Neither matching: refused.
        self.refused("No webhook signature matches", BODY, headers(f"{old} {old}"), SECRET)

    def test_only_v1_signatures_count(self) -> None:
        sig = SIGNATURE[len("v1,") :]
        for signature in (f"v2,{sig}", sig, f"v1a,{sig}", f"v1,{sig}=", "v1,", "v1,é"):
            with self.subTest(signature=signature):
                self.refused("No webhook signature matches", BODY, headers(signature), SECRET)
        event = verify_webhook(BODY, headers(f"v2,{sig} {SIGNATURE}"), SECRET, now=TIMESTAMP)
        self.assertEqual(event, EVENT)

    def test_a_missing_header_is_refused(self) -> None:
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            with self.subTest(name=name):
                without = headers()
                del without[name]
                self.refused(f"The {name} header is missing", BODY, without, SECRET)
                self.refused(
                    f"The {name} header is missing", BODY, {**headers(), name: "  "}, SECRET
                )
        self.refused("is missing", BODY, {}, SECRET)

    def test_a_malformed_or_repeated_header_is_refused(self) -> None:
        for timestamp in ("soon", "-1", "1733306400.5", "1e9", "9" * 20, "١٧٣٣٣٠٦٤٠٠"):
            with self.subTest(timestamp=timestamp):
                self.refused("not a Unix time", BODY, headers(webhook_timestamp=timestamp), SECRET)
        twice = [*headers().items(), ("Webhook-Id", "msg_other")]
        self.refused("more than one webhook-id", BODY, twice, SECRET)
        # The same value twice is one value.
        same = [*headers().items(), ("Webhook-Id", ID)]
        self.assertEqual(verify_webhook(BODY, same, SECRET, now=TIMESTAMP), EVENT)

    def test_a_signed_body_that_is_not_a_json_object_is_refused(self) -> None:
        for body in (b"[1,2]", b"not json", b'"text"', b"", b"\xff\xfe{"):
            with self.subTest(body=body):
                signed = headers(sign(SECRET, ID, TIMESTAMP, body))
                self.refused("not a JSON object", body, signed, SECRET)
        body = (
            b'{"type":"webhook.test","created_at":"2026-12-04T10:00:03.512Z","test":false,'
            b'"data":{"webhook_id":7,"message":"This is a test event from MailPass."}}'
        )
        event = verify_webhook(
            body, headers(sign(SECRET, ID, TIMESTAMP, body)), SECRET, now=TIMESTAMP
        )
        self.assertEqual((event["type"], event["data"]["webhook_id"]), ("webhook.test", 7))

    def test_a_secret_that_is_not_one_or_a_negative_tolerance_is_the_receivers_mistake(
        self,
    ) -> None:
        for secret in ("", "whsec_", "whsec_not base64!", "mp_live_abc", "   "):
            with self.subTest(secret=secret):
                with self.assertRaises(mailpass_client.ConfigurationError) as raised:
                    verify_webhook(BODY, headers(), secret, now=TIMESTAMP)
                self.assertIsInstance(raised.exception, ValueError)
                self.assertNotIsInstance(raised.exception, WebhookVerificationError)
                self.assertIn("whsec_", str(raised.exception))
        with self.assertRaises(ValueError):
            verify_webhook(BODY, headers(), SECRET, -1, now=TIMESTAMP)
        with self.assertRaises(TypeError):
            verify_webhook({"type": "x"}, headers(), SECRET, now=TIMESTAMP)  # type: ignore[arg-type]  # the check


if __name__ == "__main__":
    unittest.main()
