"""The shape of API keys: mp_live_ (or mp_test_ for a test key) + 43 random URL-safe
characters (256 bits).

Only the first characters (the prefix, shown in the dashboard and used for lookup) and a
keyed HMAC-SHA256 digest are stored; the full key exists only in the response that
created it.
"""

import hashlib
import hmac
import secrets

from django.conf import settings

KEY_SCHEME = "mp_live_"
TEST_KEY_SCHEME = "mp_test_"
PREFIX_LENGTH = len(KEY_SCHEME) + 8  # both schemes are 8 characters long


def generate_key(*, test: bool = False) -> str:
    return (TEST_KEY_SCHEME if test else KEY_SCHEME) + secrets.token_urlsafe(32)


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


def hmac_keys() -> list[str]:
    """The keys a stored digest may have been made with, the current one first: the
    MAILPASS_API_KEY_HMAC_KEY and its fallbacks, or (in development, where it may be unset)
    SECRET_KEY and SECRET_KEY_FALLBACKS."""
    if settings.MAILPASS_API_KEY_HMAC_KEY:
        return [settings.MAILPASS_API_KEY_HMAC_KEY, *settings.MAILPASS_API_KEY_HMAC_KEY_FALLBACKS]
    return [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]


def key_digest(key: str, hmac_key: str | None = None) -> str:
    """The digest stored for `key`: HMAC-SHA256 with `hmac_key` (default: the current one)."""
    secret = (hmac_key or hmac_keys()[0]).encode()
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def looks_like_key(key: str) -> bool:
    scheme = key.startswith(KEY_SCHEME) or key.startswith(TEST_KEY_SCHEME)
    return scheme and len(key) > PREFIX_LENGTH and key.isascii()
