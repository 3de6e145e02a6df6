from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Account
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
    stored encrypted. Raises ValidationError (field → messages) on bad input, including a
    host that resolves to a private address.
    """
    provider = Provider(account=account, name=name, kind=kind, **fields)
    provider.credentials = {k: v for k, v in (credentials or {}).items() if v}
    provider.full_clean(exclude=["is_default"])
    _validate_host(provider)
    with transaction.atomic():
        provider.save()
        if is_default:
            provider_set_default(provider=provider)
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
