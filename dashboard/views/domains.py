"""The Domains pages: the account's sender domains, a form to add one, each domain's DNS
records to publish with what the last check found, "Check now", "Rotate DKIM key" and
delete.

Every domain is looked up within the user's account: another account's is a 404. The pages
call the domain services the API calls (providers.domains); they show public keys only (a
private key is in no record and on no page).
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.services import account_for_user
from dashboard.forms import DomainForm, DomainRotateForm
from dashboard.http import AuthenticatedRequest
from providers import dns, domains
from providers.models import DkimKey, SenderDomain

DOMAINS_PER_PAGE = 50

# A domain's status (SenderDomain.status) and a record's (records_of(…)["status"]).
STATUS_LABELS: dict[str, Promise] = {
    SenderDomain.Status.PENDING: gettext_lazy("pending"),
    SenderDomain.Status.VERIFIED: gettext_lazy("verified"),
    SenderDomain.Status.FAILED: gettext_lazy("failed"),
}
RECORD_STATUS_LABELS: dict[str, Promise] = {
    "pending": gettext_lazy("not checked yet"),
    "verified": gettext_lazy("found"),
    "failed": gettext_lazy("failed"),
}
# The state of a DKIM record's key (records list keys in these two states only).
KEY_STATE_LABELS: dict[str, Promise] = {
    DkimKey.State.ACTIVE: gettext_lazy("signing"),
    DkimKey.State.PENDING: gettext_lazy("waiting for its record"),
}
# What a record is for; names of standards, the same in every language.
PURPOSE_LABELS = {"dkim": "DKIM", "spf": "SPF", "dmarc": "DMARC"}


def unverified_domain_text(domain: str) -> str:
    """Why a test email (of a provider, of a template) was not sent: DOMAIN_NOT_VERIFIED."""
    return _(
        "No test email was sent: %(domain)s is not a verified domain of your account, "
        "and this mail may only come from a verified one. Add and verify it under "
        "Domains, or send from an address of a verified domain."
    ) % {"domain": domain}


def _own_domain(request: AuthenticatedRequest, pk: int) -> SenderDomain:
    """The domain `pk` of the user's account; another account's is a 404."""
    try:
        return domains.domain_get(account_for_user(user=request.user), pk)
    except SenderDomain.DoesNotExist as err:
        raise Http404 from err


def _rows(domain: SenderDomain) -> list[dict[str, Any]]:
    """The domain's records as the table shows them, each with its labels."""
    rows = []
    for record in domains.records_of(domain):
        purpose, status = str(record["purpose"]), str(record["status"])
        key_state = str(record.get("key_state") or "")
        rows.append(
            {
                **record,
                "purpose_label": PURPOSE_LABELS.get(purpose, purpose),
                "status_label": RECORD_STATUS_LABELS.get(status, status),
                "key_state_label": KEY_STATE_LABELS.get(key_state, key_state),
            }
        )
    return rows


@login_required
@require_safe
def domain_list(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    page = Paginator(domains.domain_list(account), DOMAINS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = [
        (domain, STATUS_LABELS.get(domain.status, domain.status), domains.is_signing(domain))
        for domain in page
    ]
    return render(request, "dashboard/domain_list.html", {"page": page, "rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def domain_create(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    form = DomainForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            domain = domains.domain_create(
                account=account,
                name=form.cleaned_data["name"],
                ed25519=form.cleaned_data["ed25519"],
            )
        except ValidationError as err:
            form.add_service_errors(err)
        else:
            messages.success(
                request,
                _("%(name)s is added. Publish the records below at your DNS host, then check them.")
                % {"name": domain.name},
            )
            return redirect("dashboard:domain-detail", pk=domain.pk)
    return render(request, "dashboard/domain_form.html", {"form": form})


@login_required
@require_safe
def domain_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    domain = _own_domain(request, pk)
    rows = _rows(domain)
    context = {
        "domain": domain,
        "status_label": STATUS_LABELS.get(domain.status, domain.status),
        "signing": domains.is_signing(domain),
        "rows": rows,
        "rotating": any(row.get("key_state") == "pending" for row in rows),
        "has_spf": any(row["purpose"] == "spf" for row in rows),
        "rotate_form": DomainRotateForm(initial={"ed25519": domain.ed25519}),
    }
    return render(request, "dashboard/domain_detail.html", context)


@login_required
@require_POST
def domain_verify(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Check the domain's records now; the domain page then shows what was found."""
    domain = _own_domain(request, pk)
    try:
        domain = domains.domain_verify(domain)
    except dns.DnsUnavailableError:
        messages.error(
            request,
            _(
                "The DNS could not be asked just now, so nothing changed. MailPass tries again "
                "in a few minutes; you can also check again yourself."
            ),
        )
    else:
        if domain.status == SenderDomain.Status.VERIFIED:
            text = _("Every record checked out: %(name)s is verified.")
            messages.success(request, text % {"name": domain.name})
        else:
            text = _(
                "%(name)s is not verified: the table below says what was found for each record."
            )
            messages.error(request, text % {"name": domain.name})
    return redirect("dashboard:domain-detail", pk=domain.pk)


@login_required
@require_POST
def domain_rotate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    domain = _own_domain(request, pk)
    form = DomainRotateForm(request.POST)
    ed25519 = form.cleaned_data["ed25519"] if form.is_valid() else None
    already = any(
        record.get("key_state") == DkimKey.State.PENDING for record in domains.records_of(domain)
    )
    domain = domains.domain_rotate(domain, ed25519=ed25519)
    if already:
        messages.info(
            request,
            _(
                "A rotation is already under way: no new keys are made. Publish the records "
                "marked “waiting for its record”, then check now."
            ),
        )
    else:
        messages.success(
            request,
            _(
                "New keys are made. Publish their records (marked “waiting for its record”) "
                "next to the old ones; once a check finds them, MailPass signs with the new keys."
            ),
        )
    return redirect("dashboard:domain-detail", pk=domain.pk)


@login_required
@require_http_methods(["GET", "POST"])
def domain_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    domain = _own_domain(request, pk)
    if request.method == "POST":
        domains.domain_delete(domain)
        messages.success(request, _("The domain %(name)s is deleted.") % {"name": domain.name})
        return redirect("dashboard:domain-list")
    return render(request, "dashboard/domain_delete.html", {"domain": domain})
