import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import Account
from api import outbox
from api.models import Permission, Template, TemplateVersion, default_permissions
from api.serializers import (
    MAX_ALIAS_CHARS,
    MAX_BODY_CHARS,
    MAX_TEMPLATE_NAME_CHARS,
    TemplateInputSerializer,
    VariablesField,
)
from api.services import template_create, template_update
from providers import kinds
from providers.models import Provider
from providers.selectors import provider_list_for_account
from providers.services import provider_check_kind, provider_create, provider_update
from providers.validators import MAX_SUBJECT_CHARS


class _NewPasswordFields(forms.Form):
    """A new password typed twice, checked by the project's password validators against a
    user with `username` and `email` (who may not exist yet)."""

    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def user_for_validation(self) -> Any:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords are not the same."))
        elif first:
            try:
                password_validation.validate_password(first, self.user_for_validation())
            except forms.ValidationError as err:
                self.add_error("password1", err)
        return cleaned


class SignUpForm(_NewPasswordFields):
    field_order = ["email", "account_name", "password1", "password2"]

    # A username holds 150 characters; the address becomes the username.
    email = forms.EmailField(
        label=_("Email address"),
        max_length=150,
        help_text=_("Your username. We mail it a link to finish signing up."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    account_name = forms.CharField(
        label=_("Account name"),
        max_length=200,
        required=False,
        help_text=_("Your team or product. Leave empty to use your email address."),
    )

    def user_for_validation(self) -> Any:
        email = self.cleaned_data.get("email", "")
        return get_user_model()(username=email, email=email)


class InvitationAcceptForm(_NewPasswordFields):
    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def user_for_validation(self) -> Any:
        return get_user_model()(username=self.email, email=self.email)


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=150,
        help_text=_("Their username on MailPass. The link works once, for seven days."),
    )


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class AccountSettingsForm(forms.ModelForm):
    # Not in Meta.fields: saved by its own service (accounts.services), never by the form.
    verified_domains_only = forms.BooleanField(
        label=_("Only send from verified domains"),
        required=False,
        help_text=_(
            "The API refuses mail whose From address is not on one of your verified domains "
            "(DOMAIN_NOT_VERIFIED), so nobody can send in the name of a domain you have not "
            "proven to be yours."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        only_verified = self.fields["verified_domains_only"]
        only_verified.initial = self.instance.verified_domains_only
        if settings.MAILPASS_REQUIRE_VERIFIED_DOMAIN:
            only_verified.disabled = True
            only_verified.initial = True
            only_verified.help_text = _(
                "Always on: the operator of this MailPass requires verified domains for every "
                "account."
            )
        if not self.instance.tracking_enabled:
            # Tracking needs the operator's permission (Account.tracking_enabled).
            for name in ("track_opens", "track_clicks"):
                self.fields[name].disabled = True
                self.fields[name].help_text = _(
                    "Not available: the operator of this MailPass has not enabled open and "
                    "click tracking for your account."
                )

    class Meta:
        model = Account
        fields = ("name", "track_opens", "track_clicks", "unsubscribe")
        labels = {
            "name": _("Account name"),
            "track_opens": _("Track opens"),
            "track_clicks": _("Track clicks"),
            "unsubscribe": _("One-click unsubscribe"),
        }
        help_texts = {
            "track_opens": _(
                "Adds an invisible image to HTML mail. Messages can override it with track_opens."
            ),
            "track_clicks": _(
                "Sends links in HTML mail through MailPass first. Messages can override it "
                "with track_clicks."
            ),
            "unsubscribe": _(
                "Adds List-Unsubscribe headers that Gmail and Yahoo show as an unsubscribe "
                "button; an unsubscribed address goes on your suppression list. Messages can "
                "override it with unsubscribe."
            ),
        }


# What each API key permission allows, as the key form offers it.
_PERMISSION_LABELS = {
    Permission.MAIL: _(
        "mail: send mail through /api/v1/mail/*, read its status, and read and render templates"
    ),
    Permission.TEMPLATES: _("templates: create, change and delete templates"),
    Permission.WEBHOOKS: _(
        "webhooks: create, change and delete webhook endpoints and see their deliveries"
    ),
    Permission.DOMAINS: _("domains: add, check, rotate and delete sender domains"),
}


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("Where the key is used, like “shop backend”."),
    )
    permissions = forms.MultipleChoiceField(
        label=_("Permissions"),
        choices=[(p.value, _PERMISSION_LABELS.get(p, p.value)) for p in Permission],
        initial=default_permissions,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one permission.")},
    )
    mode = forms.ChoiceField(
        label=_("Mode"),
        choices=[
            ("live", _("Live: sends mail through your providers")),
            ("test", _("Test (mp_test_…): records mail like a live key, but never sends it")),
        ],
        initial="live",
        required=False,  # none chosen: live
        widget=forms.RadioSelect,
    )


class TestEmailForm(forms.Form):
    """The address a template's test email goes to."""

    to_email = forms.EmailField(
        label=_("Send a test email to"),
        widget=forms.EmailInput(attrs={"placeholder": _("name@example.com")}),
    )


class ProviderTestEmailForm(forms.Form):
    """The address a provider's test email goes to; the sender is the provider's own."""

    to_email = forms.EmailField(label=_("Send a test email to"))

    def __init__(self, *args: Any, provider: Provider, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provider = provider

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not self.provider.from_email:
            raise forms.ValidationError(
                _("%(name)s has no sender address: add one on its settings page first."),
                params={"name": self.provider.name},
            )
        return cleaned


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
    "max_in_flight",
    "max_per_second",
    "fallbacks",
)


def _in_flight_help(kind: str | None) -> str:
    """The help under max_in_flight, naming the default it falls back on for `kind` (both
    defaults on the all-kinds form)."""
    if kind is None:
        return gettext(
            "All workers together keep to it. Empty means the kind's default: %(smtp)s for "
            "SMTP servers and the MailPass relay, %(api)s for the ESPs' APIs."
        ) % {"smtp": kinds.SMTP_IN_FLIGHT, "api": kinds.API_IN_FLIGHT}
    return gettext(
        "All workers together keep to it. Empty means the kind's default: %(default)s."
    ) % {"default": kinds.spec_for(kind).in_flight}


class ProviderForm(forms.ModelForm):
    """Add or edit a provider of `account`: the common columns plus its kind's own fields
    (its row in providers.kinds: labels, help, which are secret).

    Input is checked by the rules provider_create and provider_update apply
    (provider_check_kind), and save() goes through those services. Secrets are password
    inputs that never render a value back; on an existing provider an empty one keeps the
    stored secret.

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
            "max_in_flight",
            "max_per_second",
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
            "max_in_flight": _("Connections or requests at once"),
            "max_per_second": _("Messages per second"),
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
            "max_per_second": _(
                "For example your Amazon SES account's sending rate. All workers together keep "
                "to it. Empty means no cap."
            ),
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
        self.fields["max_in_flight"].help_text = _in_flight_help(self.kind)
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
        help_text = field.help
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
        widget.attrs["data-kinds"] = " ".join(kinds.kinds_with_field(field.name))
        return forms.CharField(
            label=field.label,
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
            fallbacks = self.fields["fallbacks"]
            assert isinstance(fallbacks, forms.ChoiceField)
            fallbacks.choices = choices
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
        super().clean()
        cleaned = self.cleaned_data
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
        errors: dict[str | None, list[str]] = {None: err.messages}
        if hasattr(err, "error_dict"):
            errors = {name: messages for name, messages in err.message_dict.items()}
        for name, messages in errors.items():
            self.add_error(name if name in self.fields else None, messages)

    def save(self) -> Provider:  # type: ignore[override]  # no commit=: saved by the service
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


def error_texts(detail: Any) -> list[str]:
    """The messages of a DRF error detail (a list, or a dict of them, nested), flat."""
    if isinstance(detail, dict):
        return [text for value in detail.values() for text in error_texts(value)]
    if isinstance(detail, list):
        return [text for value in detail for text in error_texts(value)]
    return [str(detail)]


class JSONObjectField(forms.JSONField):
    """A JSON object typed into a textarea: a template's default or sample variables.
    Empty means {}; the API's limits for variables apply (api.serializers.VariablesField)."""

    default_error_messages = {
        "invalid": _("This is not valid JSON."),
        "not_object": _('Write a JSON object, like {"name": "Ada"}.'),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValidationError(self.error_messages["not_object"], code="not_object")
        try:
            VariablesField().run_validation(value)
        except serializers.ValidationError as err:
            raise ValidationError(error_texts(err.detail)) from err
        return value

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2)


def _source_widget(rows: int) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "spellcheck": "false", "class": "source"})


