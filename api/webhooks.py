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
from typing import Any

from anymail.signals import AnymailTrackingEvent, tracking
from django.conf import settings
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from api.services import provider_event_record
from api.signing import base36, matches, read_base36, signature
from providers.connections import ignore_sendgrid_support_warning
from providers.models import Provider

# Per kind: anymail's tracking view (imported on first use: Resend's pulls in svix, a
# large import a queue worker never needs), which of the provider's credentials become which
# of the view's keyword arguments, and fixed ones. Every kind takes HTTP basic auth
# ("user:password" in the URL given to the ESP) as `webhook_secret`; some also check the
# ESP's own signature.
WEBHOOK_VIEWS: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    Provider.Kind.SENDGRID: (
        "anymail.webhooks.sendgrid.SendGridTrackingWebhookView",
        {
            "webhook_secret": "webhook_secret",
            "webhook_verification_key": "tracking_webhook_verification_key",
        },
        {},
    ),
    Provider.Kind.MAILGUN: (
        "anymail.webhooks.mailgun.MailgunTrackingWebhookView",
        {"webhook_secret": "webhook_secret", "webhook_signing_key": "webhook_signing_key"},
        {},
    ),
    Provider.Kind.POSTMARK: (
        "anymail.webhooks.postmark.PostmarkTrackingWebhookView",
        {"webhook_secret": "webhook_secret"},
        {},
    ),
    Provider.Kind.RESEND: (
        "anymail.webhooks.resend.ResendTrackingWebhookView",
        {"webhook_secret": "webhook_secret", "webhook_signing_secret": "signing_secret"},
        {},
    ),
    Provider.Kind.BREVO: (
        "anymail.webhooks.brevo.BrevoTrackingWebhookView",
        {"webhook_secret": "webhook_secret"},
        {},
    ),
    # Never confirm SNS subscriptions by fetching the URL SNS sends: an operator confirms
    # them in the AWS console, and MailPass makes no outgoing request on a webhook's word.
    Provider.Kind.AMAZON_SES: (
        "anymail.webhooks.amazon_ses.AmazonSESTrackingWebhookView",
        {"webhook_secret": "webhook_secret"},
        {"auto_confirm_sns_subscriptions": False},
    ),
}


@functools.cache
def _view_class(kind: str) -> type:
    """anymail's view for `kind`, subclassed so that as_view() takes its settings as keyword
    arguments: Django's View only accepts names that are class attributes, and anymail's
    views read some settings (webhook_secret…) without declaring them."""
    path, _, fixed = WEBHOOK_VIEWS[kind]
    view_class = import_string(path)
    settings_names = ["webhook_secret", *fixed]
    return type(view_class.__name__, (view_class,), dict.fromkeys(settings_names))


def webhook_token(provider: Provider) -> str:
    return f"{base36(provider.pk)}.{signature('webhook', provider.pk)}"


def webhook_url(provider: Provider) -> str | None:
    """The URL to give the ESP (add the basic-auth user:password to it); None for kinds
    that report nothing back (SMTP)."""
    if provider.kind not in WEBHOOK_VIEWS:
        return None
    return f"{settings.MAILPASS_PUBLIC_URL}/webhooks/{webhook_token(provider)}"


def provider_for_token(token: str) -> Provider | None:
    parts = token.split(".")
    if len(parts) != 2 or (pk := read_base36(parts[0])) is None:
        return None
    if not matches(parts[1], "webhook", pk):
        return None
    return Provider.objects.filter(pk=pk, kind__in=list(WEBHOOK_VIEWS)).first()


def view_for(provider: Provider) -> Callable[[HttpRequest], HttpResponse] | None:
    """anymail's tracking view for `provider`, keyed with its own secrets; None when the
    provider has no webhook secret at all (an unauthenticated webhook accepts nothing)."""
    _, secret_kwargs, fixed_kwargs = WEBHOOK_VIEWS[provider.kind]
    view_class = _view_class(provider.kind)
    credentials = provider.credentials
    kwargs = {
        kwarg: credentials[name] for name, kwarg in secret_kwargs.items() if credentials.get(name)
    }
    if not kwargs:
        return None
    ignore_sendgrid_support_warning()
    return view_class.as_view(**kwargs, **fixed_kwargs)


_receiving_for: contextvars.ContextVar[Provider | None] = contextvars.ContextVar(
    "mailpass_webhook_provider", default=None
)


def receive(request: HttpRequest, provider: Provider) -> HttpResponse:
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
