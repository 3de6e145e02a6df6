"""What each provider kind asks of the user, and the rules its answers must follow.

One table read by provider_create, the ProviderForm and the add_provider command, so a
kind's required fields are spelled out once. Secrets are stored encrypted in
Provider.credentials; everything else goes into Provider.options. (How these values become
backend kwargs is providers.connections' business.)
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import DomainNameValidator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from providers.models import Provider

MAILGUN_REGIONS = ("us", "eu")
# AWS region names: "us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-4" …
# The region becomes part of the API host name, so nothing else may get through.
_AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


@dataclass(frozen=True)
class KindField:
    name: str  # key in credentials (secret) or options (not secret); also the form field
    label: str  # lower case, for sentences; forms capitalise it (translated lazily)
    secret: bool
    required: bool = True


_API_KEY = KindField("api_key", _("API key"), secret=True)
# The ESP's events come in through the provider's webhook URL (api.webhooks), accepted only
# with HTTP basic auth ("user:password", put into the URL given to the ESP) and/or the
# ESP's own signature; a provider with neither accepts no events at all.
_WEBHOOK_SECRET = KindField(
    "webhook_secret", _("webhook basic auth (user:password)"), secret=True, required=False
)

FIELDS: dict[str, tuple[KindField, ...]] = {
    Provider.Kind.SMTP: (KindField("password", _("password"), secret=True, required=False),),
    Provider.Kind.MAILPASS: (),
    Provider.Kind.AMAZON_SES: (
        KindField("access_key_id", _("access key ID"), secret=True),
        KindField("secret_access_key", _("secret access key"), secret=True),
        KindField("region", _("region"), secret=False),
        KindField("configuration_set", _("configuration set"), secret=False, required=False),
        _WEBHOOK_SECRET,
    ),
    Provider.Kind.SENDGRID: (
        _API_KEY,
        _WEBHOOK_SECRET,
        KindField(
            "webhook_verification_key",
            _("signed event webhook verification key"),
            secret=True,
            required=False,
        ),
    ),
    Provider.Kind.MAILGUN: (
        _API_KEY,
        KindField("domain", _("sending domain"), secret=False),
        KindField("region", _("region"), secret=False, required=False),
        _WEBHOOK_SECRET,
        KindField("webhook_signing_key", _("webhook signing key"), secret=True, required=False),
    ),
    Provider.Kind.POSTMARK: (
        KindField("server_token", _("server token"), secret=True),
        _WEBHOOK_SECRET,
    ),
    Provider.Kind.RESEND: (
        _API_KEY,
        _WEBHOOK_SECRET,
        KindField(
            "webhook_signing_secret",
            _("webhook signing secret (whsec_…)"),
            secret=True,
            required=False,
        ),
    ),
    Provider.Kind.BREVO: (_API_KEY, _WEBHOOK_SECRET),
}

ALL_FIELDS: tuple[KindField, ...] = tuple(
    {field.name: field for fields in FIELDS.values() for field in fields}.values()
)


def fields_for(kind: str) -> tuple[KindField, ...]:
    """The fields `kind` asks for; none for an unknown kind (full_clean reports that)."""
    return FIELDS.get(kind, ())


def split_values(kind: str, values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split user input into (credentials, options) by the kind's field table.

    Empty values and names the kind does not use are dropped, so switching kinds in a form
    never leaves another kind's secret behind.
    """
    credentials: dict[str, str] = {}
    options: dict[str, str] = {}
    for field in fields_for(kind):
        value = (values.get(field.name) or "").strip()
        if value:
            (credentials if field.secret else options)[field.name] = value
    return credentials, options


def validate(kind: str, credentials: dict[str, str], options: dict[str, object]) -> None:
    """Raise ValidationError (field name → messages) unless the kind's fields are usable."""
    errors: dict[str, list[str]] = {}
    for field in fields_for(kind):
        value = (credentials if field.secret else options).get(field.name)
        if field.required and not value:
            errors[field.name] = [
                gettext("%(kind)s needs its %(field)s.")
                % {"kind": Provider.Kind(kind).label, "field": field.label}
            ]
    region = options.get("region")
    if kind == Provider.Kind.AMAZON_SES and region and not _AWS_REGION.fullmatch(str(region)):
        errors["region"] = [
            gettext("%(region)r is not an AWS region name (like eu-west-1).") % {"region": region}
        ]
    if kind == Provider.Kind.MAILGUN and region and region not in MAILGUN_REGIONS:
        errors["region"] = [gettext("Mailgun's region is us or eu.")]
    domain = options.get("domain")
    if kind == Provider.Kind.MAILGUN and domain:
        try:
            DomainNameValidator(accept_idna=False)(str(domain))
        except ValidationError:
            errors["domain"] = [gettext("%(domain)r is not a domain name.") % {"domain": domain}]
    webhook_secret = credentials.get("webhook_secret")
    if webhook_secret and not re.fullmatch(r"[^:\s]+:\S+", webhook_secret):
        errors["webhook_secret"] = [gettext("Write it as user:password.")]
    if kind == Provider.Kind.MAILPASS and not settings.EMAIL_HOST:
        errors["kind"] = [
            gettext("This MailPass instance has no relay of its own (EMAIL_HOST is unset).")
        ]
    if errors:
        raise ValidationError(errors)
