from django.contrib import admin

from providers.models import Provider, ProviderUsage


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "kind", "host", "port", "is_default"]
    list_filter = ["kind", "is_default"]
    search_fields = ["name", "host", "account__name"]
    # Secrets are write-only: the encrypted blob is never shown, even to admins.
    exclude = ["credentials_encrypted"]


@admin.register(ProviderUsage)
class ProviderUsageAdmin(admin.ModelAdmin):
    list_display = ["provider", "window_start", "count"]
    list_filter = ["provider"]
