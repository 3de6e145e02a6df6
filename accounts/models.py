from django.conf import settings
from django.db import models


class Account(models.Model):
    """The tenant. Every key, provider, message and event belongs to exactly one account."""

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_accounts"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="accounts"
    )
    # Defaults for messages that do not say: a pixel before </body>, links via redirects.
    track_opens = models.BooleanField(default=False)
    track_clicks = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


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
