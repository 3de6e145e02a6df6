"""The provider form the dashboard shows: common columns plus each kind's own fields.

Input is checked by the same rules provider_create and provider_update apply
(providers.kinds, the fallbacks, the smtp host check), and save() goes through those
services. Secrets are password inputs that never render a value back; on an existing
provider an empty one keeps the stored secret.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from providers import kinds
from providers.models import Provider
from providers.policy import relay_allowed
from providers.selectors import provider_list_for_account
from providers.services import provider_check_kind, provider_create, provider_update

# Columns only an smtp provider uses; the other kinds keep the model's defaults.
_SMTP_COLUMNS = ("host", "port", "username", "security")
# Columns the form hands to provider_create / provider_update, when it has them.
_COLUMNS = (
    "name",
    *_SMTP_COLUMNS,
    "timeout",
    "from_email",
    "from_name",
    "hourly_limit",
    "daily_limit",
    "fallbacks",
)

# One line per kind for the dashboard's "which kind?" page.
KIND_DESCRIPTIONS = {
    Provider.Kind.SMTP: _(
        "Any SMTP server or relay: your own mail server, your host's relay, Google "
        "Workspace, Microsoft 365…"
    ),
    Provider.Kind.MAILPASS: _(
        "The relay of this MailPass instance, set up by its operator. Nothing to fill in."
    ),
    Provider.Kind.AMAZON_SES: _("Amazon SES over its API, with an access key pair and a region."),
    Provider.Kind.SENDGRID: _("SendGrid's v3 API, with an API key allowed to send mail."),
    Provider.Kind.MAILGUN: _("Mailgun's API, with an API key and your sending domain (US or EU)."),
    Provider.Kind.POSTMARK: _("Postmark's API, with a server token."),
    Provider.Kind.RESEND: _("Resend's API, with an API key."),
    Provider.Kind.BREVO: _("Brevo's v3 API, with an API key."),
}

# The kinds' own fields as the dashboard shows them (providers.kinds' labels are the
# English words of its error messages and of the add_provider command).
KIND_FIELD_LABELS = {
    "password": _("Password"),
    "api_key": _("API key"),
    "access_key_id": _("Access key ID"),
    "secret_access_key": _("Secret access key"),
    "region": _("Region"),
    "configuration_set": _("Configuration set"),
    "domain": _("Sending domain"),
    "server_token": _("Server token"),
    "webhook_secret": _("Webhook basic auth (user:password)"),
    "webhook_signing_key": _("Webhook signing key"),
    "webhook_signing_secret": _("Webhook signing secret (whsec_…)"),
    "webhook_verification_key": _("Signed event webhook verification key"),
}
_KIND_FIELD_HELP = {
    "password": _("Stored encrypted, and never shown again."),
    "configuration_set": _("Optional."),
    "webhook_secret": _(
        "Optional. Events (deliveries, bounces, complaints) are accepted only with it or "
        "with the ESP's signature key: give the ESP the webhook URL with user:password@ "
        "in front of the host."
    ),
    "webhook_signing_key": _("Optional. Mailgun signs each event with it."),
    "webhook_signing_secret": _("Optional. Resend signs each event with it."),
    "webhook_verification_key": _("Optional. The public key of SendGrid's signed event webhook."),
}
_REGION_HELP = {
    Provider.Kind.AMAZON_SES: _("The AWS region, like eu-west-1."),
    Provider.Kind.MAILGUN: _("us (the default) or eu."),
}


def kind_is_offered(kind: str, account: Account) -> bool:
    """Whether `account` can add a provider of `kind` at all: the instance relay exists
    only where the operator set one up, for the accounts it allows (providers.policy)."""
    return kind != Provider.Kind.MAILPASS or relay_allowed(account)


class ProviderForm(forms.ModelForm):
    """Add or edit a provider of `account`.

    With `kind` (a new provider of that kind) or an `instance` (whose kind stays what it
    is), the form holds that kind's fields and no others. With neither, it has a `kind`
    choice and every kind's fields, each input marked data-kinds="…" with the kinds
    that use it.
    """

    fallbacks = forms.TypedMultipleChoiceField(
        label=_("Fallback providers"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Tried in turn when this provider definitely did not accept a message (it refused "
            "it or could not be reached)."
        ),
    )

    class Meta:
        model = Provider
        fields = [
            "name",
            "kind",
            "host",
            "port",
            "username",
            "security",
            "timeout",
            "from_email",
            "from_name",
            "hourly_limit",
            "daily_limit",
            "fallbacks",
            "is_default",
        ]
        labels = {
            "name": _("Name"),
            "kind": _("Kind"),
            "host": _("Host"),
            "port": _("Port"),
            "username": _("Username"),
            "security": _("Security"),
            "timeout": _("Timeout (seconds)"),
            "from_email": _("Sender address"),
            "from_name": _("Sender name"),
            "hourly_limit": _("Hourly limit"),
            "daily_limit": _("Daily limit"),
            "is_default": _("Make it the default provider"),
        }
        help_texts = {
            "name": _("For you: it names the provider in the dashboard and the message log."),
            "host": _("The server's host name, like smtp.example.com."),
            "port": _("Usually 587 (STARTTLS), 465 (SSL/TLS) or 25."),
            "username": _("Leave empty if the server needs no login."),
            "timeout": _("How long to wait for an answer before trying again later."),
            "from_email": _("Used when a request names no from_email."),
            "from_name": _("Used when a request names no from_name."),
            "hourly_limit": _("Messages per clock hour (UTC). Empty means no limit."),
            "daily_limit": _("Messages per day (UTC). Empty means no limit."),
            "is_default": _("The API sends through the default provider."),
        }

    def __init__(self, *args: Any, account: Account, kind: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.account = account
        self.is_new = self.instance.pk is None
        self.kind = kind if self.is_new else self.instance.kind
        for name in (*_SMTP_COLUMNS, "timeout"):
            self.fields[name].required = False
        for name in _SMTP_COLUMNS:
            self.fields[name].widget.attrs["data-kinds"] = Provider.Kind.SMTP
        # Browsers would fill in the dashboard login of the person editing.
        self.fields["username"].widget.attrs["autocomplete"] = "off"
        if self.kind is not None:
            self._keep_only_kind(self.kind)
        # Names only: which secrets exist is shown, never what they are.
        self._stored_secrets = set() if self.is_new else set(self.instance.credentials)
        kind_fields = kinds.fields_for(self.kind) if self.kind else kinds.ALL_FIELDS
        for field in kind_fields:
            self.fields[field.name] = self._kind_field(field)
        self._set_fallback_choices()
        if self.is_new and "is_default" in self.fields:
            # The first provider is what the API sends through: offer that.
            self.fields["is_default"].initial = (
                not provider_list_for_account(account=account).filter(is_default=True).exists()
            )
        # Meta's order, with the kind's own fields after the SMTP columns.
        order = list(self.Meta.fields)
        after_smtp_columns = order.index("timeout")
        order[after_smtp_columns:after_smtp_columns] = [field.name for field in kind_fields]
        self.order_fields(order)

    def _keep_only_kind(self, kind: str) -> None:
        self.instance.kind = kind
        dropped = ["kind"]
        if not self.is_new:
            dropped.append("is_default")  # provider_set_default's business, one click
        if kind != Provider.Kind.SMTP:
            dropped += _SMTP_COLUMNS
        if kind == Provider.Kind.MAILPASS:
            dropped.append("timeout")  # the operator's relay has its own (EMAIL_TIMEOUT)
        for name in dropped:
            del self.fields[name]

    def _kind_field(self, field: kinds.KindField) -> forms.CharField:
        help_text = _REGION_HELP.get(self.kind) if field.name == "region" else None
        help_text = help_text or _KIND_FIELD_HELP.get(field.name, "")
        initial = None
        if field.secret:
            widget: forms.Widget = forms.PasswordInput(
                render_value=False, attrs={"autocomplete": "new-password"}
            )
            if field.name in self._stored_secrets:
                help_text = _("Stored, and never shown. Leave empty to keep it, or type a new one.")
        else:
            widget = forms.TextInput()
            initial = self.instance.options.get(field.name)
        widget.attrs["data-kinds"] = " ".join(
            k for k, fields in kinds.FIELDS.items() if any(f.name == field.name for f in fields)
        )
        return forms.CharField(
            label=KIND_FIELD_LABELS.get(field.name, capfirst(field.label)),
            required=False,
            strip=True,
            widget=widget,
            help_text=help_text,
            initial=initial,
        )

    def _set_fallback_choices(self) -> None:
        others = provider_list_for_account(account=self.account)
        if not self.is_new:
            others = others.exclude(pk=self.instance.pk)
        choices = [(p.pk, str(p)) for p in others]
        if choices:
            self.fields["fallbacks"].choices = choices
        else:
            del self.fields["fallbacks"]

    def clean_port(self) -> int:
        return self.cleaned_data["port"] or Provider._meta.get_field("port").default

    def clean_security(self) -> str:
        return self.cleaned_data["security"] or Provider._meta.get_field("security").default

    def clean_timeout(self) -> int:
        return self.cleaned_data["timeout"] or Provider._meta.get_field("timeout").default

    def clean_fallbacks(self) -> list[int]:
        # The form cannot reorder: fallbacks kept keep their place, new ones come last.
        chosen = self.cleaned_data["fallbacks"]
        kept = [pk for pk in self.instance.fallbacks if pk in chosen]
        return kept + [pk for pk in chosen if pk not in kept]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = self.kind or cleaned.get("kind")
        if not kind:
            return cleaned  # the kind's own error is already reported
        credentials, options = kinds.split_values(kind, cleaned)
        candidate = Provider(
            pk=self.instance.pk,
            account=self.account,
            kind=kind,
            options=options,
            fallbacks=cleaned.get("fallbacks") or [],
        )
        if kind == Provider.Kind.SMTP:
            candidate.host = cleaned.get("host") or ""
            candidate.port = cleaned.get("port") or candidate.port
        stored = {} if self.is_new else self.instance.credentials
        candidate.credentials = {**stored, **credentials}
        try:
            provider_check_kind(provider=candidate)
        except ValidationError as err:
            self.add_service_errors(err)
        return cleaned

    def add_service_errors(self, err: ValidationError) -> None:
        """Show a provider service's ValidationError: on its field where the form has that
        field, else above the form (e.g. "kind" when the kind is not a choice here)."""
        errors = err.message_dict if hasattr(err, "error_dict") else {None: err.messages}
        for name, messages in errors.items():
            self.add_error(name if name in self.fields else None, messages)

    def save(self) -> Provider:  # type: ignore[override]
        """Create or update the provider through its service (never ModelForm's save).

        Raises ValidationError if the service refuses what clean() accepted (the smtp
        host's address may have changed in between); add_service_errors() shows it.
        """
        data = self.cleaned_data
        kind = self.kind or data["kind"]
        credentials, options = kinds.split_values(kind, data)
        columns = {
            name: data[name]
            for name in _COLUMNS
            if name in data and (kind == Provider.Kind.SMTP or name not in _SMTP_COLUMNS)
        }
        if self.is_new:
            self.instance = provider_create(
                account=self.account,
                kind=kind,
                credentials=credentials,
                options=options,
                is_default=data.get("is_default", False),
                **columns,
            )
        else:
            self.instance = provider_update(
                provider=self.instance, credentials=credentials, options=options, **columns
            )
        return self.instance
