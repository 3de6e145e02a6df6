"""Writes and checks on providers: create, edit, delete, make default, test the connection."""

import smtplib
import socket
import ssl

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext, gettext_noop

from accounts.models import Account
from providers import checks, kinds
from providers.delivery import classify_error
from providers.hosts import HostNotAllowedError, assert_host_allowed
from providers.models import Provider
from providers.policy import RELAY_REFUSAL, kind_allowed, port_allowed, port_refusal


def _validate_host(provider: Provider) -> None:
    if provider.kind != Provider.Kind.SMTP:
        return
    if not provider.host:
        raise ValidationError({"host": ["An SMTP provider needs a host."]})
    if not port_allowed(provider.port):
        raise ValidationError({"port": [port_refusal()]})
    try:
        assert_host_allowed(provider.host, provider.port)
    except HostNotAllowedError as err:
        raise ValidationError({"host": [str(err)]}) from err
    except OSError as err:
        raise ValidationError({"host": [f"{provider.host!r} does not resolve ({err})."]}) from err


def provider_create(
    *,
    account: Account,
    name: str,
    kind: str = Provider.Kind.SMTP,
    credentials: dict[str, str] | None = None,
    is_default: bool = False,
    **fields: object,
) -> Provider:
    """Validate and save a new provider for `account`; optionally make it the default.

    `fields` are the model's plain columns (host, port, username, security, timeout,
    from_email, from_name, hourly_limit, daily_limit, max_in_flight, max_per_second, options);
    `credentials` the secrets, stored encrypted. What each kind needs in credentials and
    options is its row in providers.kinds. Raises ValidationError (field → messages) on bad
    input, including a missing credential or option of the kind and an smtp host that
    resolves to a private address.
    """
    provider = Provider(account=account, name=name, kind=kind, **fields)
    provider.credentials = {k: v for k, v in (credentials or {}).items() if v}
    _validate(provider)
    with transaction.atomic():
        provider.save()
        if is_default:
            provider_set_default(provider=provider)
    return provider


# What provider_update may change. Not the kind (its credentials would not fit), the account
# or is_default (provider_set_default keeps the one-default rule).
_UPDATABLE = frozenset(
    {
        "name",
        "host",
        "port",
        "username",
        "security",
        "timeout",
        "options",
        "fallbacks",
        "from_email",
        "from_name",
        "hourly_limit",
        "daily_limit",
        "max_in_flight",
        "max_per_second",
    }
)


