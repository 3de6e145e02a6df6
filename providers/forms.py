"""The provider form the dashboard shows: common columns plus each kind's own fields.

Input is checked by the same rules provider_create applies (providers.kinds and the smtp
host check), and save() goes through provider_create itself. Secrets use password inputs
that never render a value back.
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst

from accounts.models import Account
from providers import kinds
from providers.models import Provider
from providers.services import provider_check_kind, provider_create

# Columns only an smtp provider uses; empty for the other kinds, model defaults then.
_SMTP_COLUMNS = ("host", "port", "username", "security")


def _kinds_using(name: str) -> str:
    return " ".join(
        kind for kind, fields in kinds.FIELDS.items() if any(f.name == name for f in fields)
    )


class ProviderForm(forms.ModelForm):
    """Create a provider for `account`. Kind-specific inputs carry data-kinds="…" so the
    page can show only the current kind's fields."""

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
            "is_default",
        ]

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        for name in (*_SMTP_COLUMNS, "timeout"):
            self.fields[name].required = False
        for name in _SMTP_COLUMNS:
            self.fields[name].widget.attrs["data-kinds"] = Provider.Kind.SMTP
        for field in kinds.ALL_FIELDS:
            widget = forms.PasswordInput(render_value=False) if field.secret else forms.TextInput()
            widget.attrs["data-kinds"] = _kinds_using(field.name)
            self.fields[field.name] = forms.CharField(
                label=capfirst(field.label), required=False, strip=True, widget=widget
            )

    def clean_port(self) -> int:
        return self.cleaned_data["port"] or Provider._meta.get_field("port").default

    def clean_security(self) -> str:
        return self.cleaned_data["security"] or Provider._meta.get_field("security").default

    def clean_timeout(self) -> int:
        return self.cleaned_data["timeout"] or Provider._meta.get_field("timeout").default

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if not kind:
            return cleaned  # the kind's own error is already reported
        credentials, options = kinds.split_values(kind, cleaned)
        provider = Provider(account=self.account, kind=kind, options=options)
        if kind == Provider.Kind.SMTP:
            provider.host = cleaned.get("host") or ""
            provider.port = cleaned.get("port") or provider.port
        provider.credentials = credentials
        try:
            provider_check_kind(provider=provider)
        except ValidationError as err:
            self.add_error(None, err)
        return cleaned

    def save(self) -> Provider:  # type: ignore[override]
        """Create the provider through provider_create (never ModelForm's own save)."""
        data = self.cleaned_data
        kind = data["kind"]
        credentials, options = kinds.split_values(kind, data)
        columns = {name: data[name] for name in _SMTP_COLUMNS} if kind == Provider.Kind.SMTP else {}
        self.instance = provider_create(
            account=self.account,
            name=data["name"],
            kind=kind,
            credentials=credentials,
            options=options,
            timeout=data["timeout"],
            from_email=data["from_email"],
            from_name=data["from_name"],
            hourly_limit=data["hourly_limit"],
            daily_limit=data["daily_limit"],
            is_default=data["is_default"],
            **columns,
        )
        return self.instance
