from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from providers import crypto
from providers.validators import validate_address_plain, validate_header_safe


class Provider(models.Model):
    """Where an account's mail leaves through: an SMTP server or an ESP API.

    Kind-specific settings that are not secret live in columns (SMTP) or in `options`
    (ESP settings such as region or sending domain); secrets (passwords, API keys) live
    only encrypted in `credentials_encrypted`.
    """

    class Kind(models.TextChoices):
        SMTP = "smtp", _("SMTP server")  # any SMTP relay: host, port, login, TLS mode
        MAILPASS = "mailpass", _("MailPass relay")  # this instance's own relay (EMAIL_* settings)
        AMAZON_SES = "amazon_ses", "Amazon SES"  # SES v2 API: access key pair, region
        SENDGRID = "sendgrid", "SendGrid"  # v3 API key
        MAILGUN = "mailgun", "Mailgun"  # API key, sending domain, US or EU region
        POSTMARK = "postmark", "Postmark"  # server token
        RESEND = "resend", "Resend"  # API key
        BREVO = "brevo", "Brevo"  # v3 API key

    class Security(models.TextChoices):
        NONE = "none", _("None (plain text)")  # no TLS; only sensible on a trusted network
        STARTTLS = "starttls", "STARTTLS"  # plain connect, then upgrade; fails if not offered
        SSL = "ssl", "SSL/TLS"  # TLS from the first byte (usually port 465)

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="providers")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.SMTP)
    is_default = models.BooleanField(default=False)

    host = models.CharField(max_length=253, blank=True)
    port = models.PositiveIntegerField(
        default=587, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    username = models.CharField(max_length=254, blank=True)
    security = models.CharField(max_length=16, choices=Security.choices, default=Security.STARTTLS)
    timeout = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(300)]
    )
    options = models.JSONField(default=dict, blank=True)
    # Other providers of the account, by id, tried in this order when this one certainly
    # did not take a message (see providers.delivery.send_with_failover).
    fallbacks = models.JSONField(default=list, blank=True)
    credentials_encrypted = models.TextField(blank=True, editable=False)

    # Fill in what a request leaves out, so they are header-bound like the API's fields.
    from_email = models.EmailField(blank=True, validators=[validate_address_plain])
    from_name = models.CharField(max_length=200, blank=True, validators=[validate_header_safe])
    hourly_limit = models.PositiveIntegerField(null=True, blank=True)
    daily_limit = models.PositiveIntegerField(null=True, blank=True)
    # Courtesy towards the provider, honoured by every worker on every host together: the
    # most connections (SMTP) or requests (API) open at once (empty: the kind's default,
    # providers.courtesy), and the most messages handed to it per second (empty: no cap).
    max_in_flight = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(256)]
    )
    max_per_second = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100000)]
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(is_default=True),
                name="one_default_provider_per_account",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    kind__in=[
                        "smtp",
                        "mailpass",
                        "amazon_ses",
                        "sendgrid",
                        "mailgun",
                        "postmark",
                        "resend",
                        "brevo",
                    ]
                ),
                name="provider_kind_known",
            ),
            models.CheckConstraint(
                condition=models.Q(security__in=["none", "starttls", "ssl"]),
                name="provider_security_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def credentials(self) -> dict[str, str]:
        """The decrypted secrets (SMTP: {"password": …}, ESPs: see providers.kinds).

        Never log or render them.
        """
        return crypto.decrypt_json(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, value: dict[str, str]) -> None:
        self.credentials_encrypted = crypto.encrypt_json(value) if value else ""

    @property
    def has_limits(self) -> bool:
        return self.hourly_limit is not None or self.daily_limit is not None


class ProviderPace(models.Model):
    """When a provider with a per-second cap may take its next message (providers.courtesy).

    A row of its own, narrow and written once per message, so pacing never locks the
    provider row that limits.acquire and the dashboard use.
    """

    provider = models.OneToOneField(
        Provider, on_delete=models.CASCADE, primary_key=True, related_name="pace"
    )
    next_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.provider_id} next at {self.next_at:%H:%M:%S.%f}"


class ProviderSlot(models.Model):
    """One of a provider's max_in_flight connection slots, leased by a worker while it
    keeps a connection (or a request) open to the provider (providers.courtesy).

    A lease runs out like a message claim: a worker that dies frees its slots by itself.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="slots")
    number = models.PositiveIntegerField()
    holder = models.UUIDField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "number"], name="one_slot_per_number")
        ]

    def __str__(self) -> str:
        return f"{self.provider_id} slot {self.number}: {self.holder or 'free'}"


class ProviderUsage(models.Model):
    """How many messages a provider accepted in one clock hour (UTC), for its limits."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="usage")
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "window_start"], name="one_usage_row_per_provider_hour"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider_id} @ {self.window_start:%Y-%m-%d %H:00}: {self.count}"


class SenderDomain(models.Model):
    """A domain an account sends as, proven by the DNS records it publishes
    (providers.domains): its DKIM keys' records, the operator's SPF mechanism, DMARC."""

    class Status(models.TextChoices):
        PENDING = "pending"  # never verified yet
        VERIFIED = "verified"  # every required record checked out at the last check
        FAILED = "failed"  # a required record was missing or wrong at the last check

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=253)  # lower case, IDNs in punycode
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    ed25519 = models.BooleanField(default=False)  # also sign with an Ed25519 key (RFC 8463)
    created_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    verified_at = models.DateTimeField(null=True, blank=True)  # the last check that passed
    failures = models.PositiveIntegerField(default=0)  # failed checks in a row
    # What the last check found of the SPF and DMARC records:
    # {"spf": {"status", "found", "detail"}, "dmarc": {…}}.
    checks = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="one_domain_per_account"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "verified", "failed"]),
                name="sender_domain_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class DkimKey(models.Model):
    """One DKIM key pair of a sender domain, published at <selector>._domainkey.<domain>."""

    class Algorithm(models.TextChoices):
        RSA = "rsa-sha256"
        ED25519 = "ed25519-sha256"

    class State(models.TextChoices):
        PENDING = "pending"  # made by a rotation: waits for its record to be found
        ACTIVE = "active"  # signs the domain's mail
        RETIRED = "retired"  # replaced by a rotation: signs nothing

    domain = models.ForeignKey(SenderDomain, on_delete=models.CASCADE, related_name="keys")
    selector = models.CharField(max_length=63)
    algorithm = models.CharField(max_length=16, choices=Algorithm.choices)
    state = models.CharField(max_length=16, choices=State.choices)
    public_key = models.TextField()  # the p= value: base64 of the DER (RSA) or raw (Ed25519) key
    # The private key (PKCS#8 PEM), encrypted like provider credentials. Never shown.
    private_key_encrypted = models.TextField(editable=False)
    # What the last check found at the selector: {"status", "found", "detail"}.
    dns_check = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "selector"], name="one_key_per_selector"),
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "active", "retired"]),
                name="dkim_key_state_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.selector}._domainkey ({self.algorithm}, {self.state})"

    @property
    def private_key_pem(self) -> bytes:
        """The decrypted private key. Never log or render it."""
        return crypto.decrypt_json(self.private_key_encrypted)["pem"].encode()

    @private_key_pem.setter
    def private_key_pem(self, value: bytes) -> None:
        self.private_key_encrypted = crypto.encrypt_json({"pem": value.decode()})
