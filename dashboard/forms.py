from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Account


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
