from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from accounts.models import Account, Membership


def account_create(*, owner: AbstractBaseUser, name: str = "") -> Account:
    """Create an account owned by `owner`, with the owner's membership, in one transaction."""
    with transaction.atomic():
        account = Account.objects.create(owner=owner, name=name or owner.get_username())
        Membership.objects.create(account=account, user=owner, role=Membership.Role.OWNER)
    return account


def account_member_add(*, account: Account, user: AbstractBaseUser) -> Membership:
    """Give `user` a member seat in `account` (idempotent)."""
    membership, _ = Membership.objects.get_or_create(
        account=account, user=user, defaults={"role": Membership.Role.MEMBER}
    )
    return membership


def account_for_user(*, user: AbstractBaseUser) -> Account:
    """The account `user` works in: their first membership, or a new account they own.

    Every user has exactly one working account today; the membership table leaves room for
    switching between several later.
    """
    membership = (
        Membership.objects.select_related("account").filter(user=user).order_by("id").first()
    )
    if membership is not None:
        return membership.account
    return account_create(owner=user)


def account_update(
    *, account: Account, name: str, track_opens: bool, track_clicks: bool
) -> Account:
    """Rename the account and set the tracking defaults of messages that do not choose."""
    account.name = name
    account.track_opens = track_opens
    account.track_clicks = track_clicks
    account.full_clean()
    account.save(update_fields=["name", "track_opens", "track_clicks"])
    return account
