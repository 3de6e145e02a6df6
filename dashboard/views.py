from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.services import account_for_user
from api.models import ApiKey, Message
from api.selectors import suppression_list
from api.services import messages_requeue_failed, suppression_remove
from api.webhooks import webhook_url
from providers.selectors import provider_list_for_account

SUPPRESSIONS_SHOWN = 50


@login_required
def home(request: HttpRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    context = {
        "account": account,
        "api_keys": ApiKey.objects.filter(account=account),
        "providers": [
            (provider, webhook_url(provider))
            for provider in provider_list_for_account(account=account)
        ],
        "recent_messages": Message.objects.filter(account=account)[:20],
        "failed_count": Message.objects.filter(
            account=account, status=Message.Status.FAILED
        ).count(),
        "suppressions": suppression_list(account=account)[:SUPPRESSIONS_SHOWN],
        "suppression_count": suppression_list(account=account).count(),
    }
    return render(request, "dashboard/home.html", context)


@login_required
@require_POST
def requeue_failed(request: HttpRequest) -> HttpResponse:
    count = messages_requeue_failed(account=account_for_user(user=request.user))
    messages.success(request, f"{count} failed message(s) are back in the queue.")
    return redirect("dashboard:home")


@login_required
@require_POST
def suppression_delete(request: HttpRequest) -> HttpResponse:
    email = request.POST.get("email", "")
    if suppression_remove(account=account_for_user(user=request.user), email=email):
        messages.success(
            request, f"{email} is off the suppression list: mail to it goes out again."
        )
    else:
        messages.error(request, f"{email} was not on the suppression list.")
    return redirect("dashboard:home")
