import datetime as dt
import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST, require_safe
from rest_framework.exceptions import ValidationError

from accounts.services import account_for_user
from api import selectors, services
from api.attachments import content_of, prefetch_attachments
from api.emails import headers_as_sent
from api.errors import MessageNotScheduledError
from api.models import Message, MessageAttachment, MessageEvent
from api.services import messages_requeue_failed
from api.services.scheduling import HORIZON
from dashboard.forms import RescheduleForm, error_texts
from dashboard.http import AuthenticatedRequest
from dashboard.preview import preview_html, preview_response

MESSAGES_PER_PAGE = 50
FAILED_COUNT_CAP = 1000  # the page says "1,000+" rather than count them all

# Keyed by str: the model fields hold plain strings.
STATUS_LABELS: dict[str, Promise] = {
    Message.Status.SCHEDULED: _("Scheduled"),
    Message.Status.QUEUED: _("Queued"),
    Message.Status.SENDING: _("Sending"),
    Message.Status.SENT: _("Sent"),
    Message.Status.FAILED: _("Failed"),
    Message.Status.SUPPRESSED: _("Suppressed"),
    Message.Status.DELIVERED: _("Delivered"),
    Message.Status.BOUNCED: _("Bounced"),
    Message.Status.COMPLAINED: _("Complained"),
    Message.Status.CANCELLED: _("Cancelled"),
}
EVENT_LABELS: dict[str, Promise] = {
    MessageEvent.Type.DEFERRED: _("Deferred"),
    MessageEvent.Type.OPEN: _("Opened"),
    MessageEvent.Type.CLICK: _("Clicked"),
    MessageEvent.Type.DELIVERED: _("Delivered"),
    MessageEvent.Type.BOUNCED: _("Bounced"),
    MessageEvent.Type.COMPLAINED: _("Complained"),
    MessageEvent.Type.REJECTED: _("Rejected"),
    MessageEvent.Type.FAILED: _("Failed"),
    MessageEvent.Type.UNSUBSCRIBED: _("Unsubscribed"),
    MessageEvent.Type.FAILOVER: _("Failover"),
    MessageEvent.Type.SCHEDULED: _("Scheduled"),
    MessageEvent.Type.CANCELLED: _("Cancelled"),
}
# The badge colour of an event: the message status it stands for, where there is one.
EVENT_BADGES: dict[str, str] = {
    MessageEvent.Type.DELIVERED: "delivered",
    MessageEvent.Type.BOUNCED: "bounced",
    MessageEvent.Type.COMPLAINED: "complained",
    MessageEvent.Type.REJECTED: "failed",
    MessageEvent.Type.FAILED: "failed",
    MessageEvent.Type.UNSUBSCRIBED: "suppressed",
    MessageEvent.Type.DEFERRED: "queued",
    MessageEvent.Type.SCHEDULED: "scheduled",
    MessageEvent.Type.CANCELLED: "cancelled",
}
FAILURE_REASON_LABELS: dict[str, Promise] = {
    Message.FailureReason.REJECTED: _("Rejected by the provider"),
    Message.FailureReason.TEMPORARY: _("Temporary failure"),
    Message.FailureReason.EXPIRED: _("Retries ran out"),
}


