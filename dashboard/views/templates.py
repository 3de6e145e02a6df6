"""The Templates pages: the list, a form to create and edit (a change of the content is a
new version), a preview filled with the sample variables, the versions with "roll back",
delete, and a test email through the account's default provider.

The preview is a sandboxed frame, like the message page's: the form's Preview button posts
the draft into it (formtarget), so nothing is saved and no script is needed.
"""

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from rest_framework.exceptions import ValidationError

from accounts.services import account_for_user
from api import selectors, services
from api.errors import (
    DomainNotVerifiedError,
    NoProviderError,
    RecipientSuppressedError,
    SendFailedError,
    SendLimitExceededError,
    TemplateInUseError,
)
from api.models import Template, TemplateVersion
from api.serializers import MessageInputSerializer
from dashboard.attempts import tests_used_up
from dashboard.forms import TemplateContentForm, TemplateForm, TestEmailForm, error_texts
from dashboard.http import AuthenticatedRequest
from dashboard.preview import preview_response
from dashboard.views.domains import unverified_domain_text

TEMPLATES_PER_PAGE = 50
VERSIONS_SHOWN = 100


def _own_template(request: AuthenticatedRequest, pk: int) -> Template:
    """The template `pk` of the user's account; another account's is a 404."""
    try:
        return selectors.template_get_for_account(
            account=account_for_user(user=request.user), reference=str(pk)
        )
    except Template.DoesNotExist as err:
        raise Http404 from err


def _version(template: Template, number: int | None = None) -> TemplateVersion:
    try:
        return services.template_version_get(template=template, number=number)
    except TemplateVersion.DoesNotExist as err:
        raise Http404 from err


def _as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


