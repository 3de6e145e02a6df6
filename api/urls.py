from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation

from api.errors import api_not_found
from api.views import (
    DomainViewSet,
    HealthView,
    MailViewSet,
    SuppressionViewSet,
    TemplateViewSet,
    WebhookViewSet,
)

app_name = "api"


class MessageIdConverter:
    """A Message-ID as a path segment: it holds an @ (<random.unixtime@domain>), which tells
    /mail/<message_id> apart from a mistyped /mail/sendd (a JSON 404, as any unknown path)."""

    regex = r"[^/]*@[^/]*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(MessageIdConverter, "message_id")

urlpatterns = [
    path("v1/mail/send", MailViewSet.as_view({"post": "send"}), name="mail-send"),
    path("v1/mail/send-batch", MailViewSet.as_view({"post": "send_batch"}), name="mail-send-batch"),
    path(
        "v1/mail/status/<str:message_id>",
        MailViewSet.as_view({"get": "status"}),
        name="mail-status",
    ),
    path(
        "v1/mail/<message_id:message_id>/cancel",
        MailViewSet.as_view({"post": "cancel"}),
        name="mail-cancel",
    ),
    path(
        "v1/mail/<message_id:message_id>",
        MailViewSet.as_view({"patch": "reschedule"}),
        name="mail-reschedule",
    ),
    path(
        "v1/templates",
        TemplateViewSet.as_view({"get": "list", "post": "create"}),
        name="templates",
    ),
    path(
        "v1/templates/<str:reference>",
        TemplateViewSet.as_view(
            {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
        ),
        name="template",
    ),
    path(
        "v1/templates/<str:reference>/render",
        TemplateViewSet.as_view({"post": "render"}),
        name="template-render",
    ),
    path(
        "v1/suppressions",
        SuppressionViewSet.as_view({"get": "list", "post": "create"}),
        name="suppressions",
    ),
    path(
        # path, not str: an address may hold a "/" ("a/b@example.com" is valid).
        "v1/suppressions/<path:email>",
        SuppressionViewSet.as_view({"delete": "destroy"}),
        name="suppression",
    ),
    path("v1/webhooks", WebhookViewSet.as_view({"get": "list", "post": "create"}), name="webhooks"),
    path(
        "v1/webhooks/<str:id>",
        WebhookViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="webhook",
    ),
    path(
        "v1/webhooks/<str:id>/rotate-secret",
        WebhookViewSet.as_view({"post": "rotate_secret"}),
        name="webhook-rotate-secret",
    ),
    path(
        "v1/webhooks/<str:id>/test", WebhookViewSet.as_view({"post": "test"}), name="webhook-test"
    ),
    path(
        "v1/webhooks/<str:id>/deliveries",
        WebhookViewSet.as_view({"get": "deliveries"}),
        name="webhook-deliveries",
    ),
    path(
        "v1/webhooks/<str:id>/deliveries/<str:delivery_id>/retry",
        WebhookViewSet.as_view({"post": "retry"}),
        name="webhook-delivery-retry",
    ),
    path("v1/domains", DomainViewSet.as_view({"get": "list", "post": "create"}), name="domains"),
    path(
        "v1/domains/<str:id>",
        DomainViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="domain",
    ),
    path(
        "v1/domains/<str:id>/verify",
        DomainViewSet.as_view({"post": "verify"}),
        name="domain-verify",
    ),
    path(
        "v1/domains/<str:id>/rotate",
        DomainViewSet.as_view({"post": "rotate"}),
        name="domain-rotate",
    ),
    path("v1/health", HealthView.as_view(), name="health"),
    # DRF's own negotiation, not the API's JSON-only one: the schema comes as YAML or JSON
    # (?format=json), and the docs page is HTML.
    path(
        "schema/",
        SpectacularAPIView.as_view(content_negotiation_class=DefaultContentNegotiation),
        name="schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(
            url_name="api:schema", content_negotiation_class=DefaultContentNegotiation
        ),
        name="docs",
    ),
    # Anything else under /api/ is a JSON 404, never Django's HTML page.
    re_path(r"^.*$", api_not_found),
]