class MessageFilterForm(forms.Form):
    # Live or test messages: the switch above the filters; kept through filtering and pages.
    mode = forms.ChoiceField(
        required=False, choices=[("", "live"), ("test", "test")], widget=forms.HiddenInput
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any status")), *STATUS_LABELS.items()],
    )
    recipient = forms.CharField(
        label=_("Recipient"),
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "name@example.com"}),
    )
    tag = forms.CharField(label=_("Tag"), required=False, max_length=100)
    q = forms.CharField(
        label=_("Subject contains"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    date_from = forms.DateField(
        label=pgettext_lazy("date filter", "From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def selector_filters(self) -> dict:
        """The cleaned filters as message_list_for_account's arguments (dates in the
        current time zone, both days included; CharFields strip spaces)."""
        data = self.cleaned_data
        start, end = data.get("date_from"), data.get("date_to")
        return {
            "test": data.get("mode") == "test",
            "status": data.get("status") or None,
            "recipient": data.get("recipient") or None,
            "tag": data.get("tag") or None,
            "subject": data.get("q") or None,
            "created_from": _day_start(start) if start else None,
            "created_before": _day_start(end + dt.timedelta(days=1)) if end else None,
        }


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _cursor_param(cursor: selectors.Cursor) -> str:
    created_at, pk = cursor
    return f"{(created_at - _EPOCH) // dt.timedelta(microseconds=1)}.{pk}"


def _parse_cursor(value: str | None) -> selectors.Cursor | None:
    """A cursor from the URL; anything that is not one starts at the newest page."""
    if not value or len(value) > 40:
        return None
    micros, _dot, pk = value.partition(".")
    if not (micros.lstrip("-").isdigit() and pk.isdigit()):
        return None
    try:
        return _EPOCH + dt.timedelta(microseconds=int(micros)), int(pk)
    except OverflowError:
        return None


def _page_link(query: QueryDict, name: str, cursor: selectors.Cursor | None) -> str | None:
    if cursor is None:
        return None
    params = query.copy()
    params.pop("before", None)
    params.pop("after", None)
    params[name] = _cursor_param(cursor)
    return "?" + params.urlencode()


@login_required
def message_list(request: AuthenticatedRequest) -> HttpResponse:
    account = account_for_user(user=request.user)
    form = MessageFilterForm(request.GET)
    page = None
    if form.is_valid():
        page = selectors.message_list_for_account(
            account=account,
            **form.selector_filters(),
            before=_parse_cursor(request.GET.get("before")),
            after=_parse_cursor(request.GET.get("after")),
            limit=MESSAGES_PER_PAGE,
        )
    failed_count = selectors.message_failed_count(account=account, cap=FAILED_COUNT_CAP + 1)
    context = {
        "form": form,
        "test_mode": request.GET.get("mode") == "test",
        "page": page,
        "rows": [(m, STATUS_LABELS.get(m.status, m.status)) for m in page.messages] if page else [],
        "filtered": any(request.GET.get(name) for name in form.fields if name != "mode"),
        "older_url": _page_link(request.GET, "before", page.older) if page else None,
        "newer_url": _page_link(request.GET, "after", page.newer) if page else None,
        "scan_window": selectors.MESSAGE_SCAN_WINDOW,
        "failed_count": min(failed_count, FAILED_COUNT_CAP),
        "failed_capped": failed_count > FAILED_COUNT_CAP,
    }
    return render(request, "dashboard/message_list.html", context)


@login_required
def message_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    account = account_for_user(user=request.user)
    message = get_object_or_404(
        Message.objects.select_related("provider", "template_version__template"),
        pk=pk,
        account=account,
    )
    after = request.GET.get("events_after", "")
    page, events_next = selectors.message_events(
        message=message, after=int(after) if after.isdecimal() and len(after) <= 18 else None
    )
    events = [
        (
            event,
            EVENT_LABELS.get(event.event_type, event.event_type),
            EVENT_BADGES.get(event.event_type, ""),
        )
        for event in page
    ]
    prefetch_attachments([message])
    context = {
        "message": message,
        "attachments": message.attachment_list,
        "status_label": STATUS_LABELS.get(message.status, message.status),
        "failure_reason_label": FAILURE_REASON_LABELS.get(message.failure_reason or "", ""),
        "headers": headers_as_sent(message),
        "metadata": [
            (key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for key, value in sorted(message.metadata.items())
        ],
        "events": events,
        "events_next": events_next,
    }
    if message.status == Message.Status.SCHEDULED:
        context["reschedule_form"] = _reschedule_form(
            initial={"scheduled_at": timezone.localtime(message.scheduled_at)}
        )
    return render(request, "dashboard/message_detail.html", context)


def _reschedule_form(data: QueryDict | None = None, **kwargs: object) -> RescheduleForm:
    """The reschedule form, its input bounded as message_reschedule bounds the time (the
    browser then checks it too; the service has the last word)."""
    form = RescheduleForm(data, **kwargs)
    now = timezone.localtime().replace(second=0, microsecond=0)
    form.fields["scheduled_at"].widget.attrs.update(
        {
            "min": (now + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
            "max": (now + HORIZON).strftime("%Y-%m-%dT%H:%M"),
        }
    )
    return form


def _not_scheduled(err: MessageNotScheduledError) -> str:
    status = err.details["status"]
    return _(
        "This message is no longer scheduled (it is %(status)s now): it cannot be cancelled "
        "or moved."
    ) % {"status": STATUS_LABELS.get(status, status)}


def _own_message(request: AuthenticatedRequest, pk: int) -> Message:
    return get_object_or_404(Message, pk=pk, account=account_for_user(user=request.user))


@login_required
@require_POST
def message_cancel(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    message = _own_message(request, pk)
    try:
        services.message_cancel(message=message)
    except MessageNotScheduledError as err:
        messages.error(request, _not_scheduled(err))
    else:
        messages.success(request, _("The message is cancelled: it will not be sent."))
    return redirect("dashboard:message-detail", pk=message.pk)


@login_required
@require_POST
def message_reschedule(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    message = _own_message(request, pk)
    form = _reschedule_form(request.POST)
    if not form.is_valid():
        for error in form.errors.get("scheduled_at", []):
            messages.error(request, str(error))
        return redirect("dashboard:message-detail", pk=message.pk)
    try:
        services.message_reschedule(message=message, scheduled_at=form.cleaned_data["scheduled_at"])
    except MessageNotScheduledError as err:
        messages.error(request, _not_scheduled(err))
    except ValidationError as err:
        messages.error(
            request,
            _("The new time was refused: %(error)s") % {"error": " ".join(error_texts(err.detail))},
        )
    else:
        assert message.scheduled_at is not None
        messages.success(
            request,
            _("The message now waits until %(time)s.")
            % {"time": date_format(timezone.localtime(message.scheduled_at), "DATETIME_FORMAT")},
        )
    return redirect("dashboard:message-detail", pk=message.pk)


@login_required
@xframe_options_sameorigin
def message_html(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    account = account_for_user(user=request.user)
    message = get_object_or_404(
        Message.objects.only("id", "account_id", "html", "attachment_count"),
        pk=pk,
        account=account,
    )
    return preview_response(preview_html(message))


@login_required
@require_safe
def message_attachment_download(
    request: AuthenticatedRequest, pk: int, position: int
) -> HttpResponse:
    try:
        attachment = selectors.message_attachment_get_for_account(
            account=account_for_user(user=request.user), message_pk=pk, position=position
        )
    except MessageAttachment.DoesNotExist as err:
        raise Http404 from err
    # Always a download of opaque bytes, whatever type the sender gave it: a file that a
    # browser rendered here (HTML, SVG) would run on the dashboard's origin.
    response = HttpResponse(content_of(attachment), content_type="application/octet-stream")
    # filename* (RFC 5987) for a name that is not plain ASCII; every file has a name.
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=True, filename=attachment.filename) or "attachment"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def requeue_failed(request: AuthenticatedRequest) -> HttpResponse:
    count = messages_requeue_failed(account=account_for_user(user=request.user))
    if count:
        messages.success(
            request,
            ngettext(
                "%(count)s failed message is back in the queue.",
                "%(count)s failed messages are back in the queue.",
                count,
            )
            % {"count": intcomma(count)},
        )
    else:
        messages.info(request, _("There were no failed messages to retry."))
    return redirect("dashboard:message-list")
