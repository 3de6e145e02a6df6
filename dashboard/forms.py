from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from api.models import Permission, default_permissions
from providers.models import Provider


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
        cleaned = super().clean()
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
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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
