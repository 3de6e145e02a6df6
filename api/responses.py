"""Output shapes of the mail API (the `data` of the success envelope)."""

from typing import Any

from rest_framework import serializers


class SendResultSerializer(serializers.Serializer):
    message_id = serializers.CharField(help_text="<random.unixtime@domain>")
    status = serializers.CharField()
    to = serializers.EmailField()


# "from" is a Python keyword, so it cannot be a class attribute.
SendResultSerializer._declared_fields["from"] = serializers.EmailField()


class BatchItemResultSerializer(serializers.Serializer):
    to = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["queued", "failed"])
    queue_id = serializers.IntegerField(required=False, help_text="Present when queued.")
    message_id = serializers.CharField(required=False, help_text="Present when queued.")
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
    attachments = AttachmentSummarySerializer(
        source="attachment_list", many=True, help_text="By name, type and size; never content."
    )


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
    database = serializers.CharField()
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
