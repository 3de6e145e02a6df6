from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.services import account_create, account_for_user, account_update
from dashboard.attempts import client_of, count_attempt, refused
from dashboard.forms import AccountSettingsForm, SignUpForm


def signup(request: HttpRequest) -> HttpResponse:
    if not settings.MAILPASS_SIGNUP_OPEN:
        raise Http404
    if request.user.is_authenticated:
        return redirect("dashboard:overview")
    if request.method == "POST":
        # Accounts must not be free to mass-produce: sign-ups per client address are limited.
        window = settings.MAILPASS_SIGNUP_WINDOW_SECONDS
        client = client_of(request)
        key = f"signups:client:{client}"
        if client and count_attempt(key, window) > settings.MAILPASS_SIGNUP_LIMIT:
            text = _(
                "Too many sign-ups from your address. Wait %(minutes)s minutes, then try again."
            ) % {"minutes": -(-window // 60)}
            return refused(request, "registration/signup.html", SignUpForm(), text, window)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        account_create(owner=user, name=form.cleaned_data["account_name"])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome to MailPass. Add a provider, then create an API key."))
        return redirect("dashboard:overview")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    form = AccountSettingsForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        account_update(account=account, **form.cleaned_data)
        messages.success(request, _("Settings saved."))
        return redirect("dashboard:account-settings")
    return render(request, "dashboard/account_settings.html", {"form": form, "account": account})
