from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.services import account_for_user
from api.models import ApiKey
from api.services import api_key_create, api_key_revoke
from dashboard.forms import ApiKeyCreateForm
from dashboard.http import AuthenticatedRequest


@never_cache  # the answer to a create holds the full key: no cache may keep a copy
@login_required
@require_http_methods(["GET", "POST"])
def key_list(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    form = ApiKeyCreateForm(request.POST or None)
    new_key = new_secret = None
    if request.method == "POST" and form.is_valid():
        # The secret lives in this one response only: not in the session, not in a message.
        new_key, new_secret = api_key_create(
            account=account,
            name=form.cleaned_data["name"],
            created_by=request.user,
            permissions=form.cleaned_data["permissions"],
            test=form.cleaned_data["mode"] == "test",
        )
        form = ApiKeyCreateForm()
    return render(
        request,
        "dashboard/key_list.html",
        {
            "keys": account.api_keys.select_related("created_by"),
            "form": form,
            "new_key": new_key,
            "new_secret": new_secret,
            "send_url": settings.MAILPASS_PUBLIC_URL + reverse("api:mail-send"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def key_revoke(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=pk, account=account_for_user(user=request.user))
    if request.method == "POST":
        api_key_revoke(api_key=api_key)
        messages.success(
            request,
            _("The API key %(name)s is revoked: requests with it are refused from now on.")
            % {"name": api_key.name},
        )
        return redirect("dashboard:key-list")
    return render(request, "dashboard/key_revoke.html", {"api_key": api_key})