@login_required
@require_safe
def template_list(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    page = Paginator(selectors.template_list(account=account), TEMPLATES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "dashboard/template_list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def template_create(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    form = TemplateForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            template = form.save(user=request.user)
        except ValidationError as err:
            form.add_service_errors(err)
        else:
            messages.success(request, _("Template %(name)s created.") % {"name": template.name})
            return redirect("dashboard:template-update", pk=template.pk)
    return render(request, "dashboard/template_form.html", {"form": form, "template": None})


@login_required
@require_http_methods(["GET", "POST"])
def template_update(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    template = _own_template(request, pk)
    latest = _version(template)
    form = TemplateForm(
        request.POST or None, account=template.account, template=template, version=latest
    )
    if request.method == "POST" and form.is_valid():
        try:
            form.save(user=request.user)
        except ValidationError as err:
            form.add_service_errors(err)
        else:
            template.refresh_from_db()
            if template.latest_version != latest.number:
                text = _("Saved as version %(version)s.") % {"version": template.latest_version}
            else:
                text = _(
                    "Saved. The subject, the bodies and the defaults are as they were, so there "
                    "is no new version."
                )
            messages.success(request, text)
            return redirect("dashboard:template-update", pk=template.pk)
    versions = selectors.template_versions(template=template, most=VERSIONS_SHOWN)
    context = {
        "form": form,
        "template": template,
        "versions": versions,
        "test_form": TestEmailForm(initial={"to_email": request.user.email}),
        "send_url": settings.MAILPASS_PUBLIC_URL + reverse("api:mail-send"),
        "send_example": _as_json(
            {
                "to": "user@example.com",
                "template": {"alias": template.alias, "variables": template.sample_variables},
            }
        ),
    }
    return render(request, "dashboard/template_form.html", context)


def _preview_page(request: AuthenticatedRequest, context: dict[str, Any]) -> HttpResponse:
    return preview_response(render_to_string("dashboard/template_preview.html", context, request))


def _rendered_preview(
    request: AuthenticatedRequest, version: TemplateVersion, variables: dict[str, Any]
) -> HttpResponse:
    """The preview document of `version` filled with `variables`, or what stops it."""
    try:
        rendered = services.template_render(version=version, variables=variables)
    except ValidationError as err:
        return _preview_page(request, {"errors": error_texts(err.detail)})
    return _preview_page(request, {"rendered": rendered})


@login_required
@require_http_methods(["GET", "POST"])
@xframe_options_sameorigin
def template_preview(request: AuthenticatedRequest) -> HttpResponse:
    """The draft of the form (POST) filled with its sample variables; saves nothing. A GET
    is the empty frame of a template not saved yet."""
    if request.method == "GET":
        return _preview_page(request, {"waiting": True})
    form = TemplateContentForm(request.POST)
    if not form.is_valid():
        errors = [
            f"{form.fields[name].label}: {error}" if name in form.fields else str(error)
            for name, field_errors in form.errors.items()
            for error in field_errors
        ]
        return _preview_page(request, {"errors": errors})
    return _rendered_preview(request, form.draft(), form.cleaned_data["sample_variables"])


@login_required
@require_safe
@xframe_options_sameorigin
def template_html(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A saved version (?version=N, else the latest) filled with the sample variables."""
    template = _own_template(request, pk)
    number = request.GET.get("version", "")
    version = _version(template, int(number) if number.isdecimal() and len(number) <= 9 else None)
    return _rendered_preview(request, version, template.sample_variables)


@login_required
@require_safe
def template_version(request: AuthenticatedRequest, pk: int, number: int) -> HttpResponse:
    template = _own_template(request, pk)
    version = _version(template, number)
    return render(
        request,
        "dashboard/template_version.html",
        {"template": template, "version": version, "defaults": _as_json(version.defaults)},
    )


@login_required
@require_POST
def template_roll_back(request: AuthenticatedRequest, pk: int, number: int) -> HttpResponse:
    template = _own_template(request, pk)
    _version(template, number)  # a 404 for a version the template does not have
    latest = template.latest_version
    services.template_roll_back(template=template, number=number, user=request.user)
    if template.latest_version == latest:
        text = _("Version %(old)s says what the latest version says: nothing changed.")
    else:
        text = _("The content of version %(old)s is the latest again, as version %(new)s.")
    messages.success(request, text % {"old": number, "new": template.latest_version})
    return redirect("dashboard:template-update", pk=template.pk)


@login_required
@require_http_methods(["GET", "POST"])
def template_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    template = _own_template(request, pk)
    if request.method == "POST":
        try:
            services.template_delete(template=template)
        except TemplateInUseError as err:
            count = err.details["scheduled"]
            messages.error(
                request,
                ngettext(
                    "%(count)s scheduled message uses this template: cancel it, or wait until "
                    "it is sent, before you delete the template.",
                    "%(count)s scheduled messages use this template: cancel them, or wait "
                    "until they are sent, before you delete the template.",
                    count,
                )
                % {"count": count},
            )
            return redirect("dashboard:template-update", pk=template.pk)
        messages.success(request, _("Template %(name)s deleted.") % {"name": template.name})
        return redirect("dashboard:template-list")
    return render(request, "dashboard/template_delete.html", {"template": template})


@login_required
@require_POST
def template_test_email(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Send the latest version, filled with the sample variables, to the address typed, now,
    through the account's default provider: as the API would, logged and tagged "test"."""
    template = _own_template(request, pk)
    back = redirect("dashboard:template-update", pk=template.pk)
    if tests_used_up(request, account_id=template.account_id):
        return back
    form = TestEmailForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("to_email", []):
            messages.error(request, str(error))
        return back
    to_email = form.cleaned_data["to_email"]
    values = {"to": to_email}
    request_data = {
        "to": to_email,
        "template": {"id": template.pk, "variables": template.sample_variables},
        "tags": ["test"],
        "track_opens": False,
        "track_clicks": False,
    }
    not_sent = _("The test email was not sent: %(error)s")
    serializer = MessageInputSerializer(data=request_data)
    if not serializer.is_valid():
        messages.error(request, not_sent % {"error": " ".join(error_texts(serializer.errors))})
        return back
    try:
        message = services.message_send(
            account=template.account, api_key=None, data=serializer.validated_data
        )
    except NoProviderError:
        messages.error(
            request,
            _(
                "Your account has no default provider, so no test email was sent. Add one "
                "under SMTP settings."
            ),
        )
    except SendFailedError as err:
        values["error"] = err.details["provider_error"]
        messages.error(request, _("The test email to %(to)s failed: %(error)s") % values)
    except SendLimitExceededError:
        messages.error(
            request, _("A sending limit is reached: no test email was sent. Try again later.")
        )
    except RecipientSuppressedError:
        messages.error(
            request,
            _("%(to)s is on your suppression list, so no test email was sent to it.") % values,
        )
    except DomainNotVerifiedError as err:
        messages.error(request, unverified_domain_text(err.details["domain"]))
    except ValidationError as err:
        messages.error(request, not_sent % {"error": " ".join(error_texts(err.detail))})
    else:
        values["name"] = message.provider.name if message.provider else ""
        messages.success(
            request,
            _("%(name)s accepted the test email to %(to)s. It is in the message log.") % values,
        )
    return back
