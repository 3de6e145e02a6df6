"""The Webhooks pages: the account's endpoints, a form to add and change one (a new one's
signing secret is shown once, like a new API key), enable / disable, rotate the secret,
send a test event, delete, and each endpoint's delivery log with every attempt of a
delivery and "Retry now".

Every endpoint and delivery is looked up within the user's account: another account's is
a 404. The pages call the webhook services and selectors the API calls.
"""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from rest_framework.exceptions import ValidationError

from accounts.services import account_for_user
from api import selectors, services
from api.errors import WebhookDisabledError
from api.models import WebhookDelivery, WebhookEndpoint
from dashboard.forms import WEBHOOK_EVENT_LABELS, WebhookForm, WebhookRotateForm
from dashboard.http import AuthenticatedRequest

WEBHOOKS_PER_PAGE = 50
DELIVERIES_PER_PAGE = 50

DISABLED_REASON_LABELS: dict[str, Promise] = {
    WebhookEndpoint.DisabledReason.MANUAL: gettext_lazy("disabled by you"),
    WebhookEndpoint.DisabledReason.FAILING: gettext_lazy(
        "disabled after 5 days of failed deliveries"
    ),
}
DELIVERY_STATUS_LABELS: dict[str, Promise] = {
    WebhookDelivery.Status.PENDING: gettext_lazy("Pending"),
    WebhookDelivery.Status.SUCCEEDED: gettext_lazy("Succeeded"),
    WebhookDelivery.Status.FAILED: gettext_lazy("Failed"),
}


def _own_endpoint(request: AuthenticatedRequest, pk: int) -> WebhookEndpoint:
    """The endpoint `pk` of the user's account; another account's is a 404."""
    try:
        return selectors.webhook_get_for_account(
            account=account_for_user(user=request.user), reference=pk
        )
    except WebhookEndpoint.DoesNotExist as err:
        raise Http404 from err


def _own_delivery(endpoint: WebhookEndpoint, pk: int) -> WebhookDelivery:
    """A delivery of the (own) endpoint, of a live or a test event."""
    for test in (False, True):
        try:
            return selectors.webhook_delivery_get(endpoint=endpoint, test=test, reference=pk)
        except WebhookDelivery.DoesNotExist:
            continue
    raise Http404


def _event_labels(endpoint: WebhookEndpoint) -> list[str]:
    return [str(WEBHOOK_EVENT_LABELS.get(name, name)).split(":")[0] for name in endpoint.events]


def _secret_page(
    request: AuthenticatedRequest, endpoint: WebhookEndpoint, secret: str, *, rotated: bool
) -> HttpResponse:
    """The one page that shows a secret: never cached, never put in a message or session."""
    return render(
        request,
        "dashboard/webhook_secret.html",
        {"endpoint": endpoint, "secret": secret, "rotated": rotated},
    )


