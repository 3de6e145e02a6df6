from django.contrib import admin

from accounts.models import Account, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "track_opens", "track_clicks", "created_at"]
    # Open/click tracking defaults for the account's messages (each message may override).
    list_editable = ["track_opens", "track_clicks"]
    search_fields = ["name", "owner__username"]
    inlines = [MembershipInline]
