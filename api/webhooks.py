"""Provider webhooks: every ESP provider has a URL of its own that feeds django-anymail's
tracking webhook view for that ESP, authenticated with that provider's own secrets.

The URL is /webhooks/<token>, the token naming the provider (api.signing). The view is
built per request with the provider's secrets as keyword arguments, never from global
ANYMAIL settings, so two accounts on the same ESP never accept each other's events.
anymail validates the request (basic auth, or the ESP's signature scheme), parses it and
sends its `tracking` signal once per event; the receiver below hands each event to
services.provider_event_record with the provider the request came in for.
"""

import contextvars
import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailWebhookValidationFailure,
)
from anymail.signals import AnymailTrackingEvent, tracking
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.module_loading import import_string
from django.views import View

from api.services import provider_event_record
from api.signing import base36, matches, read_base36, signature
from providers.connections import ignore_sendgrid_support_warning
from providers.kinds import KINDS, Webhook, spec_for
from providers.models import Provider

# The kinds whose events come back through a webhook (the webhook part of their row).
_WEBHOOK_KINDS = [kind for kind, spec in KINDS.items() if spec.webhook is not None]


# What anymail's signature checks and parsers raise on a request that is not what the ESP
# sends (invalid JSON or UTF-8 or base64, a list where a dict belongs, an unhashable event
# type, nesting deeper than the JSON parser goes, an infinite timestamp, an unknown SNS
# message type…), before any event is recorded. Such a request is a 400, never a 500: a 500
# tells the ESP to retry, and a stranger could cause them at will (several of these come
# before the signature or basic auth is checked).
_MALFORMED = (
    AnymailError,
    AnymailConfigurationError,
    ValueError,  # also JSONDecodeError, UnicodeError, binascii.Error
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ArithmeticError,  # OverflowError
    RecursionError,
)
# The event fields services.provider_event_record reads, and the longest recipient an
# address can be (RFC 5321; Suppression.email).
_TEXT_FIELDS = (
    "event_type",
    "message_id",
    "event_id",
    "recipient",
    "description",
    "mta_response",
    "reject_reason",
    "click_url",
    "user_agent",
)
_MAX_RECIPIENT = 254


class _StrictWebhookView:
    """Mixed in before anymail's view: a malformed request becomes an
    AnymailWebhookValidationFailure (which Django answers with a 400), and every event of a
    request is parsed and checked before the first one is recorded, so one malformed event
    cannot leave the others of its request recorded."""

    def run_validators(self, request: HttpRequest) -> None:
        try:
            super().run_validators(request)  # type: ignore[misc]  # anymail's, after us in the MRO
        except AnymailWebhookValidationFailure:
            raise
        except _MALFORMED as err:
            raise AnymailWebhookValidationFailure("Malformed webhook request.") from err

    def parse_events(self, request: HttpRequest) -> list[AnymailTrackingEvent]:
        try:
            events = list(super().parse_events(request))  # type: ignore[misc]  # anymail's, see above
        except AnymailWebhookValidationFailure:
            raise
        except _MALFORMED as err:
            raise AnymailWebhookValidationFailure("Malformed webhook payload.") from err
        for event in events:
            _check_event(event)
        return events


def _check_event(event: AnymailTrackingEvent) -> None:
    """Raise AnymailWebhookValidationFailure unless the fields we store are text (or
    absent) that the database takes: anymail passes the ESP's values through as they came."""
    for name in _TEXT_FIELDS:
        value = getattr(event, name, None)
        if value is not None and (not isinstance(value, str) or "\x00" in value):
            raise AnymailWebhookValidationFailure(f"Malformed webhook event: {name}.")
    if event.recipient is not None and len(event.recipient) > _MAX_RECIPIENT:
        raise AnymailWebhookValidationFailure("Malformed webhook event: recipient.")
    if event.timestamp is not None and not isinstance(event.timestamp, datetime):
        raise AnymailWebhookValidationFailure("Malformed webhook event: timestamp.")


@functools.cache
def _view_class(kind: str) -> type[View]:
    """anymail's view for `kind`, subclassed so that as_view() takes its settings as keyword
    arguments (Django's View only accepts names that are class attributes, and anymail's
    views read some settings, webhook_secret…, without declaring them), and so that a
    malformed request is a 400 (_StrictWebhookView)."""
    webhook = _webhook_of(kind)
    view_class = import_string(webhook.view)
    settings_names = ["webhook_secret", *webhook.fixed_kwargs]
    subclass: type[View] = type(
        view_class.__name__, (_StrictWebhookView, view_class), dict.fromkeys(settings_names)
    )
    return subclass


def webhook_token(provider: Provider) -> str:
    return f"{base36(provider.pk)}.{signature('webhook', provider.pk)}"


def webhook_url(provider: Provider) -> str | None:
    """The URL to give the ESP (add the basic-auth user:password to it); None for kinds
    that report nothing back (SMTP)."""
    if provider.kind not in _WEBHOOK_KINDS:
        return None
    return f"{settings.MAILPASS_PUBLIC_URL}/webhooks/{webhook_token(provider)}"


def provider_for_token(token: str) -> Provider | None:
    parts = token.split(".")
    if len(parts) != 2 or (pk := read_base36(parts[0])) is None:
        return None
    if not matches(parts[1], "webhook", pk):
        return None
    return Provider.objects.filter(pk=pk, kind__in=_WEBHOOK_KINDS).first()


def view_for(provider: Provider) -> Callable[[HttpRequest], HttpResponseBase] | None:
    """anymail's tracking view for `provider`, keyed with its own secrets; None when the
    provider has no webhook secret at all (an unauthenticated webhook accepts nothing)."""
    webhook = _webhook_of(provider.kind)
    view_class = _view_class(provider.kind)
    credentials = provider.credentials
    kwargs = {
        kwarg: credentials[name]
        for name, kwarg in webhook.credentials.items()
        if credentials.get(name)
    }
    if not kwargs:
        return None
    ignore_sendgrid_support_warning()
    return view_class.as_view(**kwargs, **webhook.fixed_kwargs)


def _webhook_of(kind: str) -> Webhook:
    webhook = spec_for(kind).webhook
    if webhook is None:
        raise KeyError(f"{kind} has no webhook")
    return webhook


_receiving_for: contextvars.ContextVar[Provider | None] = contextvars.ContextVar(
    "mailpass_webhook_provider", default=None
)


def receive(request: HttpRequest, provider: Provider) -> HttpResponseBase:
    """Run the provider's webhook view; its events are recorded against that provider."""
    view = view_for(provider)
    if view is None:
        return HttpResponse("This provider has no webhook secret.", status=404)
    token = _receiving_for.set(provider)
    try:
        return view(request)
    finally:
        _receiving_for.reset(token)


@receiver(tracking, dispatch_uid="mailpass-provider-events")
def _record_tracking_event(
    sender: type, event: AnymailTrackingEvent, esp_name: str, **_: Any
) -> None:
    provider = _receiving_for.get()
    if provider is not None:
        provider_event_record(provider=provider, event=event)
