from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Account
from providers.domains import SigningKey
from providers.models import Provider


class Permission(models.TextChoices):
    MAIL = "mail"  # send mail through /api/v1/mail/* and read its status; read templates
    TEMPLATES = "templates"  # create, change and delete templates
    WEBHOOKS = "webhooks"  # manage the account's webhook endpoints and see their deliveries
    DOMAINS = "domains"  # add, check, rotate and delete the account's sender domains


def default_permissions() -> list[str]:
    return [Permission.MAIL.value]


class ApiKey(models.Model):
    """A Bearer credential of an account. Only its prefix and HMAC digest are stored."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    permissions = models.JSONField(default=default_permissions)
    # A test key (mp_test_…): its messages are recorded but never reach a provider, and it
    # sees only test data (api.testmode).
    test = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_permission(self, permission: str) -> bool:
        return permission in self.permissions


class Message(models.Model):
    """One email accepted through the API, and where it is in its life."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"  # accepted for later: joins the queue at scheduled_at
        CANCELLED = "cancelled"  # cancelled while scheduled; never sent
        QUEUED = "queued"  # waiting for the queue (new, or a retry after next_attempt_at)
        SENDING = "sending"  # claimed by a worker or the /send request, until lease_expires_at
        SENT = "sent"  # the provider accepted it
        FAILED = "failed"  # permanently refused, or retries ran out; see failure_reason
        SUPPRESSED = "suppressed"  # not sent: a recipient is on the suppression list
        # Reported afterwards by an ESP's webhook:
        DELIVERED = "delivered"  # the receiving server accepted it
        BOUNCED = "bounced"  # the receiving server refused it for good
        COMPLAINED = "complained"  # the recipient marked it as spam

    class FailureReason(models.TextChoices):
        REJECTED = "rejected"  # the provider refused it for good (5xx, bad address, config)
        TEMPORARY = "temporary"  # a temporary failure on /send, which does not retry
        EXPIRED = "expired"  # temporary failures until MAILPASS_RETRY_MAX_AGE_SECONDS passed

    # No index of its own: message_account_recent starts with the account, and every index
    # costs each status change of every message an insertion.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, blank=True)
    provider = models.ForeignKey(Provider, on_delete=models.SET_NULL, null=True, blank=True)

    # Unique through a constraint, not unique=True: on PostgreSQL that would add a second,
    # varchar_pattern_ops index for LIKE queries nothing runs, and every index costs each
    # status change an insertion.
    message_id = models.CharField(max_length=255)
    from_email = models.EmailField(max_length=254)
    from_name = models.CharField(max_length=200, blank=True)
    to_email = models.EmailField(max_length=254)
    reply_to = models.EmailField(max_length=254, blank=True)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    subject = models.TextField()
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Resolved when the message is accepted: the request's choice, else the account's.
    track_opens = models.BooleanField(default=False)
    track_clicks = models.BooleanField(default=False)
    # The caller's own headers (name → value, allowed names only: api.serializers), and
    # whether MailPass adds its one-click unsubscribe headers (request, else the account).
    headers = models.JSONField(default=dict, blank=True)
    unsubscribe = models.BooleanField(default=False)
    # How many MessageAttachment rows it has: sending a message without any never asks.
    attachment_count = models.PositiveSmallIntegerField(default=0)
    # The template version its subject and bodies were rendered from, if any. Indexed only
    # where set (Meta): most messages have none, and every index costs each insert.
    template_version = models.ForeignKey(
        "TemplateVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # When a scheduled message joins the queue (api.queue.release_scheduled); kept after.
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # Sent with a test key: never handed to a provider; only test keys see it.
    test = models.BooleanField(default=False)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # null, not "", while there is no error: the API shows it as JSON null.
    error_message = models.TextField(null=True, blank=True)  # noqa: DJ001
    failure_reason = models.CharField(  # noqa: DJ001 - null while not failed, as in the API
        max_length=16, choices=FailureReason.choices, null=True, blank=True
    )
    attempts = models.PositiveIntegerField(default=0)
    # Entered the queue (or was requeued): retries give up MAILPASS_RETRY_MAX_AGE_SECONDS later.
    queued_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The message's turn in the claim order: a per-account virtual clock that spaces each
    # account's backlog out, so one account's 10,000 messages do not hold up another's one.
    turn_at = models.DateTimeField(default=timezone.now)
    claim_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The account's log, newest first: the dashboard's pages walk it from a cursor
            # (created_at, id). The status and the test flag ride along (PostgreSQL) so that
            # the overview's per-status counts of the last 14 days read this index alone.
            models.Index(
                fields=["account", "-created_at", "-id"],
                include=["status", "test"],
                name="message_account_recent",
            ),
            # The dashboard's "what happened to mail for this address?": the recipient filter.
            models.Index(
                F("account"),
                Lower("to_email"),
                F("created_at").desc(),
                F("id").desc(),
                name="message_account_recipient",
            ),
            # The log filtered to the few messages that went wrong. Partial: a message going
            # queued -> sending -> sent -> delivered never enters it.
            models.Index(
                fields=["account", "status", "-created_at", "-id"],
                condition=models.Q(status__in=["failed", "bounced", "complained", "suppressed"]),
                name="message_account_trouble",
            ),
            # The queue's claim order and "due" predicates, served by small partial indexes.
            models.Index(
                fields=["turn_at", "id"],
                condition=models.Q(status="queued"),
                name="message_queued_turn",
            ),
            models.Index(
                fields=["account", "turn_at"],
                condition=models.Q(status="queued"),
                name="message_account_queued_turn",
            ),
            models.Index(  # how late the queue runs (health)
                fields=["next_attempt_at", "id"],
                condition=models.Q(status="queued"),
                name="message_queued_due",
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(status="sending"),
                name="message_sending_lease",
            ),
            models.Index(  # scheduled messages whose time has come
                fields=["scheduled_at", "id"],
                condition=models.Q(status="scheduled"),
                name="message_scheduled_due",
            ),
            models.Index(  # "is this template in use?", and deleting one
                fields=["template_version"],
                condition=models.Q(template_version__isnull=False),
                name="message_template_version",
            ),
            # Webhooks find a message by the ESP's id. SMTP deliveries leave it empty, so
            # the index costs the queue's hot path nothing.
            models.Index(
                fields=["provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="message_provider_message_id",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["message_id"], name="message_id_unique"),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        *("scheduled", "cancelled"),
                        *("queued", "sending", "sent", "failed", "suppressed"),
                        *("delivered", "bounced", "complained"),
                    ]
                ),
                name="message_status_known",
            ),
        ]

    # Not a column: the account's enabled webhook endpoints when the queue claimed this
    # message (api.outbox.look_up_endpoints); None: not looked up.
    webhook_endpoints: "list[WebhookEndpoint] | None" = None
    # Not a column: the account's verified sender domains and their active DKIM keys
    # (providers.domains.signing_keys), looked up once per claimed chunk; None: not yet.
    signing_keys: dict[str, list[SigningKey]] | None = None

    def __str__(self) -> str:
        return self.message_id

    @property
    def attachment_list(self) -> list["MessageAttachment"]:
        """Its attachments in order: no query for a message without any, and none at all
        once api.attachments.prefetch_attachments has loaded them."""
        return list(self.attachments.all()) if self.attachment_count else []


