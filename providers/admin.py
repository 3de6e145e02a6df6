from django.contrib import admin

from providers.models import Provider, ProviderPace, ProviderSlot, ProviderUsage


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "account",
        "kind",
        "host",
        "port",
        "is_default",
        "max_in_flight",
        "max_per_second",
    ]
    list_filter = ["kind", "is_default"]
    search_fields = ["name", "host", "account__name"]
    # Secrets are write-only: the encrypted blob is never shown, even to admins.
    exclude = ["credentials_encrypted"]


@admin.register(ProviderUsage)
class ProviderUsageAdmin(admin.ModelAdmin):
    list_display = ["provider", "window_start", "count"]
    list_filter = ["provider"]


# The workers keep these rows (providers.courtesy); the admin shows them and never edits them.
# Deleting stays allowed: deleting a provider deletes its rows too, and the admin refuses that
# to anyone who may not delete each of them.
@admin.register(ProviderSlot)
class ProviderSlotAdmin(admin.ModelAdmin):
    list_display = ["provider", "number", "holder", "expires_at"]
    list_filter = ["provider"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ProviderPace)
class ProviderPaceAdmin(admin.ModelAdmin):
    list_display = ["provider", "next_at"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
