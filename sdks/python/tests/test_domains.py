"""client.domains: the request each call makes (method, path, body), how a domain's name
goes into the path, and the errors the answers map to, against tests/recorder.py."""

from __future__ import annotations

import unittest
from typing import Any

import mailpass_client
from mailpass_client import errors
from tests.recorder import Recorder

DKIM = {
    "purpose": "dkim",
    "type": "TXT",
    "name": "mp20261204._domainkey.example.com",
    "value": "v=DKIM1; k=rsa; p=MIIBIjANBgkq",
    "selector": "mp20261204",
    "algorithm": "rsa-sha256",
    "key_state": "active",
    "status": "pending",
    "found": None,
    "detail": "",
}
DMARC = {
    "purpose": "dmarc",
    "type": "TXT",
    "name": "_dmarc.example.com",
    "value": "v=DMARC1; p=none",
    "status": "pending",
    "found": None,
    "detail": "",
}
DOMAIN = {
    "id": 7,
    "name": "example.com",
    "status": "pending",
    "ed25519": False,
    "signing": False,
    "created_at": "2026-12-04T10:00:00Z",
    "checked_at": None,
    "next_check_at": "2026-12-04T11:00:00Z",
    "verified_at": None,
    "records": [DKIM, DMARC],
}
NOT_VERIFIED: tuple[str, str, dict[str, Any]] = (
    "DOMAIN_NOT_VERIFIED",
    "The From address's domain is not a verified sender domain of this account.",
    {"domain": "unverified.example"},
)


