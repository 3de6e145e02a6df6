"""Everything about each kind of provider, one row per Provider.Kind: KINDS.

A row (KindSpec) holds what the kind asks of the user (its fields, with their labels and
help), the rules those answers follow, how a provider of the kind connects (the email
backend and the function that turns the provider into that backend's keyword arguments,
the ESP's public API URL), how its connection is checked, how its events come back
(anymail's webhook view) and the line that describes it on the dashboard. Every other
module reads the row: providers.connections, providers.checks, providers.services, the
add_provider command, api.webhooks and the dashboard's provider pages.

Functions are named by dotted path, like the backends and webhook views, because the
modules they live in read this table themselves (an import would be a cycle).

Secrets are stored encrypted in Provider.credentials; everything else goes into
Provider.options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from providers.models import Provider

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise  # a str, or gettext_lazy's lazy one


@dataclass(frozen=True)
class KindField:
    name: str  # key in credentials (secret) or options (not secret); the form field; --flag
    label: StrOrPromise  # as the dashboard shows it (translated lazily, like noun and help)
    noun: StrOrPromise  # the same in a sentence, lower case: "Amazon SES needs its region."
    secret: bool
    required: bool = True
    help: StrOrPromise = ""  # the dashboard's help text under the input


@dataclass(frozen=True)
class Webhook:
    """How an ESP's events come back: anymail's tracking view, built per provider by
    api.webhooks with that provider's own secrets."""

    # anymail's view, by dotted path: imported on first use (Resend's pulls in svix, a
    # large import a queue worker never needs).
    view: str
    # Provider credential name → the view's keyword argument.
    credentials: dict[str, str]
    # Keyword arguments every provider of the kind gets.
    fixed_kwargs: dict[str, object] = field(default_factory=dict)


Errors = dict[str, list[str]]  # field name → messages
# The kind's own checks of a provider's values: (credentials, options) → errors, {} when
# all is well.
Rules = Callable[[Mapping[str, str], Mapping[str, object]], Errors]


# Default in-flight caps. An SMTP relay's: 50, what Postfix accepts from one client by
# default (smtpd_client_connection_count_limit). An ESP's API: 100 requests at once, well
# under what their documented limits allow; SES also caps messages per second, which
# max_per_second follows.
SMTP_IN_FLIGHT = 50
API_IN_FLIGHT = 100
MB = 1000 * 1000  # ESPs state their size limits in decimal megabytes


@dataclass(frozen=True)
class KindSpec:
    description: StrOrPromise  # one line on the dashboard's "which kind?" page (translated lazily)
    fields: tuple[KindField, ...]
    backend: str  # the Django email backend class, by dotted path
    options: str  # function(provider) → the backend's keyword arguments, by dotted path
    check: str  # function(provider) → a success sentence, raising on failure (checks.run)
    # The ESP's public API base as its anymail backend expects it: None for SMTP kinds, and
    # for Amazon SES (boto3's own endpoint for the region). MAILPASS_ESP_API_URLS replaces
    # it, never a provider row.
    api_url: str | None = None
    # For ESPs whose region names the API host: options["region"] → API base.
    api_url_by_region: dict[str, str] = field(default_factory=dict)
    webhook: Webhook | None = None  # None: the kind reports nothing back
    rules: Rules | None = None
    # The most connections or requests a provider of the kind gets at once from all workers
    # together, unless its max_in_flight says otherwise (providers.courtesy).
    in_flight: int = API_IN_FLIGHT
    # The largest message the ESP's API takes, counted as sent (attachments in base64),
    # from its documentation; None: no limit of ours (an SMTP server says so itself).
    max_message_bytes: int | None = None
    # What else its API can carry (anymail refuses the rest before sending).
    inline_files: bool = True
    non_ascii_headers: bool = True
    # Takes mail only from the account's verified sender domains (the operator's relay).
    verified_domains_only: bool = False


MAILGUN_REGIONS = ("us", "eu")
# AWS region names: "us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-4" …
# The region becomes part of the API host name, so nothing else may get through.
_AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def _relay_rules(credentials: Mapping[str, str], options: Mapping[str, object]) -> Errors:
    if settings.EMAIL_HOST:
        return {}
    return {
        "kind": [gettext("This MailPass instance has no relay of its own (EMAIL_HOST is unset).")]
    }


def _ses_rules(credentials: Mapping[str, str], options: Mapping[str, object]) -> Errors:
    region = options.get("region")
    if region and not _AWS_REGION.fullmatch(str(region)):
        message = gettext("%(region)r is not an AWS region name (like eu-west-1).")
        return {"region": [message % {"region": region}]}
    return {}


def _mailgun_rules(credentials: Mapping[str, str], options: Mapping[str, object]) -> Errors:
    errors: Errors = {}
    region = options.get("region")
    if region and region not in MAILGUN_REGIONS:
        errors["region"] = [gettext("Mailgun's region is us or eu.")]
    domain = options.get("domain")
    if domain:
        try:
            DomainNameValidator(accept_idna=False)(str(domain))
        except ValidationError:
            errors["domain"] = [gettext("%(domain)r is not a domain name.") % {"domain": domain}]
    return errors


