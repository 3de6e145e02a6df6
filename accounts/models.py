from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Account(models.Model):
    """The tenant. Every key, provider, message and event belongs to exactly one account."""

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_accounts"
    )
    members: "models.ManyToManyField[User, Membership]" = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="accounts"
    )
    # Defaults for messages that do not say: a pixel before </body>, links via redirects.
    track_opens = models.BooleanField(default=False)
    track_clicks = models.BooleanField(default=False)
    # Default for messages that do not say: one-click unsubscribe headers (RFC 8058).
    unsubscribe = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    # What the operator lets this account do (the admin, or `manage.py account_access`):
    # send through the instance's own relay (the "mailpass" provider kind), and track opens
    # and clicks (tracked links redirect through this instance's domain).
    relay_enabled = models.BooleanField(default=False)
    tracking_enabled = models.BooleanField(default=False)
    # Per UTC day, counted when mail is accepted; null: MAILPASS_ACCOUNT_DAILY_RECIPIENTS /
    # _BYTES. 0: no limit.
    daily_recipient_limit = models.PositiveIntegerField(null=True, blank=True)
    daily_byte_limit = models.PositiveBigIntegerField(null=True, blank=True)
    # Mail only from the account's verified sender domains (providers.domains). On for
    # accounts made since sender domains exist (accounts.services), off for older ones.
    verified_domains_only = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name


class AccountUsage(models.Model):
    """What an account had accepted on one UTC day, against its daily limits."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    recipients = models.PositiveBigIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "day"], name="one_usage_row_per_account_day")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} @ {self.day}: {self.recipients} recipients, {self.bytes} B"


class PendingSignup(models.Model):
    """A sign-up waiting for its owner to follow the link mailed to `email`. No user exists
    until then, so nobody can hold an address they cannot read; signing up again with the
    same address replaces the row (and its link)."""

    email = models.EmailField(max_length=254, unique=True)  # lower-cased
    account_name = models.CharField(max_length=200, blank=True)
    password = models.CharField(max_length=128)  # hashed, as User.password
    token_digest = models.CharField(max_length=64, unique=True)  # sha256 of the link's token
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.email


class Invitation(models.Model):
    """An account owner's invitation for a new teammate, sent to `email`; the link's token
    is stored only as a digest and works once."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)  # lower-cased
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} to {self.account}"


class Membership(models.Model):
    """A user's seat in an account. The owner has one too."""

    class Role(models.TextChoices):
        OWNER = "owner"  # created the account; can do everything
        MEMBER = "member"  # a teammate with the same access to the account's objects

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.account} ({self.role})"
