from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Account, Invitation, Membership
from accounts.services import (
    account_for_user,
    invitation_accept,
    invitation_create,
    invitation_get,
    invitation_revoke,
    member_remove,
)
from dashboard import mails
from dashboard.forms import InvitationAcceptForm, InvitationForm
from dashboard.http import AuthenticatedRequest, link_invalid, log_in


def _is_owner(request: AuthenticatedRequest, account: Account) -> bool:
    return Membership.objects.filter(
        account=account, user=request.user, role=Membership.Role.OWNER
    ).exists()


@never_cache  # the answer to an invitation holds its link: no cache may keep a copy
@login_required
@require_http_methods(["GET", "POST"])
def team(request: AuthenticatedRequest) -> HttpResponse:
    """The account's members and open invitations; its owner invites and removes here."""
    account = account_for_user(user=request.user)
    owner = _is_owner(request, account)
    form = InvitationForm(request.POST or None)
    new_link = None
    if request.method == "POST" and owner and form.is_valid():
        invitation, token = invitation_create(
            account=account, email=form.cleaned_data["email"], invited_by=request.user
        )
        # The link lives in this one response and in the invitee's mail, nowhere else.
        new_link = settings.MAILPASS_PUBLIC_URL + reverse(
            "dashboard:invitation-accept", kwargs={"token": token}
        )
        if mails.relay_configured():
            mails.send_invitation(
                email=invitation.email,
                token=token,
                account_name=account.name,
                inviter=request.user.get_username(),
                language=get_language(),
            )
        form = InvitationForm()
    memberships = account.memberships.select_related("user").order_by("created_at", "id")
    return render(
        request,
        "dashboard/team.html",
        {
            "account": account,
            "is_owner": owner,
            "memberships": memberships,
            "invitations": account.invitations.filter(accepted_at__isnull=True),
            "form": form,
            "new_link": new_link,
            "mailed": mails.relay_configured(),
        },
    )


@login_required
@require_POST
def invitation_withdraw(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    account = account_for_user(user=request.user)
    invitation = get_object_or_404(Invitation, pk=pk, account=account, accepted_at__isnull=True)
    if _is_owner(request, account):
        invitation_revoke(invitation=invitation)
        messages.success(
            request, _("The invitation to %(email)s is withdrawn.") % {"email": invitation.email}
        )
    return redirect("dashboard:team")


@login_required
@require_POST
def member_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    account = account_for_user(user=request.user)
    membership = get_object_or_404(Membership, pk=pk, account=account)
    if _is_owner(request, account) and member_remove(account=account, user=membership.user):
        messages.success(
            request,
            _("%(user)s is no longer a member and can no longer log in.")
            % {"user": membership.user.get_username()},
        )
    return redirect("dashboard:team")


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link: a new user chooses a password and joins the account."""
    invitation = invitation_get(token=token)
    if invitation is None:
        reason = _("The invitation was used already, withdrawn, or is older than seven days.")
        return link_invalid(request, reason, status=404)
    if request.user.is_authenticated:
        reason = _(
            "You are logged in as a MailPass user already, and a user belongs to one account. "
            "Log out to accept the invitation as the new user it is for."
        )
        return link_invalid(request, reason, status=409)
    form = InvitationAcceptForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        user = invitation_accept(invitation=invitation, password=form.cleaned_data["password1"])
        if user is None:
            reason = _(
                "This address has a MailPass user already, and a user belongs to one account. "
                "Ask for an invitation to another address."
            )
            return link_invalid(request, reason, status=409)
        log_in(request, user)
        messages.success(
            request, _("Welcome to %(account)s on MailPass.") % {"account": invitation.account}
        )
        return redirect("dashboard:overview")
    return render(
        request, "registration/invitation_accept.html", {"form": form, "invitation": invitation}
    )