_API_KEY = KindField("api_key", _("API key"), _("API key"), secret=True)
# The ESP's events come in through the provider's webhook URL (api.webhooks), accepted only
# with HTTP basic auth ("user:password", put into the URL given to the ESP) and/or the
# ESP's own signature; a provider with neither accepts no events at all.
_WEBHOOK_SECRET = KindField(
    "webhook_secret",
    _("Webhook basic auth (user:password)"),
    _("webhook basic auth (user:password)"),
    secret=True,
    required=False,
    help=_(
        "Optional. Events (deliveries, bounces, complaints) are accepted only with it or "
        "with the ESP's signature key: give the ESP the webhook URL with user:password@ "
        "in front of the host."
    ),
)

KINDS: dict[str, KindSpec] = {
    Provider.Kind.SMTP: KindSpec(
        description=_(
            "Any SMTP server or relay: your own mail server, your host's relay, Google "
            "Workspace, Microsoft 365…"
        ),
        fields=(
            KindField(
                "password",
                _("Password"),
                _("password"),
                secret=True,
                required=False,
                help=_("Stored encrypted, and never shown again."),
            ),
        ),
        backend="providers.hosts.PinnedSMTPBackend",
        options="providers.connections.smtp_options",
        check="providers.checks.smtp",
        in_flight=SMTP_IN_FLIGHT,
    ),
    Provider.Kind.MAILPASS: KindSpec(
        description=_(
            "The relay of this MailPass instance, set up by its operator. Nothing to fill in."
        ),
        fields=(),
        backend="providers.backends.SMTPBackend",
        options="providers.connections.mailpass_options",
        check="providers.checks.smtp",
        rules=_relay_rules,
        in_flight=SMTP_IN_FLIGHT,
        verified_domains_only=True,
    ),
    Provider.Kind.AMAZON_SES: KindSpec(
        description=_("Amazon SES over its API, with an access key pair and a region."),
        fields=(
            KindField("access_key_id", _("Access key ID"), _("access key ID"), secret=True),
            KindField(
                "secret_access_key", _("Secret access key"), _("secret access key"), secret=True
            ),
            KindField(
                "region",
                _("Region"),
                _("region"),
                secret=False,
                help=_("The AWS region, like eu-west-1."),
            ),
            KindField(
                "configuration_set",
                _("Configuration set"),
                _("configuration set"),
                secret=False,
                required=False,
                help=_("Optional."),
            ),
            _WEBHOOK_SECRET,
        ),
        backend="anymail.backends.amazon_ses.EmailBackend",
        options="providers.connections.ses_options",
        check="providers.checks.amazon_ses",
        # Never confirm SNS subscriptions by fetching the URL SNS sends: an operator
        # confirms them in the AWS console, and MailPass makes no outgoing request on a
        # webhook's word.
        webhook=Webhook(
            "anymail.webhooks.amazon_ses.AmazonSESTrackingWebhookView",
            {"webhook_secret": "webhook_secret"},
            {"auto_confirm_sns_subscriptions": False},
        ),
        rules=_ses_rules,
        max_message_bytes=40 * MB,
    ),
    Provider.Kind.SENDGRID: KindSpec(
        description=_("SendGrid's v3 API, with an API key allowed to send mail."),
        fields=(
            _API_KEY,
            _WEBHOOK_SECRET,
            KindField(
                "webhook_verification_key",
                _("Signed event webhook verification key"),
                _("signed event webhook verification key"),
                secret=True,
                required=False,
                help=_("Optional. The public key of SendGrid's signed event webhook."),
            ),
        ),
        backend="anymail.backends.sendgrid.EmailBackend",
        options="providers.connections.sendgrid_options",
        api_url="https://api.sendgrid.com/v3/",
        check="providers.checks.sendgrid",
        webhook=Webhook(
            "anymail.webhooks.sendgrid.SendGridTrackingWebhookView",
            {
                "webhook_secret": "webhook_secret",
                "webhook_verification_key": "tracking_webhook_verification_key",
            },
        ),
        max_message_bytes=30 * MB,
    ),
    Provider.Kind.MAILGUN: KindSpec(
        description=_("Mailgun's API, with an API key and your sending domain (US or EU)."),
        fields=(
            _API_KEY,
            KindField("domain", _("Sending domain"), _("sending domain"), secret=False),
            KindField(
                "region",
                _("Region"),
                _("region"),
                secret=False,
                required=False,
                help=_("us (the default) or eu."),
            ),
            _WEBHOOK_SECRET,
            KindField(
                "webhook_signing_key",
                _("Webhook signing key"),
                _("webhook signing key"),
                secret=True,
                required=False,
                help=_("Optional. Mailgun signs each event with it."),
            ),
        ),
        backend="anymail.backends.mailgun.EmailBackend",
        options="providers.connections.mailgun_options",
        api_url="https://api.mailgun.net/v3/",
        api_url_by_region={"eu": "https://api.eu.mailgun.net/v3/"},
        check="providers.checks.mailgun",
        webhook=Webhook(
            "anymail.webhooks.mailgun.MailgunTrackingWebhookView",
            {"webhook_secret": "webhook_secret", "webhook_signing_key": "webhook_signing_key"},
        ),
        rules=_mailgun_rules,
        max_message_bytes=25 * MB,
    ),
    Provider.Kind.POSTMARK: KindSpec(
        description=_("Postmark's API, with a server token."),
        fields=(
            KindField("server_token", _("Server token"), _("server token"), secret=True),
            _WEBHOOK_SECRET,
        ),
        backend="anymail.backends.postmark.EmailBackend",
        options="providers.connections.postmark_options",
        api_url="https://api.postmarkapp.com/",
        check="providers.checks.postmark",
        webhook=Webhook(
            "anymail.webhooks.postmark.PostmarkTrackingWebhookView",
            {"webhook_secret": "webhook_secret"},
        ),
        max_message_bytes=10 * MB,
    ),
    Provider.Kind.RESEND: KindSpec(
        description=_("Resend's API, with an API key."),
        fields=(
            _API_KEY,
            _WEBHOOK_SECRET,
            KindField(
                "webhook_signing_secret",
                _("Webhook signing secret (whsec_…)"),
                _("webhook signing secret (whsec_…)"),
                secret=True,
                required=False,
                help=_("Optional. Resend signs each event with it."),
            ),
        ),
        backend="anymail.backends.resend.EmailBackend",
        options="providers.connections.api_key_options",
        api_url="https://api.resend.com/",
        check="providers.checks.resend",
        webhook=Webhook(
            "anymail.webhooks.resend.ResendTrackingWebhookView",
            {"webhook_secret": "webhook_secret", "webhook_signing_secret": "signing_secret"},
        ),
        max_message_bytes=40 * MB,
    ),
    Provider.Kind.BREVO: KindSpec(
        description=_("Brevo's v3 API, with an API key."),
        fields=(_API_KEY, _WEBHOOK_SECRET),
        backend="anymail.backends.brevo.EmailBackend",
        options="providers.connections.api_key_options",
        api_url="https://api.brevo.com/v3/",
        check="providers.checks.brevo",
        webhook=Webhook(
            "anymail.webhooks.brevo.BrevoTrackingWebhookView",
            {"webhook_secret": "webhook_secret"},
        ),
        max_message_bytes=20 * MB,
        inline_files=False,
        non_ascii_headers=False,
    ),
}

