from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.services import account_for_user
from api.errors import (
    DomainNotVerifiedError,
    RecipientSuppressedError,
    SendFailedError,
    SendLimitExceededError,
)
from api.services import message_send_test
from api.webhooks import webhook_url
from dashboard.attempts import tests_used_up
from dashboard.forms import ProviderForm, ProviderTestEmailForm
from dashboard.http import AuthenticatedRequest
from dashboard.views.domains import unverified_domain_text
from providers import courtesy, kinds, limits, services
from providers.models import Provider
from providers.policy import kind_allowed
from providers.selectors import provider_list_for_account


@dataclass(frozen=True)
class ProviderRow:
    provider: Provider
    hour: limits.WindowUse
    day: limits.WindowUse
    in_flight: int  # providers.courtesy.in_flight_cap: its own max_in_flight or the kind's
    options: list[tuple[str, str]]  # the kind's settings that are not secret, labelled
    webhook_url: str | None


def _own_provider(request: AuthenticatedRequest, pk: int) -> Provider:
    """The provider `pk` of the user's account; another account's is a 404."""
    account = account_for_user(user=request.user)
    return get_object_or_404(Provider.objects.select_related("account"), pk=pk, account=account)


@login_required
def provider_list(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    rows = []
    for provider in provider_list_for_account(account=account):
        hour, day = limits.usage_against_limits(provider=provider)
        rows.append(
            ProviderRow(
                provider=provider,
                hour=hour,
                day=day,
                in_flight=courtesy.in_flight_cap(provider),
                options=[
                    (str(field.label), provider.options[field.name])
                    for field in kinds.fields_for(provider.kind)
                    if not field.secret and provider.options.get(field.name)
                ],
                webhook_url=webhook_url(provider),
            )
        )
    return render(
        request,
        "dashboard/provider_list.html",
        {"rows": rows, "has_default": any(row.provider.is_default for row in rows)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def provider_create(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    kind = request.GET.get("kind", "")
    if kind not in Provider.Kind.values:
        menu = [
            (choice, kinds.spec_for(choice).description, kind_allowed(choice, account))
            for choice in Provider.Kind
        ]
        return render(request, "dashboard/provider_kinds.html", {"menu": menu})
    form = ProviderForm(request.POST or None, account=account, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            provider = form.save()
        except ValidationError as err:
            form.add_service_errors(err)
        else:
            messages.success(request, _("Provider %(name)s added.") % {"name": provider.name})
            return redirect("dashboard:provider-list")
    return render(
        request,
        "dashboard/provider_form.html",
        {"form": form, "kind": Provider.Kind(kind), "provider": None},
    )


@login_required
@require_http_methods(["GET", "POST"])
def provider_update(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    provider = _own_provider(request, pk)
    name = provider.name  # the form writes what was typed into the instance, valid or not
    form = ProviderForm(request.POST or None, account=provider.account, instance=provider)
    if request.method == "POST" and form.is_valid():
        try:
            form.save()
        except ValidationError as err:
            form.add_service_errors(err)
        else:
            messages.success(request, _("Provider %(name)s saved.") % {"name": provider.name})
            return redirect("dashboard:provider-list")
    return render(
        request,
        "dashboard/provider_form.html",
        {"form": form, "kind": Provider.Kind(provider.kind), "provider": provider, "name": name},
    )


@login_required
@require_http_methods(["GET", "POST"])
def provider_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    provider = _own_provider(request, pk)
    if request.method == "POST":
        name = provider.name
        if services.provider_delete(provider=provider):
            messages.warning(
                request,
                _(
                    "Provider %(name)s deleted. It was the default, so no provider is default "
                    "now: the API refuses to send (NO_SMTP_PROVIDER) until you set one."
                )
                % {"name": name},
            )
        else:
            messages.success(request, _("Provider %(name)s deleted.") % {"name": name})
        return redirect("dashboard:provider-list")
    return render(request, "dashboard/provider_delete.html", {"provider": provider})


@login_required
@require_POST
def provider_set_default(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    provider = _own_provider(request, pk)
    services.provider_set_default(provider=provider)
    messages.success(
        request,
        _("%(name)s is the default provider now: the API sends through it.")
        % {"name": provider.name},
    )
    return redirect("dashboard:provider-list")


@login_required
@require_POST
def provider_test_connection(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    provider = _own_provider(request, pk)
    if tests_used_up(request, account_id=provider.account_id):
        return redirect("dashboard:provider-list")
    ok, text = services.provider_test_connection(provider)
    if ok:
        messages.success(
            request,
            _("Connection test of %(name)s passed: %(result)s")
            % {"name": provider.name, "result": text},
        )
    else:
        messages.error(
            request,
            _("Connection test of %(name)s failed: %(error)s")
            % {"name": provider.name, "error": text},
        )
    return redirect("dashboard:provider-list")


@login_required
@require_POST
def provider_test_email(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    provider = _own_provider(request, pk)
    if tests_used_up(request, account_id=provider.account_id):
        return redirect("dashboard:provider-list")
    form = ProviderTestEmailForm(request.POST, provider=provider)
    if not form.is_valid():
        for error in [*form.non_field_errors(), *form.errors.get("to_email", [])]:
            messages.error(request, error)
        return redirect("dashboard:provider-list")
    to_email = form.cleaned_data["to_email"]
    values = {"name": provider.name, "to": to_email}
    try:
        message_send_test(account=provider.account, provider=provider, to_email=to_email)
    except SendFailedError as err:
        values["error"] = err.details["provider_error"]
        messages.error(request, _("The test email to %(to)s failed: %(error)s") % values)
    except SendLimitExceededError:
        messages.error(
            request, _("%(name)s has reached its sending limit: no test email was sent.") % values
        )
    except RecipientSuppressedError:
        messages.error(
            request,
            _("%(to)s is on your suppression list, so no test email was sent to it.") % values,
        )
    except DomainNotVerifiedError as err:
        messages.error(request, unverified_domain_text(err.details["domain"]))
    else:
        messages.success(
            request,
            _("%(name)s accepted the test email to %(to)s. It is in the message log.") % values,
        )
    return redirect("dashboard:provider-list")
