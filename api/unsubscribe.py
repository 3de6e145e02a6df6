"""One-click unsubscribe (RFC 8058): the signed URL a message's List-Unsubscribe header
names, and reading it back.

The URL is /u/<token>: the message's pk in base 36 and a truncated HMAC over it
(api.signing), so a forged or altered token names no message. Mailbox providers POST to it
when the recipient presses their unsubscribe button; a person following it gets a page
with a button that POSTs the same (a GET changes nothing, so link scanners unsubscribe
nobody).
"""

from django.conf import settings

from api.signing import base36, matches, read_base36, signature


def unsubscribe_token(message_pk: int) -> str:
    return f"{base36(message_pk)}.{signature('unsubscribe', message_pk)}"


def read_unsubscribe_token(token: str) -> int | None:
    """The message pk an unsubscribe token names, or None if it is not one we signed."""
    encoded, _, signed = token.partition(".")
    if (pk := read_base36(encoded)) is None:
        return None
    return pk if matches(signed, "unsubscribe", pk) else None


def unsubscribe_url(message_pk: int) -> str:
    return f"{settings.MAILPASS_PUBLIC_URL}/u/{unsubscribe_token(message_pk)}"
