from __future__ import annotations

import os
import unittest
from unittest import mock

import mailpass_client
from tests.support import LiveTestCase, attempts, fake


class ConfigurationTest(unittest.TestCase):
    def test_no_base_url_and_no_environment_variable_says_which_to_set(self) -> None:
        with mock.patch.dict(os.environ, {}, clear=True):
            with self.assertRaises(mailpass_client.ConfigurationError) as raised:
                mailpass_client.Client("mp_live_x")
        self.assertIn("base_url", str(raised.exception))
        self.assertIn("MAILPASS_BASE_URL", str(raised.exception))

    def test_the_environment_variable_gives_the_base_url(self) -> None:
        with mock.patch.dict(os.environ, {"MAILPASS_BASE_URL": "https://mail.example.com/"}):
            client = mailpass_client.Client("mp_live_x")
        self.assertEqual(client.base_url, "https://mail.example.com")

    def test_an_empty_key_is_refused(self) -> None:
        with self.assertRaises(mailpass_client.ConfigurationError):
            mailpass_client.Client(" ", base_url="https://mail.example.com")

    def test_bad_options_are_refused(self) -> None:
        for options in ({"timeout": 0}, {"max_retries": -1}, {"base_url": "mail.example.com"}):
            with self.subTest(options=options):
                options = {"base_url": "https://mail.example.com", **options}
                with self.assertRaises(mailpass_client.ConfigurationError):
                    mailpass_client.Client("mp_live_x", **options)

    def test_every_error_shares_one_root(self) -> None:
        for cls in (
            mailpass_client.ApiError,
            mailpass_client.NetworkError,
            mailpass_client.ConfigurationError,
            mailpass_client.RequestTimeoutError,
        ):
            self.assertTrue(issubclass(cls, mailpass_client.MailPassError))
        self.assertFalse(issubclass(mailpass_client.NetworkError, mailpass_client.ApiError))


class KeySafetyTest(LiveTestCase):
    SECRET = "mp_live_secret-never-shown-0123456789"

    def test_the_key_is_not_in_repr(self) -> None:
        client = mailpass_client.Client(self.SECRET, base_url="https://mail.example.com")
        for text in (
            repr(client),
            repr(client.mail),
            repr(client.suppressions),
            repr(vars(client)),
            str(vars(client.mail)),
        ):
            self.assertNotIn(self.SECRET, text)

    def test_the_key_is_not_in_error_messages(self) -> None:
        client = mailpass_client.Client(
            self.SECRET, base_url=os.environ["MAILPASS_BASE_URL"], max_retries=0
        )
        with self.assertRaises(mailpass_client.UnauthorizedError) as raised:
            client.mail.send({"to": "a@example.com", "subject": "s", "text": "t"})
        self.assertNotIn(self.SECRET, str(raised.exception) + repr(raised.exception))

        unreachable = mailpass_client.Client(
            self.SECRET, base_url="http://127.0.0.1:9", max_retries=0
        )
        with self.assertRaises(mailpass_client.NetworkError) as raised:
            unreachable.mail.status("x")
        self.assertNotIn(self.SECRET, str(raised.exception) + repr(raised.exception))

    def test_the_user_agent_names_the_library(self) -> None:
        client, key = fake("ok")
        client.mail.status("x")
        self.assertEqual(
            attempts(key)[0]["headers"]["user-agent"],
            f"mailpass-python/{mailpass_client.__version__}",
        )


if __name__ == "__main__":
    unittest.main()