class TemplateContentForm(forms.Form):
    """What a template says, in Mustache: subject, HTML and text, the default variables, and
    the sample variables that its preview and test email fill it with.

    The syntax and the limits are checked by the API's own TemplateInputSerializer, so the
    dashboard accepts exactly what the API does; its messages are the API's (English).
    """

    subject = forms.CharField(label=_("Subject"), max_length=MAX_SUBJECT_CHARS, strip=False)
    html = forms.CharField(
        label=_("HTML"),
        required=False,
        strip=False,
        max_length=MAX_BODY_CHARS,
        widget=_source_widget(14),
        help_text=_("Variables are HTML-escaped here; {{{name}}} inserts one as it is."),
    )
    text = forms.CharField(
        label=_("Text"),
        required=False,
        strip=False,
        max_length=MAX_BODY_CHARS,
        widget=_source_widget(8),
    )
    defaults = JSONObjectField(
        label=_("Default variables"),
        help_text=_(
            'JSON: values for the variables a request leaves out, like {"name": "there"}. '
            "Saved in each version."
        ),
    )
    sample_variables = JSONObjectField(
        label=_("Sample variables"),
        help_text=_(
            "JSON: what the preview and the test email fill the template with. Saved with "
            "the template, not in its versions; no request uses them."
        ),
    )

    # The fields TemplateInputSerializer checks.
    api_fields: tuple[str, ...] = ("subject", "html", "text", "defaults")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not cleaned.get("html") and not cleaned.get("text") and "html" not in self.errors:
            self.add_error("html", _("Write the HTML, the text, or both."))
        given = {name: cleaned[name] for name in self.api_fields if name in cleaned}
        # partial: what the fields above refused is not checked twice.
        serializer = TemplateInputSerializer(data=given, partial=True)
        if serializer.is_valid():
            self.api_data = dict(serializer.validated_data)
        else:
            self.add_service_errors(serializers.ValidationError(serializer.errors))
        return cleaned

    def add_service_errors(self, err: serializers.ValidationError) -> None:
        """Show a DRF ValidationError of the template services or serializer on its field
        where the form has that field, else above the form."""
        detail: dict[str | None, Any] = {None: err.detail}
        if isinstance(err.detail, dict):
            detail = {name: messages for name, messages in err.detail.items()}
        for name, messages in detail.items():
            field = name if name in self.fields else None
            self.add_error(field, self._field_messages(field, messages))

    def _field_messages(self, field: str | None, detail: Any) -> list[str]:
        return error_texts(detail)

    def draft(self) -> TemplateVersion:
        """The content as an unsaved version, for a preview."""
        data = self.api_data
        return TemplateVersion(
            subject=data["subject"],
            html=data.get("html") or "",
            text=data.get("text") or "",
            defaults=data.get("defaults") or {},
        )


