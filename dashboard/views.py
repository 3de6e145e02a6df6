from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.services import account_for_user
from api.models import ApiKey, Message
from providers.selectors import provider_list_for_account


@login_required
def home(request: HttpRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    context = {
        "account": account,
        "api_keys": ApiKey.objects.filter(account=account),
        "providers": provider_list_for_account(account=account),
        "recent_messages": Message.objects.filter(account=account)[:20],
    }
    return render(request, "dashboard/home.html", context)
