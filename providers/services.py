"""Writes and checks on providers: create, make default, test the connection."""

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Account
from providers import checks, kinds
from providers.delivery import classify_error
from providers.models import Provider
from providers.network import HostNotAllowedError, assert_host_allowed


def _validate_host(provider: Provider) -> None:
    if provider.kind != Provider.Kind.SMTP:
        return
    if not provider.host:
        raise ValidationError({"host": ["An SMTP provider needs a host."]})
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
    from_email, from_name, hourly_limit, daily_limit, options); `credentials` the secrets,
    stored encrypted. What each kind needs in credentials and options is providers.kinds'
    table. Raises ValidationError (field → messages) on bad input, including a missing
    credential or option of the kind and an smtp host that resolves to a private address.
    """
    provider = Provider(account=account, name=name, kind=kind, **fields)
    provider.credentials = {k: v for k, v in (credentials or {}).items() if v}
    provider.full_clean(exclude=["is_default"])
    provider_check_kind(provider=provider)
    with transaction.atomic():
        provider.save()
        if is_default:
            provider_set_default(provider=provider)
    return provider


def provider_check_kind(*, provider: Provider) -> None:
    """The kind-specific rules of provider_create, run after the model's own full_clean.

    Shared with ProviderForm (whose ModelForm runs full_clean itself), so both paths
    apply one set of rules. Raises ValidationError keyed by the kind's field names
    (api_key, region, domain …), "kind" for an unusable kind, or "host" for an smtp host
    that must not be contacted (this resolves the host name).
    """
    kinds.validate(provider.kind, provider.credentials, provider.options)
    _validate_fallbacks(provider)
    _validate_host(provider)


def _validate_fallbacks(provider: Provider) -> None:
    fallbacks = provider.fallbacks
    if not isinstance(fallbacks, list) or not all(isinstance(pk, int) for pk in fallbacks):
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
    or (False, a message saying what failed, in the provider's words where it gave any).
    """
    try:
        return True, checks.run(provider)
    except checks.CheckFailedError as err:
        return False, str(err)
    except Exception as exc:  # noqa: BLE001 - boundary: a failed check is an answer, not an error
        return False, f"{provider.get_kind_display()}: {classify_error(exc).error_text}"
