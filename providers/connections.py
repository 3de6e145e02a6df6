"""Turning a Provider into a Django email connection.

The only module that knows backend dotted paths and their option names. Each kind is one
row of BACKENDS: the backend and a function from the provider to that backend's kwargs.
Every credential is passed explicitly, so a backend never falls back to global settings:
django-anymail backends are built per provider with that provider's own keys.
"""

import functools
import warnings
from collections.abc import Callable
from typing import Any

from anymail.backends.amazon_ses import EmailBackend as AmazonSESBackend
from anymail.backends.base_requests import AnymailRequestsBackend
from anymail.exceptions import AnymailNotSupportedWarning
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.module_loading import import_string

from providers.backends import AwsWithinDeadline, RequestsWithinDeadline
from providers.deadline import timeout_for
from providers.hosts import HostNotAllowedError, assert_host_allowed
from providers.models import Provider
from providers.policy import RELAY_REFUSAL, port_allowed, port_refusal, relay_allowed

# Each ESP's public API base, as its anymail backend expects it (SES: None = boto3's own
# endpoint for the region). MAILPASS_ESP_API_URLS replaces them, never a provider row.
PUBLIC_API_URLS: dict[str, str | None] = {
    Provider.Kind.AMAZON_SES: None,
    Provider.Kind.SENDGRID: "https://api.sendgrid.com/v3/",
    Provider.Kind.MAILGUN: "https://api.mailgun.net/v3/",
    Provider.Kind.POSTMARK: "https://api.postmarkapp.com/",
    Provider.Kind.RESEND: "https://api.resend.com/",
    Provider.Kind.BREVO: "https://api.brevo.com/v3/",
}
MAILGUN_EU_API_URL = "https://api.eu.mailgun.net/v3/"


def api_url_for(provider: Provider) -> str | None:
    """The API base URL requests for `provider` go to: the operator's override for its kind,
    else the ESP's public URL (Mailgun: the one of the provider's region)."""
    override = settings.MAILPASS_ESP_API_URLS.get(provider.kind)
    if override:
        return override if override.endswith("/") else override + "/"
    if provider.kind == Provider.Kind.MAILGUN and provider.options.get("region") == "eu":
        return MAILGUN_EU_API_URL
    return PUBLIC_API_URLS[provider.kind]


def _smtp_options(provider: Provider) -> dict[str, Any]:
    # A provider saved before the operator narrowed the ports (or before ports were
    # checked at all) must not reach another service either.
    if not port_allowed(provider.port):
        raise HostNotAllowedError(port_refusal())
    # DNS may have changed since the provider was saved: refuse early, before any message
    # is tried. The check that counts comes when it connects (PinnedSMTPBackend), on the
    # very addresses it then connects to.
    assert_host_allowed(provider.host, provider.port)
    return {
        "host": provider.host,
        "port": provider.port,
        "username": provider.username,
        "password": provider.credentials.get("password", ""),
        "use_tls": provider.security == Provider.Security.STARTTLS,
        "use_ssl": provider.security == Provider.Security.SSL,
        "timeout": timeout_for(provider),
    }


def _mailpass_options(provider: Provider) -> dict[str, Any]:
    # The operator's relay: trusted, so no private-address check (it may well sit on the
    # same private network). Nothing comes from the provider row. The permission is checked
    # here too, so a relay provider added before the operator had a say sends nothing.
    if not settings.EMAIL_HOST:
        raise ImproperlyConfigured("this MailPass instance has no relay (EMAIL_HOST is unset)")
    if not relay_allowed(provider.account):
        raise ImproperlyConfigured(RELAY_REFUSAL)
    return {
        "host": settings.EMAIL_HOST,
        "port": settings.EMAIL_PORT,
        "username": settings.EMAIL_HOST_USER,
        "password": settings.EMAIL_HOST_PASSWORD,
        "use_tls": settings.EMAIL_USE_TLS,
        "use_ssl": settings.EMAIL_USE_SSL,
        "timeout": timeout_for(provider),
        # Bounces go to the operator, never to whatever From the tenant wrote.
        "envelope_sender": settings.MAILPASS_RELAY_RETURN_PATH,
    }


