"""Output shapes of the mail API (the `data` of the success envelope)."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api import templating
from providers import domains


class SendResultSerializer(serializers.Serializer):
    message_id = serializers.CharField(help_text="<random.unixtime@domain>")
    status = serializers.CharField(help_text="sent, or scheduled (with scheduled_at)")
    to = serializers.EmailField()
    scheduled_at = serializers.DateTimeField(
        required=False, help_text="Present when scheduled: when it will be sent (UTC)."
    )


# "from" is a Python keyword, so it cannot be a class attribute.
SendResultSerializer._declared_fields["from"] = serializers.EmailField()


class BatchItemResultSerializer(serializers.Serializer):
    to = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["queued", "scheduled", "failed"])
    queue_id = serializers.IntegerField(required=False, help_text="Present when queued.")
    message_id = serializers.CharField(required=False, help_text="Present when queued.")
    scheduled_at = serializers.DateTimeField(
        required=False, help_text="Present when scheduled (UTC)."
    )
    error = serializers.DictField(
        required=False, help_text="Present when failed: code, message, details."
    )


class BatchResultSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    queued = serializers.IntegerField()
    failed = serializers.IntegerField()
    messages = BatchItemResultSerializer(many=True)


class AttachmentSummarySerializer(serializers.Serializer):
    filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes, decoded.")
    content_id = serializers.CharField(
        allow_null=True, help_text="Set for an inline attachment (cid: in the HTML)."
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["content_id"] = data["content_id"] or None
        return data


class TemplateUsedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    alias = serializers.CharField()
    version = serializers.IntegerField()


class MessageStatusSerializer(serializers.Serializer):
    message_id = serializers.CharField()
    from_email = serializers.EmailField()
    to_email = serializers.EmailField()
    subject = serializers.CharField()
    status = serializers.CharField()
    error_message = serializers.CharField(allow_null=True)
    failure_reason = serializers.CharField(
        allow_null=True, help_text="When failed: rejected, temporary or expired."
    )
    sent_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    scheduled_at = serializers.DateTimeField(
        allow_null=True, help_text="When a scheduled message is (or was) due."
    )
    template = serializers.SerializerMethodField(
        help_text="The template version it was rendered from: id, alias, version."
    )
    attachments = AttachmentSummarySerializer(
        source="attachment_list", many=True, help_text="By name, type and size; never content."
    )
    test = serializers.BooleanField(help_text="Sent with a test key: never handed to a provider.")

    @extend_schema_field(TemplateUsedSerializer(allow_null=True))
    def get_template(self, message: Any) -> dict[str, Any] | None:
        version = message.template_version
        if version is None:
            return None
        return {
            "id": version.template.pk,
            "alias": version.template.alias,
            "version": version.number,
        }


class MessageEventSerializer(serializers.Serializer):
    """One event in the seed's shape; `url` only for clicks, `description` only when there
    is one (bounces, rejections, deferrals)."""

    event_type = serializers.CharField()
    ip_address = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField(allow_blank=True)
    # The href as the message's HTML wrote it, which need not be a well-formed URI.
    url = serializers.CharField(required=False, help_text="Clicks: the link followed.")
    description = serializers.CharField(
        required=False, help_text="Bounces, rejections and deferrals: what the provider said."
    )
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.event_type != "click":
            data.pop("url", None)
        if not data.get("description"):
            data.pop("description", None)
        return data


class StatusResultSerializer(serializers.Serializer):
    message = MessageStatusSerializer()
    events = MessageEventSerializer(
        many=True, help_text="Oldest first, at most 100: the rest through events_next."
    )
    events_next = serializers.CharField(
        allow_null=True,
        help_text="More events follow: pass this as ?events_after= for the next 100. "
        "Null on the last page.",
    )


class QueueHealthSerializer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="Messages waiting, due or not.")
    due = serializers.IntegerField(help_text="Queued messages whose time has come.")
    sending = serializers.IntegerField(help_text="Claimed by a worker right now.")
    stuck = serializers.IntegerField(
        help_text="Claimed, but past their lease: their worker died or hangs. Due again."
    )
    oldest_due_age_seconds = serializers.FloatField(
        allow_null=True,
        help_text="How long the most overdue message (queued and due, or stuck) has waited.",
    )


class HealthSerializer(serializers.Serializer):
    database = serializers.CharField(help_text="ok (otherwise the answer is a 503)")
    cache = serializers.ChoiceField(
        choices=["ok", "unavailable", "local"],
        help_text="The shared cache the limits are counted in (MAILPASS_CACHE_URL): ok, "
        "unavailable (requests are still served; limits are not enforced until it is "
        "back) or local (none configured: each process counts on its own).",
    )
    version = serializers.CharField(help_text="The MailPass release this instance runs.")
    queue = QueueHealthSerializer(
        required=False,
        help_text="Only with Authorization: Bearer <MAILPASS_HEALTH_TOKEN>.",
    )


class SuppressionSerializer(serializers.Serializer):
    email = serializers.EmailField()
    reason = serializers.CharField(help_text="bounced, complained, unsubscribed or manual")
    description = serializers.CharField(allow_blank=True)
    message_id = serializers.CharField(
        source="message.message_id",
        allow_null=True,
        default=None,
        help_text="The message whose bounce or complaint put the address on the list.",
    )
    created_at = serializers.DateTimeField()


class SuppressionListSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    suppressions = SuppressionSerializer(many=True)


class SuppressionAddedSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="False when the address was already listed.")
    suppression = SuppressionSerializer()


class TemplateSerializer(serializers.Serializer):
    """A template as one of its versions (a TemplateVersion whose .template is loaded)."""

    id = serializers.IntegerField(source="template.pk")
    alias = serializers.CharField(source="template.alias")
    name = serializers.CharField(source="template.name")
    version = serializers.IntegerField(source="number", help_text="The version shown.")
    latest_version = serializers.IntegerField(source="template.latest_version")
    subject = serializers.CharField()
    html = serializers.CharField(allow_blank=True)
    text = serializers.CharField(allow_blank=True)
    defaults = serializers.DictField(help_text="Values for variables a request leaves out.")
    variables = serializers.SerializerMethodField(
        help_text="The names it uses outside any section, sorted: what a request must give."
    )
    created_at = serializers.DateTimeField(source="template.created_at")
    updated_at = serializers.DateTimeField(source="template.updated_at")

    def get_variables(self, version: Any) -> list[str]:
        return templating.names_used(version.subject, version.html, version.text)


class TemplateVersionSummarySerializer(serializers.Serializer):
    version = serializers.IntegerField(source="number")
    created_at = serializers.DateTimeField()


class TemplateDetailSerializer(serializers.Serializer):
    template = TemplateSerializer()
    versions = TemplateVersionSummarySerializer(many=True, help_text="Newest first, at most 100.")


class TemplateListSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    templates = TemplateSerializer(many=True, help_text="Each at its latest version.")


class TemplateRenderedSerializer(serializers.Serializer):
    subject = serializers.CharField()
    html = serializers.CharField(allow_blank=True)
    text = serializers.CharField(allow_blank=True)
    version = serializers.IntegerField()


class MessageScheduleSerializer(serializers.Serializer):
    message_id = serializers.CharField()
    status = serializers.CharField(help_text="scheduled, or cancelled")
    scheduled_at = serializers.DateTimeField(required=False)


class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    url = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    events = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField(
        allow_null=True, help_text="manual (turned off by a person) or failing (by MailPass)."
    )
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="The first failed attempt since the last success."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    secret_rotated_at = serializers.DateTimeField(allow_null=True)
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until then the previous secret signs too."
    )


class WebhookDetailSerializer(serializers.Serializer):
    webhook = WebhookEndpointSerializer()


class WebhookWithSecretSerializer(serializers.Serializer):
    webhook = WebhookEndpointSerializer()
    secret = serializers.CharField(help_text="whsec_…: shown only in this answer.")


class WebhookListSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    webhooks = WebhookEndpointSerializer(many=True)


class WebhookDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    event_id = serializers.CharField(source="event.event_id", help_text="The webhook-id header.")
    type = serializers.CharField(source="event.type")
    test = serializers.BooleanField()
    status = serializers.CharField(help_text="pending, succeeded or failed.")
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    response_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)


class WebhookDeliveryDetailSerializer(serializers.Serializer):
    delivery = WebhookDeliverySerializer()


class WebhookDeliveryListSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    deliveries = WebhookDeliverySerializer(many=True)


class DomainRecordSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=["dkim", "spf", "dmarc"])
    type = serializers.CharField(help_text="TXT")
    name = serializers.CharField(help_text="Where to publish it.")
    value = serializers.CharField(help_text="What to publish.")
    status = serializers.ChoiceField(choices=["pending", "verified", "failed"])
    found = serializers.CharField(
        allow_null=True, help_text="The record the last check found; null: none."
    )
    detail = serializers.CharField(allow_blank=True, help_text="Why it failed.")
    selector = serializers.CharField(required=False, help_text="DKIM records only.")
    algorithm = serializers.ChoiceField(
        choices=["rsa-sha256", "ed25519-sha256"], required=False, help_text="DKIM records only."
    )
    key_state = serializers.ChoiceField(
        choices=["active", "pending"],
        required=False,
        help_text="DKIM records only: active signs; pending waits for its record (a rotation).",
    )


class DomainSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "verified", "failed"])
    ed25519 = serializers.BooleanField()
    signing = serializers.SerializerMethodField(
        help_text="Whether mail from it is DKIM-signed now (SMTP and MailPass relay providers)."
    )
    created_at = serializers.DateTimeField()
    checked_at = serializers.DateTimeField(allow_null=True)
    next_check_at = serializers.DateTimeField(allow_null=True)
    verified_at = serializers.DateTimeField(
        allow_null=True, help_text="The last check that found every record."
    )
    records = serializers.SerializerMethodField()

    @extend_schema_field(serializers.BooleanField())
    def get_signing(self, domain: Any) -> bool:
        return domains.is_signing(domain)

    @extend_schema_field(DomainRecordSerializer(many=True))
    def get_records(self, domain: Any) -> list[dict[str, Any]]:
        return domains.records_of(domain)


class DomainDetailSerializer(serializers.Serializer):
    domain = DomainSerializer()


class DomainListSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    domains = DomainSerializer(many=True)