def provider_update(
    *, provider: Provider, credentials: dict[str, str] | None = None, **fields: object
) -> Provider:
    """Change `provider`'s settings under the same rules as provider_create, and save it.

    `fields` are columns of _UPDATABLE (anything else is a TypeError); `credentials` maps
    secret names to new values: names left out or empty keep their stored value, so a form
    that never shows secrets can be saved as it is. Raises ValidationError (field →
    messages) and then saves nothing.
    """
    if unknown := set(fields) - _UPDATABLE:
        raise TypeError(f"provider_update cannot change {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(provider, name, value)
    new_secrets = {k: v for k, v in (credentials or {}).items() if v}
    if new_secrets:
        provider.credentials = {**provider.credentials, **new_secrets}
    _validate(provider)
    provider.save(update_fields=[*fields, "credentials_encrypted", "updated_at"])
    return provider


def provider_delete(*, provider: Provider) -> bool:
    """Delete `provider` and return whether it was its account's default.

    The account then has no default (none is promoted: which one should send is the user's
    choice), so /send answers NO_SMTP_PROVIDER until one is set. Messages keep their rows
    (their provider becomes null; queued ones go out through the default), and the
    provider's id leaves the fallbacks of the account's other providers.
    """
    with transaction.atomic():
        was_default = Provider.objects.filter(pk=provider.pk, is_default=True).exists()
        # An id left behind by a concurrent edit would do no harm: provider_chain skips
        # providers that no longer exist.
        others = Provider.objects.filter(account_id=provider.account_id).exclude(pk=provider.pk)
        for other in others.only("pk", "fallbacks"):
            if provider.pk in other.fallbacks:
                kept = [pk for pk in other.fallbacks if pk != provider.pk]
                Provider.objects.filter(pk=other.pk).update(fallbacks=kept)
        provider.delete()
    return was_default


def _validate(provider: Provider) -> None:
    """Every rule a saved provider follows: the model's fields, then its kind's."""
    provider.full_clean(exclude=["is_default"])
    provider_check_kind(provider=provider)


def provider_check_kind(*, provider: Provider) -> None:
    """The kind-specific rules of provider_create and provider_update, run after the
    model's own full_clean.

    Shared with ProviderForm (whose ModelForm runs full_clean itself), so every path
    applies one set of rules. Raises ValidationError keyed by the kind's field names
    (api_key, region, domain …), "kind" for an unusable kind, or "host" for an smtp host
    that must not be contacted (this resolves the host name).
    """
    kinds.validate(provider.kind, provider.credentials, provider.options)
    if not kind_allowed(provider.kind, provider.account):
        raise ValidationError({"kind": [gettext(RELAY_REFUSAL)]})
    if provider.timeout > settings.MAILPASS_REQUEST_TIMEOUT_SECONDS:
        raise ValidationError(
            {
                "timeout": [
                    gettext("At most %(seconds)s seconds on this MailPass.")
                    % {"seconds": settings.MAILPASS_REQUEST_TIMEOUT_SECONDS}
                ]
            }
        )
    _validate_fallbacks(provider)
    _validate_host(provider)


def _validate_fallbacks(provider: Provider) -> None:
    fallbacks = provider.fallbacks
    # type(), not isinstance(): bool is an int subclass and True would pass as provider 1.
    if not isinstance(fallbacks, list) or any(type(pk) is not int for pk in fallbacks):
        raise ValidationError({"fallbacks": ["A list of provider ids."]})
    if provider.pk is not None and provider.pk in fallbacks:
        raise ValidationError({"fallbacks": ["A provider cannot be its own fallback."]})
    if len(set(fallbacks)) != len(fallbacks):
        raise ValidationError({"fallbacks": ["Each fallback once."]})
    found = set(
        Provider.objects.filter(pk__in=fallbacks, account_id=provider.account_id).values_list(
            "pk", flat=True
        )
    )
    if missing := [pk for pk in fallbacks if pk not in found]:
        raise ValidationError(
            {"fallbacks": [f"No provider {missing[0]} in this account to fall back on."]}
        )


def provider_set_fallbacks(*, provider: Provider, fallbacks: list[Provider]) -> Provider:
    """Name the providers (of the same account) tried in order when `provider` certainly
    did not take a message. Raises ValidationError for another account's provider, the
    provider itself or a repeat."""
    provider.fallbacks = [fallback.pk for fallback in fallbacks]
    _validate_fallbacks(provider)
    Provider.objects.filter(pk=provider.pk).update(fallbacks=provider.fallbacks)
    return provider


def provider_set_default(*, provider: Provider) -> Provider:
    """Make `provider` its account's only default, atomically.

    The partial unique index one_default_provider_per_account guarantees a single default
    even when two requests race; the loser gets an IntegrityError.
    """
    with transaction.atomic():
        Provider.objects.filter(account_id=provider.account_id, is_default=True).exclude(
            pk=provider.pk
        ).update(is_default=False)
        Provider.objects.filter(pk=provider.pk).update(is_default=True)
    provider.is_default = True
    return provider


def provider_test_connection(provider: Provider) -> tuple[bool, str]:
    """Check that `provider` can be reached and accepts its credentials; sends nothing.

    smtp/mailpass: connect, EHLO (STARTTLS and login when configured), QUIT. ESPs: one
    authenticated read call against their API. Never raises: returns (True, what worked)
    or (False, what failed). An ESP's failure is in its own words. An SMTP failure is one of
    a few plain sentences, never the server's banner or reply: tenants choose the host, so
    the answer must not tell open, closed and filtered ports apart or echo what answered.
    The instance's relay never shows its host, port or login.
    """
    relay = provider.kind == Provider.Kind.MAILPASS
    try:
        result = checks.run(provider)
    except checks.CheckFailedError as err:
        if provider.kind in SMTP_KINDS:
            return False, gettext(_RELAY_FAILED if relay else _NOT_SMTP)
        return False, str(err)
    except Exception as exc:  # noqa: BLE001 - boundary: a failed check is an answer, not an error
        if relay:
            return False, gettext(_RELAY_FAILED)
        if provider.kind in SMTP_KINDS:
            return False, _smtp_check_failure(exc)
        text, label = classify_error(exc).error_text, f"{provider.get_kind_display()}: "
        return False, text if text.startswith(label) else label + text
    return True, gettext("Connected to the MailPass relay.") if relay else result


SMTP_KINDS = (Provider.Kind.SMTP, Provider.Kind.MAILPASS)
_RELAY_FAILED = gettext_noop(
    "The MailPass relay could not be reached. Tell the operator of this instance."
)
_NOT_SMTP = gettext_noop("The server did not answer like an SMTP server.")


def _smtp_check_failure(exc: BaseException) -> str:
    """What a failed SMTP connection test tells the tenant: the kind of failure only."""
    if isinstance(exc, HostNotAllowedError):
        return str(exc)  # our own words about the host the tenant typed
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return gettext("The server refused the login.")
    if isinstance(exc, smtplib.SMTPNotSupportedError) and "STARTTLS" in str(exc):
        return gettext("The server does not offer STARTTLS, so nothing was sent.")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return gettext("The server offers no login method MailPass can use.")
    if isinstance(exc, ssl.SSLCertVerificationError):
        # OpenSSL's reason (self-signed, expired, for another name), not the server's words.
        reason = getattr(exc, "verify_message", None) or gettext("unknown reason")
        return gettext("TLS failed: the server's certificate was not accepted (%(reason)s).") % {
            "reason": reason
        }
    if isinstance(exc, ssl.SSLError):
        return gettext("TLS failed.")
    if isinstance(exc, smtplib.SMTPResponseException) and 200 <= exc.smtp_code < 600:
        # An SMTP server that said no: its code tells the tenant enough, its text is not shown.
        return gettext("The SMTP server refused with code %(code)s.") % {"code": exc.smtp_code}
    if isinstance(exc, smtplib.SMTPException | checks.CheckFailedError):
        # Before OSError: smtplib's errors are OSErrors too. A greeting that is not SMTP, a
        # server that hangs up or answers at length: not an SMTP server, as far as we can tell.
        return gettext(_NOT_SMTP)
    if isinstance(exc, socket.gaierror):
        return gettext("The host name does not resolve.")
    if isinstance(exc, OSError):
        return gettext("Could not connect to the server.")
    return gettext("The connection test failed.")