def _ses_options(provider: Provider) -> dict[str, Any]:
    secrets = provider.credentials
    client_params: dict[str, Any] = {
        # One attempt: the queue retries with its own backoff, and boto3's retries would
        # hold a worker's connection for several timeouts on one message.
        "config": {
            "connect_timeout": timeout_for(provider),
            "read_timeout": timeout_for(provider),
            "retries": {"mode": "standard", "total_max_attempts": 1},
        },
    }
    endpoint_url = api_url_for(provider)
    if endpoint_url:
        client_params["endpoint_url"] = endpoint_url
    return {
        "session_params": {
            "aws_access_key_id": secrets.get("access_key_id", ""),
            "aws_secret_access_key": secrets.get("secret_access_key", ""),
            "region_name": provider.options.get("region", ""),
        },
        "client_params": client_params,
        "configuration_set_name": provider.options.get("configuration_set") or None,
        "message_tag_name": None,
    }


def _api_key_options(provider: Provider) -> dict[str, Any]:
    return {
        "api_key": provider.credentials.get("api_key", ""),
        "api_url": api_url_for(provider),
        "timeout": timeout_for(provider),
    }


def ignore_sendgrid_support_warning() -> None:
    """Silence anymail's "no longer officially supports SendGrid" warning, and only that.

    anymail gives it on every SendGrid backend and webhook view it builds. We keep SendGrid
    and test it ourselves, so that one warning is noise. Called where those are built rather
    than once at start-up, because warnings.catch_warnings() blocks (test runners) reset
    the filter list; re-adding an identical filter replaces it.
    """
    warnings.filterwarnings(
        "ignore",
        message="django-anymail has dropped official support for SendGrid",
        category=AnymailNotSupportedWarning,
        module=r"anymail\.(backends|webhooks)\.sendgrid",
    )


def _sendgrid_options(provider: Provider) -> dict[str, Any]:
    ignore_sendgrid_support_warning()
    return _api_key_options(provider)


def _mailgun_options(provider: Provider) -> dict[str, Any]:
    return {**_api_key_options(provider), "sender_domain": provider.options.get("domain")}


def _postmark_options(provider: Provider) -> dict[str, Any]:
    return {
        "server_token": provider.credentials.get("server_token", ""),
        "api_url": api_url_for(provider),
        "timeout": timeout_for(provider),
    }


BACKENDS: dict[str, tuple[str, Callable[[Provider], dict[str, Any]]]] = {
    Provider.Kind.SMTP: ("providers.hosts.PinnedSMTPBackend", _smtp_options),
    Provider.Kind.MAILPASS: ("providers.backends.SMTPBackend", _mailpass_options),
    Provider.Kind.AMAZON_SES: ("anymail.backends.amazon_ses.EmailBackend", _ses_options),
    Provider.Kind.SENDGRID: ("anymail.backends.sendgrid.EmailBackend", _sendgrid_options),
    Provider.Kind.MAILGUN: ("anymail.backends.mailgun.EmailBackend", _mailgun_options),
    Provider.Kind.POSTMARK: ("anymail.backends.postmark.EmailBackend", _postmark_options),
    Provider.Kind.RESEND: ("anymail.backends.resend.EmailBackend", _api_key_options),
    Provider.Kind.BREVO: ("anymail.backends.brevo.EmailBackend", _api_key_options),
}


def open_for(provider: Provider) -> BaseEmailBackend:
    """Build the (not yet connected) email backend for `provider`.

    Raises HostNotAllowedError for an smtp host that resolves to a private address (and
    its open() does when the host resolves to one by then: providers.hosts),
    CredentialsUnreadableError when the stored secrets cannot be decrypted,
    ImproperlyConfigured (anymail's configuration errors among them) for a provider that
    cannot work as configured, and KeyError for a kind without a backend row.
    delivery.Channel opens and closes the connection; its I/O keeps to the deadline of
    providers.deadline (its per-operation timeout is deadline.timeout_for(provider)).
    """
    path, options_for = BACKENDS[provider.kind]
    # What django.core.mail.get_connection() does, with the class that keeps the deadline.
    return _within_deadline(path)(fail_silently=False, **options_for(provider))


# django-anymail's backends, and what their HTTP calls need to keep to the deadline (our
# SMTP backends keep it themselves): see providers.backends.
_DEADLINE_MIXINS: tuple[tuple[type, type], ...] = (
    (AnymailRequestsBackend, RequestsWithinDeadline),
    (AmazonSESBackend, AwsWithinDeadline),
)


@functools.cache
def _within_deadline(path: str) -> type[BaseEmailBackend]:
    backend = import_string(path)
    for base, mixin in _DEADLINE_MIXINS:
        if issubclass(backend, base):
            return type(backend.__name__, (mixin, backend), {"__module__": __name__})
    return backend