class Template(models.Model):
    """A message the account's people edit without a deploy: a name, an alias that
    applications send with, and numbered versions (the newest is what /send uses unless a
    request names another). api.templating renders them."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="templates")
    alias = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    latest_version = models.PositiveIntegerField(default=1)
    # The dashboard's preview data: not part of any version, and never sent.
    sample_variables = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "alias"], name="one_template_per_alias")
        ]

    def __str__(self) -> str:
        return self.alias


class TemplateVersion(models.Model):
    """One saved state of a template. Never changed: a save, and a roll-back, adds one."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    subject = models.TextField()
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)
    # Values for variables a request leaves out.
    defaults = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"], name="one_template_version_per_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.number}"


class StoredFile(models.Model):
    """The bytes of an attachment, stored once per account however many messages carry
    them (content-addressed by sha256), in the "attachments" storage (STORAGES) under
    `name`. api.attachments stores, reads and purges them."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    name = models.CharField(max_length=255, unique=True)  # in the storage: "ab/<sha256>-<…>"
    created_at = models.DateTimeField(default=timezone.now)
    # Set each time a new message refers to it: a purge never deletes a file that a message
    # being accepted right now is about to refer to.
    last_used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "sha256"], name="one_file_per_content")
        ]

    def __str__(self) -> str:
        return f"{self.sha256[:12]}… ({self.size} B)"


class MessageAttachment(models.Model):
    """A file a message carries: a regular attachment, or an inline one (content_id set)
    that the HTML shows as cid:<content_id>."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    # RESTRICT, not PROTECT: deleting an account deletes its files with its messages.
    file = models.ForeignKey(StoredFile, on_delete=models.RESTRICT, related_name="+")
    position = models.PositiveSmallIntegerField()  # its place in the request's list
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    content_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "position"], name="one_attachment_per_position"
            )
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def size(self) -> int:
        return self.file.size


