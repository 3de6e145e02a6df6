from django.contrib import admin

from accounts.models import Account, Invitation, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "relay_enabled",
        "tracking_enabled",
        "daily_recipient_limit",
        "daily_byte_limit",
        "created_at",
    ]
    # What the operator allows each account: the relay, tracking, its own daily quotas
    # (empty: MAILPASS_ACCOUNT_DAILY_RECIPIENTS / _BYTES; 0: no limit).
    list_editable = [
        "relay_enabled",
        "tracking_enabled",
        "daily_recipient_limit",
        "daily_byte_limit",
    ]
    list_filter = ["relay_enabled", "tracking_enabled"]
    search_fields = ["name", "owner__username"]
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "account", "invited_by", "created_at", "accepted_at"]
    search_fields = ["email", "account__name"]
    exclude = ["token_digest"]
