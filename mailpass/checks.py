"""Deployment checks of our own, run by `manage.py check --deploy` beside Django's.

Each names what is wrong and what to set. Errors are settings that leave an instance open
to attack or one leak away from losing every secret; warnings are settings that quietly
stop a feature from working.
"""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def separate_keys(**kwargs: Any) -> list[Error]:
    """SECRET_KEY must not be the root of every secret: provider credentials and API key
    digests get keys of their own, so rotating SECRET_KEY breaks neither and a leak of it
    (or of a database dump) does not decrypt the credentials."""
    errors = []
    if not settings.MAILPASS_ENCRYPTION_KEYS:
        errors.append(
            Error(
                "MAILPASS_ENCRYPTION_KEYS is not set: provider credentials are encrypted with "
                "a key derived from SECRET_KEY.",
                hint="Set it to a Fernet key: python -c 'from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())'. Existing credentials: "
                "README, Operating it, rotating keys.",
                id="mailpass.E001",
            )
        )
    if not settings.MAILPASS_API_KEY_HMAC_KEY:
        errors.append(
            Error(
                "MAILPASS_API_KEY_HMAC_KEY is not set: API key digests are keyed with SECRET_KEY.",
                hint="Set it to 32 or more random characters. Existing keys keep working "
                "while the old key is in MAILPASS_API_KEY_HMAC_KEY_FALLBACKS (README).",
                id="mailpass.E002",
            )
        )
    return errors


@register(Tags.security, deploy=True)
def proxy_headers(**kwargs: Any) -> list[Warning]:
    """Behind a proxy every client has the proxy's address unless the header that carries
    the client's own is named, and it is believed only from the proxies named."""
    warnings = []
    behind_proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None) is not None
    if behind_proxy and not settings.MAILPASS_TRUSTED_PROXY_HEADER:
        warnings.append(
            Warning(
                "SECURE_PROXY_SSL_HEADER is set (a proxy is in front) but "
                "MAILPASS_TRUSTED_PROXY_HEADER is not: every client has the proxy's address, "
                "so a few failed log-ins from anyone slow down log-ins for everyone.",
                hint="Set MAILPASS_TRUSTED_PROXY_HEADER (e.g. X-Forwarded-For) and "
                "MAILPASS_TRUSTED_PROXIES (the proxy's addresses).",
                id="mailpass.W003",
            )
        )
    if settings.MAILPASS_TRUSTED_PROXY_HEADER and not settings.MAILPASS_TRUSTED_PROXIES:
        warnings.append(
            Warning(
                "MAILPASS_TRUSTED_PROXY_HEADER is set but MAILPASS_TRUSTED_PROXIES is empty: "
                "the header is never believed.",
                hint="List the proxies' addresses or networks in MAILPASS_TRUSTED_PROXIES.",
                id="mailpass.W004",
            )
        )
    return warnings


@register(deploy=True)
def signup_needs_relay(**kwargs: Any) -> list[Warning]:
    if settings.MAILPASS_SIGNUP_OPEN and not settings.EMAIL_HOST:
        return [
            Warning(
                "MAILPASS_SIGNUP_OPEN is on but there is no relay (EMAIL_HOST): sign-up "
                "needs it to send confirmation links, so it stays closed.",
                hint="Set EMAIL_HOST (and DEFAULT_FROM_EMAIL), or turn sign-up off.",
                id="mailpass.W005",
            )
        ]
    return []
