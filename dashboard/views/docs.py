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
from providers.kinds import KINDS, MB
from providers.models import Provider

# The page is written once per language (templates/dashboard/docs/docs.<code>.html);
# a language without its own page gets the English one.
FALLBACK_TEMPLATE = "dashboard/docs/docs.en.html"


def _message_sizes() -> list[dict[str, object]]:
    """Per provider kind, its display label and the largest message it takes (bytes: None
    for an SMTP server, which sets its own limit), smallest first. megabytes: the size in
    the decimal megabytes the providers state it in, when it is a whole number of them."""
    rows = [(Provider.Kind(kind).label, KINDS[kind].max_message_bytes) for kind in Provider.Kind]
    rows.sort(key=lambda row: (row[1] is None, row[1] or 0))
    return [
        {
            "label": label,
            "bytes": size,
            "megabytes": size // MB if size and size % MB == 0 else None,
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
            "attachments": api_serializers.MAX_ATTACHMENTS,
            "attachment_bytes": settings.MAILPASS_MAX_ATTACHMENT_BYTES,
            "filename_chars": api_serializers.MAX_FILENAME_CHARS,
            "content_id_chars": api_serializers.MAX_CONTENT_ID_CHARS,
            "blocked_extensions": sorted(api_serializers.BLOCKED_EXTENSIONS),
            "message_sizes": _message_sizes(),
            "headers": api_serializers.MAX_HEADERS,
            "headers_bytes": api_serializers.MAX_HEADERS_BYTES,
            "header_name_chars": api_serializers.MAX_HEADER_NAME_CHARS,
            "header_value_chars": api_serializers.MAX_HEADER_VALUE_CHARS,
            "allowed_headers": api_serializers.ALLOWED_HEADERS,
        },
        "tracking_enabled": account.tracking_enabled,
    }
    templates = [f"dashboard/docs/docs.{language}.html", FALLBACK_TEMPLATE]
    return render(request, templates, context)