@login_required
@require_safe
def webhook_list(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    page = Paginator(selectors.webhook_list(account=account), WEBHOOKS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = [
        (
            endpoint,
            _event_labels(endpoint),
            DISABLED_REASON_LABELS.get(endpoint.disabled_reason or ""),
        )
        for endpoint in page.object_list
    ]
    return render(
        request,
        "dashboard/webhook_list.html",
        {"page": page, "rows": rows, "all_events": len(WEBHOOK_EVENT_LABELS)},
    )


@never_cache  # the answer to a create holds the signing secret
@login_required
@require_http_methods(["GET", "POST"])
def webhook_create(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint, secret = services.webhook_create(
                account=account,
                url=data["url"],
                description=data["description"],
                events=data["events"],
                enabled=data["enabled"],
            )
        except ValidationError as err:
            form.add_service_errors(err)
        else:
            return _secret_page(request, endpoint, secret, rotated=False)
    return render(request, "dashboard/webhook_form.html", {"form": form, "endpoint": None})


@login_required
@require_http_methods(["GET", "POST"])
def webhook_update(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
    }
    form = WebhookForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            services.webhook_update(endpoint=endpoint, **changed)
        except ValidationError as err:
            form.add_service_errors(err)
        else:
            messages.success(request, _("The webhook endpoint is saved."))
            return redirect("dashboard:webhook-detail", pk=endpoint.pk)
    return render(request, "dashboard/webhook_form.html", {"form": form, "endpoint": endpoint})


@login_required
@require_POST
def webhook_enable(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    services.webhook_update(endpoint=endpoint, enabled=True)
    messages.success(request, _("The endpoint is enabled: new events are sent to it again."))
    return redirect("dashboard:webhook-detail", pk=endpoint.pk)


@login_required
@require_POST
def webhook_disable(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    services.webhook_update(endpoint=endpoint, enabled=False)
    messages.success(
        request,
        _("The endpoint is disabled: nothing is sent to it, and what waited for it failed."),
    )
    return redirect("dashboard:webhook-detail", pk=endpoint.pk)


@never_cache  # the answer holds the new signing secret
@login_required
@require_POST
def webhook_rotate_secret(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    form = WebhookRotateForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("dashboard:webhook-detail", pk=endpoint.pk)
    overlap = dt.timedelta(hours=form.cleaned_data["overlap_hours"])
    secret = services.webhook_rotate_secret(endpoint=endpoint, overlap=overlap)
    return _secret_page(request, endpoint, secret, rotated=True)


@login_required
@require_POST
def webhook_send_test(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    try:
        services.webhook_send_test(endpoint=endpoint, test=False)
    except WebhookDisabledError:
        messages.error(request, _("This webhook endpoint is disabled; enable it first."))
    else:
        messages.success(
            request, _("A test event is queued: it appears in the log below within seconds.")
        )
    return redirect("dashboard:webhook-detail", pk=endpoint.pk)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    if request.method == "POST":
        services.webhook_delete(endpoint=endpoint)
        messages.success(
            request, _("The webhook endpoint %(url)s is deleted.") % {"url": endpoint.url}
        )
        return redirect("dashboard:webhook-list")
    return render(request, "dashboard/webhook_delete.html", {"endpoint": endpoint})


@login_required
@require_safe
def webhook_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The endpoint, its actions, and its delivery log: newest first, paged, live or test
    (?mode=test), optionally one status (?status=)."""
    endpoint = _own_endpoint(request, pk)
    test = request.GET.get("mode") == "test"
    status = request.GET.get("status", "")
    if status not in DELIVERY_STATUS_LABELS:
        status = ""
    deliveries = selectors.webhook_deliveries(endpoint=endpoint, test=test, status=status or None)
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    query = QueryDict(mutable=True)
    if test:
        query["mode"] = "test"
    if status:
        query["status"] = status
    context = {
        "endpoint": endpoint,
        "event_labels": _event_labels(endpoint),
        "disabled_reason": DISABLED_REASON_LABELS.get(endpoint.disabled_reason or ""),
        "rotate_form": WebhookRotateForm(),
        "page": page,
        "rows": [
            (delivery, DELIVERY_STATUS_LABELS.get(delivery.status, delivery.status))
            for delivery in page.object_list
        ],
        "test_mode": test,
        "status": status,
        "statuses": list(DELIVERY_STATUS_LABELS.items()),
        "page_query": query.urlencode() + "&" if query else "",
    }
    return render(request, "dashboard/webhook_detail.html", context)


@login_required
@require_safe
def webhook_delivery(request: AuthenticatedRequest, pk: int, delivery_pk: int) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    delivery = _own_delivery(endpoint, delivery_pk)
    return render(
        request,
        "dashboard/webhook_delivery.html",
        {
            "endpoint": endpoint,
            "delivery": delivery,
            "status_label": DELIVERY_STATUS_LABELS.get(delivery.status, delivery.status),
            "attempts": selectors.webhook_attempts(delivery=delivery),
        },
    )


@login_required
@require_POST
def webhook_delivery_retry(
    request: AuthenticatedRequest, pk: int, delivery_pk: int
) -> HttpResponse:
    endpoint = _own_endpoint(request, pk)
    delivery = _own_delivery(endpoint, delivery_pk)
    try:
        services.webhook_delivery_retry(delivery=delivery)
    except WebhookDisabledError:
        messages.error(request, _("This webhook endpoint is disabled; enable it first."))
    else:
        messages.success(
            request,
            _("The delivery is queued again: it is sent within seconds, with the same event id."),
        )
    return redirect("dashboard:webhook-delivery", pk=endpoint.pk, delivery_pk=delivery.pk)
