"""Webhook endpoints: create, change, rotate their secrets, delete; test events and
manual retries. Events reach them through api.outbox; api.webhook_sender posts them."""

import base64
import datetime as dt
import secrets
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.models import Account
from api import outbox, webhook_sender
from api.errors import WebhookDisabledError
from api.models import WebhookDelivery, WebhookEndpoint
from providers.crypto import decrypt_json, encrypt_json
from providers.hosts import HostNotAllowedError, assert_host_allowed

URL_MAX_LENGTH = 2048
OVERLAP_DEFAULT = dt.timedelta(hours=24)
OVERLAP_MAX = dt.timedelta(hours=168)


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def url_problem(url: str) -> str | None:
    """Why `url` cannot be an endpoint, or None. https only, http too where private hosts
    are allowed (development); never a host that is or resolves to a private, loopback or
    reserved address unless that is allowed (the rule of SMTP provider hosts)."""
    if len(url) > URL_MAX_LENGTH:
        return f"At most {URL_MAX_LENGTH} characters."
    if not url.isprintable() or any(c.isspace() for c in url):
        return "Enter a URL without spaces or control characters."
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "Enter a valid URL."
    allowed = ("https", "http") if settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS else ("https",)
    if parts.scheme not in allowed:
        return "Use an https:// URL."
    if not parts.hostname:
        return "Enter a URL with a host name."
    if parts.username is not None or parts.password is not None:
        return "Leave the user name and password out of the URL."
    if parts.fragment:
        return "Leave the #fragment out of the URL."
    try:
        assert_host_allowed(parts.hostname, port)
    except HostNotAllowedError as err:
        return str(err)
    except (OSError, UnicodeError):
        return f"{parts.hostname} does not resolve."
    return None


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    problems: dict[str, list[str]] = {}
    if "url" in fields and (problem := url_problem(fields["url"])):
        problems["url"] = [problem]
    if "events" in fields:
        unknown = [name for name in fields["events"] if name not in outbox.EVENT_NAMES]
        if unknown:
            problems["events"] = [f"Unknown event type(s): {', '.join(map(str, unknown))}."]
        elif not fields["events"]:
            problems["events"] = ["Choose at least one event type."]
        else:
            fields["events"] = [name for name in outbox.EVENT_NAMES if name in fields["events"]]
    if problems:
        raise ValidationError(problems)
    return fields


def webhook_create(
    *,
    account: Account,
    url: str,
    description: str = "",
    events: list[str] | None = None,
    enabled: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which is shown this once. Raises
    ValidationError for a URL or event list that cannot be used."""
    fields = _checked(
        {"url": url, "events": list(outbox.EVENT_NAMES if events is None else events)}
    )
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        account=account,
        url=fields["url"],
        description=description,
        events=fields["events"],
        enabled=enabled,
        disabled_reason=None if enabled else WebhookEndpoint.DisabledReason.MANUAL,
        secrets=encrypt_json({"current": secret}),
    )
    return endpoint, secret


def webhook_update(*, endpoint: WebhookEndpoint, **fields: Any) -> WebhookEndpoint:
    """Change any of url, description, events, enabled. Enabling clears the endpoint's
    run of failures; disabling fails what waits for it."""
    _checked(fields)
    enabled = fields.pop("enabled", None)
    with transaction.atomic():
        for name, value in fields.items():
            setattr(endpoint, name, value)
        changed = [*fields, "updated_at"]
        if enabled is True and not endpoint.enabled:
            endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, None, None
            changed += ["enabled", "disabled_reason", "failing_since"]
        endpoint.updated_at = timezone.now()
        # Only what changed: the sender may disable the endpoint meanwhile.
        endpoint.save(update_fields=changed)
        if enabled is False and endpoint.enabled:
            webhook_sender.disable(endpoint, reason=WebhookEndpoint.DisabledReason.MANUAL)
    return endpoint


def webhook_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its deliveries (events stay with others' deliveries)."""
    endpoint.delete()


def webhook_rotate_secret(
    *, endpoint: WebhookEndpoint, overlap: dt.timedelta = OVERLAP_DEFAULT
) -> str:
    """Give the endpoint a new secret and return it; the old one goes on signing next to
    it for `overlap` (0: not at all), so receivers can switch without missing an event."""
    if not dt.timedelta(0) <= overlap <= OVERLAP_MAX:
        raise ValidationError({"overlap_hours": ["From 0 to 168 hours."]})
    secret = new_secret()
    now = timezone.now()
    keys = {"current": secret}
    if overlap:
        keys["previous"] = decrypt_json(endpoint.secrets)["current"]
    endpoint.secrets = encrypt_json(keys)
    endpoint.previous_secret_expires_at = now + overlap if overlap else None
    endpoint.secret_rotated_at = endpoint.updated_at = now
    endpoint.save(
        update_fields=["secrets", "previous_secret_expires_at", "secret_rotated_at", "updated_at"]
    )
    return secret


def webhook_send_test(*, endpoint: WebhookEndpoint, test: bool) -> WebhookDelivery:
    """Queue a signed `webhook.test` event for the endpoint (marked test for a test key)."""
    if not endpoint.enabled:
        raise WebhookDisabledError()
    with transaction.atomic():
        return outbox.emit_test_event(endpoint, test=test)


def webhook_delivery_retry(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Try a delivery again now, whatever became of it, with the same event id (so a
    receiver that has it already can tell); one being attempted right now is left to it."""
    if not delivery.endpoint.enabled:
        raise WebhookDisabledError()
    now = timezone.now()
    # Not one a sender holds right now: its attempt is under way and will be recorded.
    in_flight = Q(claim_token__isnull=False, lease_expires_at__gt=now)
    WebhookDelivery.objects.filter(pk=delivery.pk).exclude(in_flight).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=now,
        claim_token=None,
        lease_expires_at=None,
    )
    delivery.refresh_from_db()
    return delivery
