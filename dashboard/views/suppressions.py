from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.services import account_for_user
from api import selectors
from api.services import suppression_remove
from dashboard.http import AuthenticatedRequest

SUPPRESSIONS_PER_PAGE = 50


@login_required
def suppression_list(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    email = request.GET.get("email", "").strip() or None
    test = request.GET.get("mode") == "test"
    entries = selectors.suppression_list(account=account, email=email, test=test)
    page = Paginator(entries, SUPPRESSIONS_PER_PAGE).get_page(request.GET.get("page"))
    query = QueryDict(mutable=True)
    if test:
        query["mode"] = "test"
    if email:
        query["email"] = email
    return render(
        request,
        "dashboard/suppression_list.html",
        {
            "page": page,
            "email": email or "",
            "test_mode": test,
            "page_query": query.urlencode() + "&" if query else "",
        },
    )


@login_required
@require_POST
def suppression_delete(request: AuthenticatedRequest) -> HttpResponse:
    email = request.POST.get("email", "")
    test = request.POST.get("mode") == "test"
    back = redirect(reverse("dashboard:suppression-list") + ("?mode=test" if test else ""))
    if suppression_remove(account=account_for_user(user=request.user), email=email, test=test):
        text = _("%(email)s is off the suppression list: mail to it goes out again.")
        messages.success(request, text % {"email": email})
    else:
        messages.error(request, _("%(email)s was not on the suppression list.") % {"email": email})
    return back
