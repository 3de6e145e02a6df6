"""Short signed tokens for public URLs (tracking links, provider webhooks).

A token is the object's pk in base 36 plus a truncated HMAC-SHA256 of what it names, keyed
from SECRET_KEY: short enough for a URL, impossible to forge or to point at another object.
Tokens signed with a key now in SECRET_KEY_FALLBACKS still match, so rotating SECRET_KEY
does not break the links in mail already sent or the webhook URLs given to ESPs.
"""

import base64
import hashlib
import hmac

from django.conf import settings

_SIGNATURE_BYTES = 12  # 96 bits: 16 characters


def signature(*parts: object, secret: str | None = None) -> str:
    """The signature of `parts` with `secret` (default: SECRET_KEY)."""
    secret = settings.SECRET_KEY if secret is None else secret
    key = hashlib.sha256(b"mailpass-url-signing:" + secret.encode()).digest()
    data = ":".join(str(part) for part in parts).encode()
    digest = hmac.new(key, data, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def matches(text: str, *parts: object) -> bool:
    """Whether `text` is the signature of `parts` with SECRET_KEY or one of its fallbacks."""
    # As bytes: compare_digest raises TypeError for a str with non-ASCII characters, and
    # a token is whatever a stranger typed into a URL.
    return any(
        hmac.compare_digest(text.encode(), signature(*parts, secret=secret).encode())
        for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    )


def base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text


def read_base36(text: str) -> int | None:
    """The number `text` spells in base 36, or None if it is not a plausible pk written as
    base36() writes it. Only that one spelling: int() would also take upper case and
    leading zeros, and a token must not have variants that work."""
    if not 0 < len(text) <= 13 or not text.isascii() or not text.isalnum():
        return None
    number = int(text, 36)
    return number if base36(number) == text else None


def read_decimal(text: str) -> int | None:
    """The number `text` spells in ASCII decimal digits as str() writes it (no sign, no
    leading zeros, at most 6 digits), or None. str.isdigit() alone would let through
    Unicode digits, some of which int() refuses (a crash) and some it reads."""
    if not 0 < len(text) <= 6 or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if str(number) == text else None
