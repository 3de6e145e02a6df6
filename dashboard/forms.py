from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from api.models import Permission, default_permissions
from providers.models import Provider


class SignUpForm(UserCreationForm):
    account_name = forms.CharField(
        label=_("Account name"),
        max_length=200,
        required=False,
        help_text=_("Your team or product. Leave empty to use your username."),
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")
        labels = {"email": _("Email address")}


class AccountSettingsForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = ("name", "track_opens", "track_clicks")
        labels = {
            "name": _("Account name"),
            "track_opens": _("Track opens"),
            "track_clicks": _("Track clicks"),
        }
        help_texts = {
            "track_opens": _(
                "Adds an invisible image to HTML mail. Messages can override it with track_opens."
            ),
            "track_clicks": _(
                "Sends links in HTML mail through MailPass first. Messages can override it "
                "with track_clicks."
            ),
        }


# What each API key permission allows, as the key form offers it.
_PERMISSION_LABELS = {
    Permission.MAIL: _("mail: send mail through /api/v1/mail/* and read its status"),
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


class ProviderTestEmailForm(forms.Form):
    """The address a provider's test email goes to; the sender is the provider's own."""

    to_email = forms.EmailField(label=_("Send a test email to"))

    def __init__(self, *args: Any, provider: Provider, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provider = provider

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.provider.from_email:
            raise forms.ValidationError(
                _("%(name)s has no sender address: add one on its settings page first."),
                params={"name": self.provider.name},
            )
        return cleaned