class TemplateForm(TemplateContentForm):
    """Create a template of `account`, or change `template` (a new version when the subject,
    the bodies or the defaults change), through the template services."""

    field_order = ["name", "alias", "subject", "html", "text", "defaults", "sample_variables"]

    name = forms.CharField(
        label=_("Name"),
        max_length=MAX_TEMPLATE_NAME_CHARS,
        help_text=_("For you and your team: it names the template in the dashboard."),
    )
    alias = forms.CharField(
        label=_("Alias"),
        max_length=MAX_ALIAS_CHARS,
        help_text=_(
            'What your application sends it by: "template": {"alias": "…"}. Lower-case '
            "letters, digits and - _ . between them, with one letter at least."
        ),
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )

    api_fields = ("name", "alias", *TemplateContentForm.api_fields)

    def __init__(
        self,
        *args: Any,
        account: Account,
        template: Template | None = None,
        version: TemplateVersion | None = None,
        **kwargs: Any,
    ) -> None:
        if template is not None and version is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": template.name,
                    "alias": template.alias,
                    "subject": version.subject,
                    "html": version.html,
                    "text": version.text,
                    "defaults": version.defaults,
                    "sample_variables": template.sample_variables,
                },
            )
        super().__init__(*args, **kwargs)
        self.account = account
        self.template = template

    def _field_messages(self, field: str | None, detail: Any) -> list[str]:
        messages = error_texts(detail)
        if field == "alias":
            if "Already used by another template." in messages:
                return [gettext("Another template of your account has this alias.")]
            # The one rule of the alias that the field above does not check itself.
            return [
                gettext(
                    "Use lower-case letters, digits and - _ . between them, with one letter "
                    "at least."
                )
            ]
        return messages

    @transaction.atomic
    def save(self, *, user: User) -> Template:
        """Create or change the template, and its sample variables, through its services.
        Raises rest_framework's ValidationError when a service refuses (the
        alias was taken in the meantime); add_service_errors() shows it."""
        data = {**self.api_data, "sample_variables": self.cleaned_data["sample_variables"]}
        if self.template is None:
            return template_create(account=self.account, data=data, user=user)
        for name in ("name", "alias", "sample_variables"):
            if name not in self.changed_data:
                data.pop(name, None)  # unchanged: updated_at stays as it is
        return template_update(template=self.template, data=data, user=user)