class IdempotencyRecord(models.Model):
    """The first answer to a request sent with an Idempotency-Key, replayed to its repeats.

    `status_code` is null while that first request is still being handled. Keys are per
    account and remembered for api.idempotency.KEY_LIFETIME.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    test = models.BooleanField(default=False)  # a test key's: test keys have keys of their own
    key = models.CharField(max_length=256)
    fingerprint = models.CharField(max_length=64)  # sha256 of the endpoint and the JSON body
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "test", "key"], name="one_record_per_idempotency_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code or 'in progress'})"


class MessageEvent(models.Model):
    """Something that happened to a message after it was accepted."""

    class Type(models.TextChoices):
        DEFERRED = "deferred"  # a temporary failure; another attempt is scheduled
        OPEN = "open"  # the recipient's client loaded the tracking pixel
        CLICK = "click"  # the recipient followed a tracked link
        DELIVERED = "delivered"  # the receiving server accepted it (reported by an ESP)
        BOUNCED = "bounced"  # the receiving server refused it (reported by an ESP)
        COMPLAINED = "complained"  # the recipient marked it as spam
        REJECTED = "rejected"  # the ESP refused to send it (e.g. on its own blocklist)
        FAILED = "failed"  # the ESP could not send it
        UNSUBSCRIBED = "unsubscribed"  # the recipient unsubscribed (our one-click link, an ESP)
        FAILOVER = "failover"  # a provider certainly did not take it; the next one was tried
        SCHEDULED = "scheduled"  # accepted for later, or moved to another time
        CANCELLED = "cancelled"  # cancelled before its time

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=32, choices=Type.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    url = models.URLField(max_length=2048, blank=True)  # the link followed, for clicks
    description = models.TextField(blank=True)
    # The ESP's id of the event it reported: ESPs resend webhooks, each is recorded once.
    provider_event_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["message", "created_at"], name="event_message_time")]
        constraints = [
            # Per account, not per message: a report's id (a Mailgun signature token) moved
            # onto another message's event is a replay, not news.
            models.UniqueConstraint(
                fields=["account", "provider_event_id"],
                condition=~models.Q(provider_event_id=""),
                name="one_event_per_provider_report",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} of {self.message_id}"

    @property
    def link_url(self) -> str:
        """The clicked URL if it is safe to link to (http or https), else "": an ESP's
        webhook could report any text, javascript: included."""
        scheme = self.url.strip().partition(":")[0].lower()
        return self.url if scheme in ("http", "https") else ""


class MessageLink(models.Model):
    """A link of a message's HTML that click tracking rewrote, stored when the message is
    sent: a click is one lookup by (message, position), never a parse of the HTML."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()  # the link's index in the HTML, as in its token
    url = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "position"], name="one_link_per_position")
        ]

    def __str__(self) -> str:
        return f"{self.message_id}#{self.position}"


class Suppression(models.Model):
    """An address the account no longer sends to: it bounced for good, its owner
    complained or unsubscribed, or someone put it here by hand.

    Messages to it are recorded as `suppressed` and never reach a provider.
    """

    class Reason(models.TextChoices):
        BOUNCED = "bounced"  # a hard bounce reported by the provider
        COMPLAINED = "complained"  # the recipient marked a message as spam
        UNSUBSCRIBED = "unsubscribed"  # the recipient unsubscribed (our link, or an ESP said)
        MANUAL = "manual"  # added through the API or the dashboard

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="suppressions")
    email = models.EmailField(max_length=254)  # lower-cased: addresses match case-insensitively
    # Caused or added in test mode: holds back test messages only.
    test = models.BooleanField(default=False)
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.MANUAL)
    description = models.TextField(blank=True)
    # The message whose bounce or complaint put the address here, if any.
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "test", "email"], name="one_suppression_per_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.reason})"


class WebhookEndpoint(models.Model):
    """A URL of the customer's application that MailPass posts message events to, signed
    with the endpoint's own secret (Standard Webhooks). api.services.webhooks manages
    them, api.webhook_sender delivers."""

    class DisabledReason(models.TextChoices):
        MANUAL = "manual"  # turned off by a person
        FAILING = "failing"  # turned off by MailPass: deliveries failed for days on end

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=2048)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)  # the event names it wants: api.webhook_events
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(  # noqa: DJ001 - null while enabled, as in the API
        max_length=16, choices=DisabledReason.choices, null=True, blank=True
    )
    # The first failed attempt since the last success: 5 days of that disables it.
    failing_since = models.DateTimeField(null=True, blank=True)
    # {"current": "whsec_…", "previous": "whsec_…"?}, encrypted like provider secrets.
    secrets = models.TextField()
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "enabled"], name="webhook_account_enabled")]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(models.Model):
    """One event as posted to endpoints: its id (the webhook-id header, the same on every
    retry) and the exact body that is signed and sent."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=40)
    type = models.CharField(max_length=32)  # "email.delivered", "webhook.test"
    test = models.BooleanField(default=False)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_id"], name="webhook_event_id_unique")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookDelivery(models.Model):
    """An event on its way to one endpoint: claimed and retried like a queued message
    (lease, SKIP LOCKED), until a 2xx or until its retries run out."""

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its next attempt (or being attempted)
        SUCCEEDED = "succeeded"  # a 2xx came back in time
        FAILED = "failed"  # retries ran out, or the endpoint was disabled

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    test = models.BooleanField(default=False)  # the event's, for the mode-scoped log
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Of the latest attempt, null before the first.
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)  # noqa: DJ001 - null: no error
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(  # the endpoint's log, newest first
                fields=["endpoint", "test", "-created_at", "-id"], name="webhook_delivery_log"
            ),
            models.Index(  # the sender's claim: due pending deliveries, oldest first
                fields=["next_attempt_at", "id"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} to endpoint {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a delivery: what came back, for the dashboard's delivery log."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    attempted_at = models.DateTimeField(default=timezone.now)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # "" for a 2xx
    response_excerpt = models.TextField(blank=True)  # the start of the response body

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} @ {self.attempted_at}"
