"""API keys: create, revoke, and note each use."""

import datetime as dt

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from api.keys import generate_key, key_digest, key_prefix
from api.models import ApiKey, default_permissions

# last_used_at is a hint for people, not an audit log: one write a minute per key is plenty.
_LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


def api_key_create(
    *,
    account: Account,
    name: str,
    created_by: User | None = None,
    permissions: list[str] | None = None,
    test: bool = False,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its full secret, which is not stored anywhere. A
    test key (mp_test_…) records mail without sending it and sees only test data.

    Retries on the (astronomically unlikely) prefix collision.
    """
    for _ in range(5):
        secret = generate_key(test=test)
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    account=account,
                    name=name,
                    created_by=created_by,
                    prefix=key_prefix(secret),
                    digest=key_digest(secret),
                    permissions=permissions if permissions is not None else default_permissions(),
                    test=test,
                )
        except IntegrityError:
            continue
        return api_key, secret
    raise RuntimeError("could not generate a unique API key prefix")


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke `api_key`; the very next request with it is a 401. Idempotent."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=api_key.revoked_at
        )
    return api_key


def api_key_mark_used(*, api_key: ApiKey, secret: str) -> None:
    """Record that `api_key` (whose full key is `secret`) was just used: at most one write a
    minute per key, and a new digest if the stored one was made with an older HMAC key."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    current = key_digest(secret)
    if api_key.digest != current:
        ApiKey.objects.filter(pk=api_key.pk).update(digest=current)
        api_key.digest = current