class DomainsTest(unittest.TestCase):
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
        page = {"total": 1, "page": 1, "pages": 1, "domains": [DOMAIN]}
        self.server.answer(data=page)
        listed: mailpass_client.DomainPage = self.client.domains.list()["data"]
        self.assertEqual(listed, page)
        self.assertRequest("GET", "/api/v1/domains")
        self.client.domains.list(2)
        self.assertRequest("GET", "/api/v1/domains?page=2")
        self.client.domains.list(page=3)
        self.assertRequest("GET", "/api/v1/domains?page=3")

    def test_create_posts_the_params_as_given_or_a_name_alone(self) -> None:
        self.server.answer(201, data={"domain": DOMAIN})
        created: mailpass_client.DomainDetail = self.client.domains.create("example.com")["data"]
        self.assertEqual(created["domain"], DOMAIN)
        self.assertRequest("POST", "/api/v1/domains", {"name": "example.com"})

        params: mailpass_client.DomainParams = {"name": "example.com", "ed25519": True}
        self.client.domains.create(params)
        self.assertRequest("POST", "/api/v1/domains", {"name": "example.com", "ed25519": True})
        self.client.domains.create({"name": "example.com", "ed25519": False})
        self.assertRequest("POST", "/api/v1/domains", {"name": "example.com", "ed25519": False})
        # The name goes as it is: the server lower-cases it and turns an IDN into punycode.
        self.client.domains.create("Bücher.Example")
        self.assertRequest("POST", "/api/v1/domains", {"name": "Bücher.Example"})

    def test_get_verify_and_rotate_name_the_domain_by_id_or_by_name(self) -> None:
        self.server.answer(data={"domain": DOMAIN})
        for reference, segment in ((7, "7"), ("example.com", "example.com"), ("7", "7")):
            with self.subTest(reference=reference):
                got: mailpass_client.DomainDetail = self.client.domains.get(reference)["data"]
                self.assertEqual(got["domain"], DOMAIN)
                self.assertRequest("GET", f"/api/v1/domains/{segment}")

                self.assertEqual(self.client.domains.verify(reference)["data"]["domain"], DOMAIN)
                self.assertRequest("POST", f"/api/v1/domains/{segment}/verify")

                self.client.domains.rotate(reference)
                self.assertRequest("POST", f"/api/v1/domains/{segment}/rotate")

    def test_rotate_sends_ed25519_only_when_given(self) -> None:
        self.server.answer(data={"domain": DOMAIN})
        self.client.domains.rotate(7, True)
        self.assertRequest("POST", "/api/v1/domains/7/rotate", {"ed25519": True})
        self.client.domains.rotate("example.com", ed25519=False)
        self.assertRequest("POST", "/api/v1/domains/example.com/rotate", {"ed25519": False})
        self.client.domains.rotate(7, ed25519=None)
        self.assertRequest("POST", "/api/v1/domains/7/rotate")

    def test_delete_returns_the_answer_or_an_envelope_without_data_for_a_204(self) -> None:
        self.server.answer(data={"id": 7, "name": "example.com"})
        deleted: mailpass_client.DomainDeleted = self.client.domains.delete(7)["data"]
        self.assertEqual(deleted, {"id": 7, "name": "example.com"})
        self.assertRequest("DELETE", "/api/v1/domains/7")

        self.server.answer(204)
        self.assertEqual(self.client.domains.delete(7), {"success": True, "data": None})
        self.assertRequest("DELETE", "/api/v1/domains/7")
        self.assertEqual(self.client.domains.delete("example.com"), {"success": True, "data": None})
        self.assertRequest("DELETE", "/api/v1/domains/example.com")

    def test_a_name_is_url_encoded_as_one_path_segment(self) -> None:
        self.server.answer(data={"domain": DOMAIN})
        domains = self.client.domains
        for reference, segment in (
            ("bücher.example", "b%C3%BCcher.example"),
            ("a/b.example", "a%2Fb.example"),
            ("../webhooks", "..%2Fwebhooks"),
            ("x.example?page=2", "x.example%3Fpage%3D2"),
            ("x.example#y", "x.example%23y"),
            ("a b.example", "a%20b.example"),
        ):
            with self.subTest(reference=reference):
                domains.get(reference)
                self.assertRequest("GET", f"/api/v1/domains/{segment}")
                domains.verify(reference)
                self.assertRequest("POST", f"/api/v1/domains/{segment}/verify")
                domains.rotate(reference, True)
                self.assertRequest("POST", f"/api/v1/domains/{segment}/rotate", {"ed25519": True})
        self.server.answer(204)
        domains.delete("bücher.example")
        self.assertRequest("DELETE", "/api/v1/domains/b%C3%BCcher.example")

    def test_an_empty_or_odd_reference_is_refused_before_any_request(self) -> None:
        domains = self.client.domains
        for call, raised in (
            (lambda: domains.get(""), ValueError),
            (lambda: domains.delete(""), ValueError),
            (lambda: domains.verify(""), ValueError),
            (lambda: domains.rotate("", True), ValueError),
            (lambda: domains.get(True), TypeError),  # an int to Python, never an id
            (lambda: domains.get(None), TypeError),  # type: ignore[arg-type]  # the check
            (lambda: domains.delete(7.0), TypeError),  # type: ignore[arg-type]  # the check
        ):
            with self.assertRaises(raised) as error:
                call()
            self.assertRegex(str(error.exception), r"^id_or_name (is empty|must be)")
        self.assertEqual(self.server.requests, [])

    def test_domain_not_verified_is_its_own_error(self) -> None:
        self.server.answer(422, error=NOT_VERIFIED)
        send = {"to": "a@example.com", "from_email": "hello@unverified.example", "text": "t"}
        with self.assertRaises(mailpass_client.DomainNotVerifiedError) as raised:
            self.client.mail.send({**send, "subject": "s"})
        error = raised.exception
        self.assertIsInstance(error, mailpass_client.ApiError)
        self.assertEqual((error.code, error.status), ("DOMAIN_NOT_VERIFIED", 422))
        self.assertEqual(error.message, NOT_VERIFIED[1])
        self.assertEqual(error.details, {"domain": "unverified.example"})
        self.assertIsNone(error.message_id)
        self.assertEqual(len(self.server.requests), 1, "a 422 is not retried")

    def test_the_other_errors_of_domains_map_as_everywhere(self) -> None:
        domains = self.client.domains
        for status, code, cls, call in (
            (400, "VALIDATION_ERROR", mailpass_client.ValidationError, lambda: domains.create("x")),
            (404, "NOT_FOUND", mailpass_client.NotFoundError, lambda: domains.get("no.example")),
            (404, "NOT_FOUND", mailpass_client.NotFoundError, lambda: domains.delete(99)),
            (403, "FORBIDDEN", mailpass_client.ForbiddenError, domains.list),
        ):
            with self.subTest(code=code):
                self.server.answer(status, error=(code, "No.", {}))
                with self.assertRaises(cls) as raised:
                    call()
                self.assertEqual((raised.exception.code, raised.exception.status), (code, status))


class DomainsShapeTest(unittest.TestCase):
    def test_the_error_class_is_registered_under_its_code(self) -> None:
        self.assertIs(
            errors.ERRORS_BY_CODE["DOMAIN_NOT_VERIFIED"], mailpass_client.DomainNotVerifiedError
        )
        self.assertTrue(issubclass(mailpass_client.DomainNotVerifiedError, errors.ApiError))

    def test_the_domains_resource_hides_the_key(self) -> None:
        secret = "mp_live_secret-never-shown-0123456789"
        client = mailpass_client.Client(secret, base_url="https://mail.example.com")
        self.assertIsInstance(client.domains, mailpass_client.Domains)
        self.assertEqual(repr(client.domains), "mailpass_client.Domains()")
        self.assertNotIn(secret, str(vars(client.domains)))


if __name__ == "__main__":
    unittest.main()