# Every kind's fields, once per name (add_provider's flags, the all-kinds form).
ALL_FIELDS: tuple[KindField, ...] = tuple(
    {field.name: field for spec in KINDS.values() for field in spec.fields}.values()
)


def spec_for(kind: str) -> KindSpec:
    """The row of `kind`; KeyError for a kind without one."""
    return KINDS[kind]


def fields_for(kind: str) -> tuple[KindField, ...]:
    """The fields `kind` asks for; none for an unknown kind (full_clean reports that)."""
    spec = KINDS.get(kind)
    return spec.fields if spec else ()


def kinds_with_field(name: str) -> list[str]:
    """The kinds that have a field called `name`, in the table's order."""
    return [kind for kind, spec in KINDS.items() if any(f.name == name for f in spec.fields)]


def split_values(kind: str, values: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split user input into (credentials, options) by the kind's fields.

    Empty values and names the kind does not use are dropped, so switching kinds in a form
    never leaves another kind's secret behind.
    """
    credentials: dict[str, str] = {}
    options: dict[str, str] = {}
    for kind_field in fields_for(kind):
        value = (values.get(kind_field.name) or "").strip()
        if value:
            (credentials if kind_field.secret else options)[kind_field.name] = value
    return credentials, options


def validate(kind: str, credentials: dict[str, str], options: dict[str, object]) -> None:
    """Raise ValidationError (field name → messages) unless the kind's fields are usable:
    each required field given, then the kind's own rules, then the webhook secret's form."""
    errors: Errors = {}
    for kind_field in fields_for(kind):
        value = (credentials if kind_field.secret else options).get(kind_field.name)
        if kind_field.required and not value:
            errors[kind_field.name] = [
                gettext("%(kind)s needs its %(field)s.")
                % {"kind": Provider.Kind(kind).label, "field": kind_field.noun}
            ]
    spec = KINDS.get(kind)
    if spec and spec.rules:
        errors.update(spec.rules(credentials, options))
    webhook_secret = credentials.get("webhook_secret")
    if webhook_secret and not re.fullmatch(r"[^:\s]+:\S+", webhook_secret):
        errors["webhook_secret"] = [gettext("Write it as user:password.")]
    if errors:
        raise ValidationError(errors)
