from django.contrib import admin
from django.db import models

from api.models import ApiKey, Message, MessageEvent, Suppression


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "account", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["name", "prefix", "account__name"]
    # Keys are created through the dashboard or `create_api_key`, which show the secret once.
    readonly_fields = ["prefix", "digest", "created_at", "last_used_at"]

    def has_add_permission(self, request: object) -> bool:
        return False


# Django 6's default already: a URL typed without a scheme is https://.
_URL_FIELDS: dict[type[models.Field], dict[str, str]] = {
    models.URLField: {"assume_scheme": "https"}
}


class MessageEventInline(admin.TabularInline):
    model = MessageEvent
    formfield_overrides = _URL_FIELDS
    extra = 0
    readonly_fields = ["event_type", "ip_address", "user_agent", "description", "created_at"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["message_id", "account", "to_email", "subject", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["message_id", "to_email", "subject"]
    raw_id_fields = ["account", "api_key", "provider"]
    inlines = [MessageEventInline]


@admin.register(MessageEvent)
class MessageEventAdmin(admin.ModelAdmin):
    formfield_overrides = _URL_FIELDS
    list_display = ["message", "event_type", "created_at"]
    list_filter = ["event_type"]
    raw_id_fields = ["account", "message"]


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["email", "account", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["email"]
    raw_id_fields = ["account", "message"]
