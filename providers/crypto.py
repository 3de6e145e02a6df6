"""Encryption at rest for provider credentials (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from settings.MAILPASS_ENCRYPTION_KEYS, newest first; older keys keep decrypting
so a key can be rotated without re-entering every provider. With no keys configured (only
in development: `check --deploy` refuses it), keys are derived from SECRET_KEY and its
fallbacks.

Rotating: put the new key first and keep the old ones after it (everything stays readable),
run `manage.py rotate_provider_secrets` (every provider re-encrypted with the new key, see
reencrypt), then drop the old keys.
"""

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet


class CredentialsUnreadableError(Exception):
    """Stored credentials cannot be decrypted with any configured key."""


def _derived_key(secret: str) -> bytes:
    digest = hashlib.sha256(b"mailpass.provider-credentials:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...], secrets: tuple[str, ...]) -> MultiFernet:
    try:
        fernets = [Fernet(key.encode()) for key in keys] or [
            Fernet(_derived_key(secret)) for secret in secrets
        ]
    except ValueError as err:
        raise ImproperlyConfigured(
            "MAILPASS_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64 bytes)."
        ) from err
    return MultiFernet(fernets)


def _current_cipher() -> MultiFernet:
    return _cipher(
        tuple(settings.MAILPASS_ENCRYPTION_KEYS),
        (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS),
    )


def encrypt_json(data: dict[str, str]) -> str:
    """Encrypt a small dict of secrets with the newest key; returns an ASCII token."""
    return _current_cipher().encrypt(json.dumps(data).encode()).decode()


def decrypt_json(token: str) -> dict[str, str]:
    """Decrypt a token made by encrypt_json. Raises CredentialsUnreadableError."""
    if not token:
        return {}
    try:
        return json.loads(_current_cipher().decrypt(token.encode()))
    except InvalidToken as err:
        raise CredentialsUnreadableError(
            "provider credentials cannot be decrypted with the configured keys"
        ) from err


def reencrypt(token: str) -> str:
    """`token` encrypted again with the newest key, whichever configured key made it (an
    empty token stays empty). Raises CredentialsUnreadableError."""
    if not token:
        return token
    try:
        return _current_cipher().rotate(token.encode()).decode()
    except InvalidToken as err:
        raise CredentialsUnreadableError(
            "provider credentials cannot be decrypted with the configured keys"
        ) from err


def reencrypt_rows(rows: QuerySet[Any], field: str) -> tuple[int, list[int]]:
    """Encrypt `field` of every row of `rows` again with the newest key: (how many were
    rewritten, the pks no configured key reads). Read first, then write (SQLite gives no
    isolation between a cursor still being read and updates of its table), each write
    guarded by the value read: a row saved meanwhile already has the newest key, and its
    new secrets must not be overwritten with the old ones."""
    rotated, unreadable = 0, []
    for pk, token in list(rows.exclude(**{field: ""}).values_list("pk", field)):
        try:
            new_token = reencrypt(token)
        except CredentialsUnreadableError:
            unreadable.append(pk)
            continue
        rotated += rows.filter(pk=pk, **{field: token}).update(**{field: new_token})
    return rotated, unreadable
