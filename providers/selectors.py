from django.db.models import QuerySet

from accounts.models import Account
from providers.models import Provider


def provider_get_default(*, account: Account) -> Provider | None:
    """The account's default provider, or None when it has none."""
    # get(), not first(): the unique default needs no ORDER BY (this runs on every /send).
    try:
        return Provider.objects.get(account=account, is_default=True)
    except Provider.DoesNotExist:
        return None


def provider_list_for_account(*, account: Account) -> QuerySet[Provider]:
    """All of the account's providers, the default first."""
    return Provider.objects.filter(account=account)


def provider_chain(*, provider: Provider) -> list[Provider]:
    """`provider` followed by its fallbacks in their order: those that still exist, belong
    to the same account and are not the provider itself."""
    wanted = [pk for pk in provider.fallbacks if isinstance(pk, int) and pk != provider.pk]
    # With their accounts, which connecting to the instance's relay reads.
    found = Provider.objects.select_related("account").in_bulk(wanted)
    return [provider] + [
        found[pk]
        for pk in dict.fromkeys(wanted)
        if pk in found and found[pk].account_id == provider.account_id
    ]
