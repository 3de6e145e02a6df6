"""Turning a Provider into a Django email connection.

Each kind's row in providers.kinds names its backend and one of the functions below, which
turns a provider into that backend's keyword arguments. Every credential is passed
explicitly, so a backend never falls back to global settings: django-anymail backends are
built per provider with that provider's own keys.
"""

import functools
import warnings
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
from providers.kinds import spec_for
from providers.models import Provider
from providers.policy import RELAY_REFUSAL, port_allowed, port_refusal, relay_allowed


def api_url_for(provider: Provider) -> str | None:
    """The API base URL requests for `provider` go to: the operator's override for its kind,
    else the ESP's public URL (of the provider's region, where the region names the host)."""
    override = settings.MAILPASS_ESP_API_URLS.get(provider.kind)
    if override:
        return override if override.endswith("/") else override + "/"
    spec = spec_for(provider.kind)
    for region, url in spec.api_url_by_region.items():
        if provider.options.get("region") == region:
            return url
    return spec.api_url


def smtp_options(provider: Provider) -> dict[str, Any]:
    """A tenant's SMTP server. Raises HostNotAllowedError for a port or host it may not use."""
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


def mailpass_options(provider: Provider) -> dict[str, Any]:
    """The instance's own relay (EMAIL_* settings). Raises ImproperlyConfigured when there is
    none, or the account may not use it."""
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


def ses_options(provider: Provider) -> dict[str, Any]:
    """anymail's Amazon SES backend: the access key pair, region and configuration set."""
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


def api_key_options(provider: Provider) -> dict[str, Any]:
    """An anymail backend that takes an API key (Resend, Brevo; the base of others)."""
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


def sendgrid_options(provider: Provider) -> dict[str, Any]:
    """api_key_options, without anymail's SendGrid support warning."""
    ignore_sendgrid_support_warning()
    return api_key_options(provider)


def mailgun_options(provider: Provider) -> dict[str, Any]:
    """api_key_options plus the sending domain."""
    return {**api_key_options(provider), "sender_domain": provider.options.get("domain")}


def postmark_options(provider: Provider) -> dict[str, Any]:
    """anymail's Postmark backend: the server token."""
    return {
        "server_token": provider.credentials.get("server_token", ""),
        "api_url": api_url_for(provider),
        "timeout": timeout_for(provider),
    }


def open_for(provider: Provider) -> BaseEmailBackend:
    """Build the (not yet connected) email backend for `provider`.

    Raises HostNotAllowedError for an smtp host that resolves to a private address (and
    its open() does when the host resolves to one by then: providers.hosts),
    CredentialsUnreadableError when the stored secrets cannot be decrypted,
    ImproperlyConfigured (anymail's configuration errors among them) for a provider that
    cannot work as configured, and KeyError for a kind without a row.
    delivery.Channel opens and closes the connection; its I/O keeps to the deadline of
    providers.deadline (its per-operation timeout is deadline.timeout_for(provider)).
    """
    spec = spec_for(provider.kind)
    options_for = import_string(spec.options)
    # What django.core.mail.get_connection() does, with the class that keeps the deadline.
    return _within_deadline(spec.backend)(fail_silently=False, **options_for(provider))


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
