from typing import cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_safe
from rest_framework.serializers import CharField

from accounts.quotas import daily_limits
from accounts.services import account_for_user
from api import serializers as api_serializers
from api.idempotency import MAX_KEY_LENGTH
from api.selectors import EVENTS_PAGE_SIZE
from api.throttling import AccountRateThrottle, ApiKeyRateThrottle
from api.views import SUPPRESSIONS_PAGE_SIZE
from dashboard.http import AuthenticatedRequest
from providers.models import Provider

# TODO(issue15): import from api.serializers (stand-ins until the server side lands)
MAX_ATTACHMENTS = 20
MAX_FILENAME_CHARS = 255
MAX_CONTENT_ID_CHARS = 100
MAX_HEADERS = 50
MAX_HEADERS_BYTES = 16 * 1024
MAX_HEADER_VALUE_CHARS = 998
BLOCKED_EXTENSIONS = frozenset(
    "ade adp app appx bas bat cab chm cmd com cpl dll dmg exe hta inf ins isp iso jar js jse lib"
    " lnk mde msc msi msix msp mst nsh pif ps1 reg scr sct shb sys vb vbe vbs vhd vxd wsc wsf"
    " wsh".split()
)
ALLOWED_HEADERS = (
    "In-Reply-To",
    "References",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "Auto-Submitted",
    "Precedence",
)
# TODO(issue15): settings.MAILPASS_MAX_ATTACHMENT_BYTES and
# providers.kinds.KINDS[kind].max_message_bytes
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_MESSAGE_BYTES: dict[str, int | None] = {
    "smtp": None,
    "mailpass": None,
    "amazon_ses": 40_000_000,
    "sendgrid": 30_000_000,
    "mailgun": 25_000_000,
    "postmark": 10_000_000,
    "resend": 40_000_000,
    "brevo": 20_000_000,
}

# The page is written once per language (templates/dashboard/docs/docs.<code>.html);
# a language without its own page gets the English one.
FALLBACK_TEMPLATE = "dashboard/docs/docs.en.html"


def _message_sizes() -> list[dict[str, object]]:
    """Per provider kind, its display label and the largest message it takes (bytes: None
    for an SMTP server, which sets its own limit), smallest first. megabytes: the size in
    the decimal megabytes the providers state it in, when it is a whole number of them."""
    rows = [(Provider.Kind(kind).label, MAX_MESSAGE_BYTES[kind]) for kind in Provider.Kind]
    rows.sort(key=lambda row: (row[1] is None, row[1] or 0))
    return [
        {
            "label": label,
            "bytes": size,
            "megabytes": size // 1_000_000 if size and size % 1_000_000 == 0 else None,
        }
        for label, size in rows
    ]


def _base_url(request: HttpRequest) -> str:
    """The instance's public address (what tracking links and webhook URLs use too), or,
    when it is not configured, the address this page was requested on."""
    return settings.MAILPASS_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


@login_required
@require_safe
def docs(request: AuthenticatedRequest) -> HttpResponse:
    language = translation.get_language() or settings.LANGUAGE_CODE
    throttle = ApiKeyRateThrottle()  # reads settings.MAILPASS_API_RATE_LIMIT
    account_throttle = AccountRateThrottle()  # MAILPASS_ACCOUNT_RATE_LIMIT
    account = account_for_user(user=request.user)
    quota = daily_limits(account)
    fields = api_serializers.MessageInputSerializer().fields
    # Both are CharFields (an EmailField is one), so they have a max_length.
    address = cast(CharField, fields["to"])
    from_name = cast(CharField, fields["from_name"])
    context = {
        "base_url": _base_url(request),
        "schema_url": reverse("api:schema"),
        "swagger_url": reverse("api:docs"),
        "message_id_domain": settings.MAILPASS_MESSAGE_ID_DOMAIN,
        # The numbers the API enforces, so the page cannot drift from them.
        "limits": {
            "address": address.max_length,
            "subject": api_serializers.MAX_SUBJECT_CHARS,
            "from_name": from_name.max_length,
            "body": api_serializers.MAX_BODY_CHARS,
            "recipients": api_serializers.MAX_RECIPIENTS,
            "tags": api_serializers.MAX_TAGS,
            "tag_chars": api_serializers.MAX_TAG_CHARS,
            "metadata_keys": api_serializers.MAX_METADATA_KEYS,
            "metadata_key_chars": api_serializers.MAX_METADATA_KEY_CHARS,
            "metadata_value_chars": api_serializers.MAX_METADATA_VALUE_CHARS,
            "metadata_bytes": api_serializers.MAX_METADATA_BYTES,
            "batch": api_serializers.MAX_BATCH,
            "request_bytes": settings.MAILPASS_MAX_REQUEST_BYTES,
            "idempotency_key": MAX_KEY_LENGTH,
            "suppressions_page": SUPPRESSIONS_PAGE_SIZE,
            "rate_requests": throttle.num_requests,
            "rate_seconds": throttle.duration,
            "account_rate_requests": account_throttle.num_requests,
            "account_rate_seconds": account_throttle.duration,
            "daily_recipients": quota.recipients,
            "daily_bytes": quota.bytes,
            "events_page": EVENTS_PAGE_SIZE,
            "tracking_days": settings.MAILPASS_TRACKING_LINK_DAYS,
            "attachments": MAX_ATTACHMENTS,
            "attachment_bytes": MAX_ATTACHMENT_BYTES,
            "filename_chars": MAX_FILENAME_CHARS,
            "content_id_chars": MAX_CONTENT_ID_CHARS,
            "blocked_extensions": sorted(BLOCKED_EXTENSIONS),
            "message_sizes": _message_sizes(),
            "headers": MAX_HEADERS,
            "headers_bytes": MAX_HEADERS_BYTES,
            "header_value_chars": MAX_HEADER_VALUE_CHARS,
            "allowed_headers": ALLOWED_HEADERS,
        },
        "tracking_enabled": account.tracking_enabled,
    }
    templates = [f"dashboard/docs/docs.{language}.html", FALLBACK_TEMPLATE]
    return render(request, templates, context)
