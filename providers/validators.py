"""Rules for text that ends up in an email header, shared by the API and provider settings."""

import re

from django.core.exceptions import ValidationError

# CR, LF and the other characters that end or corrupt a header line, NUL included.
HEADER_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
HEADER_UNSAFE_MESSAGE = "Must not contain line breaks or control characters."
MAX_SUBJECT_CHARS = 998  # RFC 5322's line limit; longer subjects are folded badly by clients

# An RFC 2047 encoded word. RFC 2047 section 5 forbids them in an address, but lenient
# parsers decode them anyway (Python's email, hence aiosmtpd): "=?utf-8?q?a=0D=0A?=@x.org"
# would reach such a relay as an address holding a CR LF.
ENCODED_WORD = re.compile(r"=\?[^?]*\?[bq]\?[^?]*\?=", re.IGNORECASE)
ENCODED_WORD_MESSAGE = "Must not contain an encoded word (=?...?=)."


def validate_header_safe(value: str) -> None:
    if HEADER_UNSAFE.search(value):
        raise ValidationError(HEADER_UNSAFE_MESSAGE, code="header_unsafe")


def validate_address_plain(value: str) -> None:
    """An address for an envelope and a header: header-safe and without encoded words."""
    validate_header_safe(value)
    if ENCODED_WORD.search(value):
        raise ValidationError(ENCODED_WORD_MESSAGE, code="encoded_word")
