"""Turning a Provider into a Django email connection.

The only module that knows backend dotted paths and their option names. Each kind is one
row of BACKENDS: the backend and a function from the provider to that backend's kwargs.
Every credential is passed explicitly, so a backend never falls back to global settings.
"""

from collections.abc import Callable
from typing import Any

from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend

from providers.models import Provider
from providers.network import assert_host_allowed


def _smtp_options(provider: Provider) -> dict[str, Any]:
    # Checked again at connect time: DNS may have changed since the provider was saved.
    assert_host_allowed(provider.host, provider.port)
    return {
        "host": provider.host,
        "port": provider.port,
        "username": provider.username,
        "password": provider.credentials.get("password", ""),
        "use_tls": provider.security == Provider.Security.STARTTLS,
        "use_ssl": provider.security == Provider.Security.SSL,
        "timeout": provider.timeout,
    }


BACKENDS: dict[str, tuple[str, Callable[[Provider], dict[str, Any]]]] = {
    Provider.Kind.SMTP: ("providers.backends.SMTPBackend", _smtp_options),
}


def open_for(provider: Provider) -> BaseEmailBackend:
    """Build the (not yet connected) email backend for `provider`.

    Raises HostNotAllowedError for a host that resolves to a private address,
    CredentialsUnreadableError when the stored secrets cannot be decrypted, and KeyError
    for a kind without a backend row. delivery.deliver opens and closes the connection.
    """
    path, options_for = BACKENDS[provider.kind]
    return get_connection(path, fail_silently=False, **options_for(provider))
