import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, Invitation, Membership, PendingSignup


def account_create(*, owner: User, name: str = "") -> Account:
    """Create an account owned by `owner`, with the owner's membership, in one transaction."""
    with transaction.atomic():
        account = Account.objects.create(
            owner=owner, name=name or owner.get_username(), verified_domains_only=True
        )
        Membership.objects.create(account=account, user=owner, role=Membership.Role.OWNER)
    return account


def account_member_add(*, account: Account, user: User) -> Membership:
    """Give `user` a member seat in `account` (idempotent)."""
    membership, _ = Membership.objects.get_or_create(
        account=account, user=user, defaults={"role": Membership.Role.MEMBER}
    )
    return membership


def account_for_user(*, user: User) -> Account:
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
    *,
    account: Account,
    name: str,
    track_opens: bool,
    track_clicks: bool,
    unsubscribe: bool,
) -> Account:
    """Rename the account and set the tracking and one-click unsubscribe defaults of
    messages that do not choose."""
    account.name = name
    account.track_opens = track_opens
    account.track_clicks = track_clicks
    account.unsubscribe = unsubscribe
    account.full_clean()
    account.save(update_fields=["name", "track_opens", "track_clicks", "unsubscribe"])
    return account


# --- Sign-up by email, invitations ------------------------------------------------------------

# How long a sign-up link and an invitation work.
SIGNUP_LINK_LIFETIME = dt.timedelta(days=2)
INVITATION_LIFETIME = dt.timedelta(days=7)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def email_in_use(email: str) -> bool:
    """Whether a user has `email` (case-insensitive): an address belongs to one user."""
    return get_user_model().objects.filter(email__iexact=normalize_email(email)).exists()


@dataclass(frozen=True)
class SignupStarted:
    email: str
    token: str | None  # the confirmation link's token; None: the address already has a user


def signup_start(*, email: str, account_name: str, password: str) -> SignupStarted:
    """Begin a sign-up for `email`; nothing can log in until its owner follows the link.

    An address that already has a user gets no token (the caller mails that user a note
    instead, and answers both cases alike). Another sign-up with the same address replaces
    the pending one, whose link stops working. `password` is hashed at once.
    """
    email = normalize_email(email)
    # Hashed before anything else: a taken address must not answer faster than a new one.
    hashed_password = make_password(password)
    if email_in_use(email):
        return SignupStarted(email, None)
    token = secrets.token_urlsafe(32)
    PendingSignup.objects.update_or_create(
        email=email,
        defaults={
            "account_name": account_name,
            "password": hashed_password,
            "token_digest": _digest(token),
            "created_at": timezone.now(),
        },
    )
    return SignupStarted(email, token)


def signup_complete(*, token: str) -> User | None:
    """Create the user and account of the pending sign-up `token` names, and return the
    user; None for an unknown, used or expired link, or an address taken meanwhile.

    The user's username is their email address (their log-in name from now on).
    """
    pending = PendingSignup.objects.filter(token_digest=_digest(token)).first()
    if pending is None:
        return None
    if timezone.now() - pending.created_at > SIGNUP_LINK_LIFETIME:
        pending.delete()
        return None
    with transaction.atomic():
        PendingSignup.objects.filter(pk=pending.pk).delete()
        user = _user_create(email=pending.email, hashed_password=pending.password)
        if user is not None:
            account_create(owner=user, name=pending.account_name or pending.email)
    return user


def _user_create(*, email: str, hashed_password: str) -> User | None:
    """A new user whose username and email are `email`; None if either is taken."""
    if email_in_use(email):
        return None
    user_model = get_user_model()
    user = user_model(username=email, email=email, password=hashed_password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # that username exists (or was just taken)
        return None
    return user


def invitation_create(*, account: Account, email: str, invited_by: User) -> tuple[Invitation, str]:
    """Invite `email` into `account` as a member; returns the invitation and its link's
    token (stored only as a digest). Only the account's owner may invite: ValueError else.
    """
    if not Membership.objects.filter(
        account=account, user=invited_by, role=Membership.Role.OWNER
    ).exists():
        raise ValueError("invitation_create: only the account's owner may invite")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        account=account,
        email=normalize_email(email),
        invited_by=invited_by,
        token_digest=_digest(token),
    )
    return invitation, token


def invitation_get(*, token: str) -> Invitation | None:
    """The open invitation `token` names: not accepted, not expired; else None."""
    invitation = (
        Invitation.objects.select_related("account")
        .filter(token_digest=_digest(token), accepted_at__isnull=True)
        .first()
    )
    if invitation is None or timezone.now() - invitation.created_at > INVITATION_LIFETIME:
        return None
    return invitation


def invitation_accept(*, invitation: Invitation, password: str) -> User | None:
    """Create the invited user (username and email: the invitation's address, which the
    link proved they read) as a member of the account; None if the address already has a
    user (a user belongs to one account) or the invitation was used meanwhile."""
    with transaction.atomic():
        used = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
            accepted_at=timezone.now()
        )
        if not used:
            return None
        user = _user_create(email=invitation.email, hashed_password=make_password(password))
        if user is None:
            transaction.set_rollback(True)
            return None
        Membership.objects.create(
            account=invitation.account, user=user, role=Membership.Role.MEMBER
        )
    return user


def invitation_revoke(*, invitation: Invitation) -> None:
    """Withdraw an invitation that was not accepted yet: its link stops working."""
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).delete()


def member_remove(*, account: Account, user: User) -> bool:
    """Take `user`'s seat in `account` and log them out of it for good (the user is
    deactivated: a user belongs to one account). The owner cannot be removed: False."""
    with transaction.atomic():
        removed, _ = Membership.objects.filter(
            account=account, user=user, role=Membership.Role.MEMBER
        ).delete()
        if removed:
            get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    return bool(removed)


def account_find(*, reference: str) -> Account | None:
    """The account `reference` names: its id, or its owner's username."""
    by_id = Q(pk=int(reference)) if reference.isdecimal() else Q(pk__in=[])
    return Account.objects.filter(by_id | Q(owner__username=reference)).first()


def account_set_access(
    *,
    account: Account,
    relay_enabled: bool,
    tracking_enabled: bool,
    daily_recipient_limit: int | None,
    daily_byte_limit: int | None,
) -> Account:
    """The operator's settings for `account`: whether it may use the relay and track opens
    and clicks, and its own daily quotas (None: the instance's; 0: none)."""
    account.relay_enabled = relay_enabled
    account.tracking_enabled = tracking_enabled
    account.daily_recipient_limit = daily_recipient_limit
    account.daily_byte_limit = daily_byte_limit
    account.full_clean()
    account.save(
        update_fields=[
            "relay_enabled", "tracking_enabled", "daily_recipient_limit", "daily_byte_limit"
        ]
    )  # fmt: skip
    return account