class RescheduleForm(forms.Form):
    """A scheduled message's new time, in the current time zone (the one every time on the
    dashboard's pages is shown in)."""

    scheduled_at = forms.DateTimeField(
        label=_("New time"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scheduled_at"].help_text = gettext(
            "In %(zone)s, like every time on these pages."
        ) % {"zone": timezone.get_current_timezone_name()}


# The event types an endpoint can want (api.outbox.EVENT_NAMES), as the checkboxes say them.
WEBHOOK_EVENT_LABELS = {
    "sent": _("sent: the provider accepted the message"),
    "delivered": _("delivered: the receiving server accepted it"),
    "bounced": _("bounced: a hard bounce"),
    "failed": _("failed: rejected, or retries ran out"),
    "complained": _("complained: marked as spam"),
    "unsubscribed": _("unsubscribed: the recipient unsubscribed"),
    "opened": _("opened"),
    "clicked": _("clicked: a tracked link was followed"),
    "suppressed": _("suppressed: not sent to a suppressed address"),
    "scheduled": _("scheduled: accepted for later"),
    "cancelled": _("cancelled: a scheduled message was cancelled"),
}


class WebhookForm(forms.Form):
    """An endpoint's URL, description, event types and switch; the webhook services check
    the URL (https, a public host) and say what is wrong with it on the field."""

    url = forms.CharField(
        label=_("URL"),
        max_length=2048,
        help_text=_("An https:// address of your application that accepts POST requests."),
        widget=forms.URLInput(attrs={"placeholder": "https://app.example.com/hooks/mailpass"}),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(name, WEBHOOK_EVENT_LABELS.get(name, name)) for name in outbox.EVENT_NAMES],
        initial=list(outbox.EVENT_NAMES),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event type.")},
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def add_service_errors(self, err: serializers.ValidationError) -> None:
        """A webhook service's ValidationError on its field, else above the form."""
        detail: dict[str | None, Any] = {None: err.detail}
        if isinstance(err.detail, dict):
            detail = dict(err.detail.items())
        for name, messages in detail.items():
            self.add_error(name if name in self.fields else None, error_texts(messages))


class WebhookRotateForm(forms.Form):
    overlap_hours = forms.IntegerField(
        label=_("Old secret keeps signing for (hours)"),
        min_value=0,
        max_value=168,
        initial=24,
        help_text=_(
            "During this time every request carries two signatures, so your receiver can "
            "switch to the new secret without missing an event. 0: the old secret stops now."
        ),
    )


class DomainForm(forms.Form):
    """A new sender domain: its name, and whether it is signed with Ed25519 besides RSA. The
    domain service checks the name and says what is wrong with it on the field."""

    name = forms.CharField(
        label=_("Domain"),
        max_length=253,
        help_text=_(
            "The domain of your From addresses, like example.com; a subdomain such as "
            "mail.example.com covers only addresses @mail.example.com."
        ),
        widget=forms.TextInput(
            attrs={"placeholder": "example.com", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    ed25519 = forms.BooleanField(
        label=_("Also sign with an Ed25519 key (in addition to RSA)"),
        required=False,
        help_text=_(
            "Ed25519 signatures (RFC 8463) are short and strong; receivers that do not check "
            "them still check the RSA signature. Adds a second DKIM record to publish."
        ),
    )

    def add_service_errors(self, err: ValidationError) -> None:
        """The domain service's ValidationError on its field, else above the form."""
        errors: dict[str | None, list[str]] = {None: err.messages}
        if hasattr(err, "error_dict"):
            errors = dict(err.message_dict.items())
        for name, messages in errors.items():
            self.add_error(name if name in self.fields else None, messages)


class DomainRotateForm(forms.Form):
    ed25519 = forms.BooleanField(
        label=_("Sign with an Ed25519 key as well (in addition to RSA)"),
        required=False,
    )
