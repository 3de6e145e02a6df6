import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.services import (
    account_for_user,
    account_set_verified_domains_only,
    account_update,
    signup_complete,
    signup_start,
)
from dashboard import mails
from dashboard.attempts import client_of, count_attempt, refused
from dashboard.forms import AccountSettingsForm, PasswordResetRequestForm, SignUpForm
from dashboard.http import AuthenticatedRequest, link_invalid, log_in


def signup_available() -> bool:
    """Sign-up is open when the operator opened it and a relay can mail the links."""
    return settings.MAILPASS_SIGNUP_OPEN and mails.relay_configured()


def may_mail_address(email: str) -> bool:
    """Count one mail to `email` (sign-up link, password reset) against
    MAILPASS_ADDRESS_MAIL_LIMIT per window: nobody can turn MailPass into a cannon aimed at
    one inbox. A refusal is silent: the answer must not tell addresses apart."""
    key = "mails:address:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()
    window = settings.MAILPASS_SIGNUP_WINDOW_SECONDS
    return count_attempt(key, window) <= settings.MAILPASS_ADDRESS_MAIL_LIMIT


def _too_many_from_client(request: HttpRequest, counter: str, limit: int) -> int | None:
    """Count one request of `counter` from this client; the window (seconds) when it is
    over `limit`, else None."""
    window = settings.MAILPASS_SIGNUP_WINDOW_SECONDS
    client = client_of(request)
    if client and count_attempt(f"{counter}:client:{client}", window) > limit:
        return window
    return None


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if not signup_available():
        raise Http404
    if request.user.is_authenticated:
        return redirect("dashboard:overview")
    if request.method == "POST":
        # Accounts must not be free to mass-produce: sign-ups per client address are limited.
        window = _too_many_from_client(request, "signups", settings.MAILPASS_SIGNUP_LIMIT)
        if window:
            text = _(
                "Too many sign-ups from your address. Wait %(minutes)s minutes, then try again."
            ) % {"minutes": -(-window // 60)}
            return refused(request, "registration/signup.html", SignUpForm(), text, window)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        started = signup_start(
            email=form.cleaned_data["email"],
            account_name=form.cleaned_data["account_name"],
            password=form.cleaned_data["password1"],
        )
        # Whether the address is new or taken, the answer is the same page: sign-up tells
        # nobody which addresses have users. Only the mail differs, and only its owner reads it.
        if may_mail_address(started.email):
            if started.token:
                mails.send_signup_link(
                    email=started.email, token=started.token, language=get_language()
                )
            else:
                mails.send_already_registered(email=started.email, language=get_language())
        return render(request, "registration/signup_sent.html", {"email": started.email})
    return render(request, "registration/signup.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def signup_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link of the sign-up mail. A GET shows a button; the POST creates the user (mail
    scanners that fetch every link must not use it up)."""
    if request.method == "GET":
        return render(request, "registration/signup_confirm.html")
    user = signup_complete(token=token)
    if user is None:
        reason = _(
            "The sign-up link was used already, is older than two days, or the address has a "
            "user by now. Sign up again, or log in."
        )
        return link_invalid(request, reason, status=404)
    log_in(request, user)
    messages.success(request, _("Welcome to MailPass. Add a provider, then create an API key."))
    return redirect("dashboard:overview")


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """Ask for a password reset link. Without a relay there is nothing to send it with, so
    no page either. Limited per client and, silently, per address; the answer is the same
    whether the address has a user or not, and takes as long (dashboard.mails)."""
    if not mails.relay_configured():
        raise Http404
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST":
        limit = settings.MAILPASS_PASSWORD_RESET_LIMIT
        window = _too_many_from_client(request, "password-resets", limit)
        if window:
            text = _(
                "Too many password resets from your address. Wait %(minutes)s minutes, then "
                "try again."
            ) % {"minutes": -(-window // 60)}
            return refused(
                request, "registration/password_reset_form.html",
                PasswordResetRequestForm(), text, window,
            )  # fmt: skip
        if form.is_valid():
            email = form.cleaned_data["email"]
            if may_mail_address(email):
                mails.send_password_reset(email=email, language=get_language())
            return redirect("password_reset_done")
    return render(request, "registration/password_reset_form.html", {"form": form})


@login_required
def account_settings(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    form = AccountSettingsForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        only_verified = data.pop("verified_domains_only")
        account_update(account=account, **data)
        if not form.fields["verified_domains_only"].disabled:
            account_set_verified_domains_only(account=account, on=only_verified)
        messages.success(request, _("Settings saved."))
        return redirect("dashboard:account-settings")
    return render(request, "dashboard/account_settings.html", {"form": form, "account": account})
