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
