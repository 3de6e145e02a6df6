from django.urls import path

from dashboard.views import (
    account,
    docs,
    domains,
    keys,
    messages,
    overview,
    providers,
    suppressions,
    team,
    templates,
    webhooks,
)

app_name = "dashboard"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("signup/", account.signup, name="signup"),
    path("signup/confirm/<str:token>/", account.signup_confirm, name="signup-confirm"),
    path("settings/", account.account_settings, name="account-settings"),
    path("team/", team.team, name="team"),
    path(
        "team/invitations/<int:pk>/withdraw/",
        team.invitation_withdraw,
        name="invitation-withdraw",
    ),
    path("team/members/<int:pk>/remove/", team.member_delete, name="member-remove"),
    path("invitation/<str:token>/", team.invitation_accept_view, name="invitation-accept"),
    path("keys/", keys.key_list, name="key-list"),
    path("keys/<int:pk>/revoke/", keys.key_revoke, name="key-revoke"),
    path("providers/", providers.provider_list, name="provider-list"),
    path("providers/new/", providers.provider_create, name="provider-create"),
    path("providers/<int:pk>/edit/", providers.provider_update, name="provider-update"),
    path("providers/<int:pk>/delete/", providers.provider_delete, name="provider-delete"),
    path(
        "providers/<int:pk>/default/", providers.provider_set_default, name="provider-set-default"
    ),
    path(
        "providers/<int:pk>/test-email/", providers.provider_test_email, name="provider-test-email"
    ),
    path(
        "providers/<int:pk>/test-connection/",
        providers.provider_test_connection,
        name="provider-test-connection",
    ),
    path("messages/", messages.message_list, name="message-list"),
    path("messages/<int:pk>/", messages.message_detail, name="message-detail"),
    path("messages/<int:pk>/html/", messages.message_html, name="message-html"),
    path(
        "messages/<int:pk>/attachments/<int:position>/",
        messages.message_attachment_download,
        name="message-attachment",
    ),
    path("messages/<int:pk>/cancel/", messages.message_cancel, name="message-cancel"),
    path("messages/<int:pk>/reschedule/", messages.message_reschedule, name="message-reschedule"),
    path("messages/requeue-failed/", messages.requeue_failed, name="requeue-failed"),
    path("templates/", templates.template_list, name="template-list"),
    path("templates/new/", templates.template_create, name="template-create"),
    path("templates/preview/", templates.template_preview, name="template-preview"),
    path("templates/<int:pk>/", templates.template_update, name="template-update"),
    path("templates/<int:pk>/html/", templates.template_html, name="template-html"),
    path("templates/<int:pk>/delete/", templates.template_delete, name="template-delete"),
    path(
        "templates/<int:pk>/test-email/",
        templates.template_test_email,
        name="template-test-email",
    ),
    path(
        "templates/<int:pk>/versions/<int:number>/",
        templates.template_version,
        name="template-version",
    ),
    path(
        "templates/<int:pk>/versions/<int:number>/roll-back/",
        templates.template_roll_back,
        name="template-roll-back",
    ),
    path("webhook-endpoints/", webhooks.webhook_list, name="webhook-list"),
    path("webhook-endpoints/new/", webhooks.webhook_create, name="webhook-create"),
    path("webhook-endpoints/<int:pk>/", webhooks.webhook_detail, name="webhook-detail"),
    path("webhook-endpoints/<int:pk>/edit/", webhooks.webhook_update, name="webhook-update"),
    path("webhook-endpoints/<int:pk>/enable/", webhooks.webhook_enable, name="webhook-enable"),
    path("webhook-endpoints/<int:pk>/disable/", webhooks.webhook_disable, name="webhook-disable"),
    path(
        "webhook-endpoints/<int:pk>/rotate-secret/",
        webhooks.webhook_rotate_secret,
        name="webhook-rotate-secret",
    ),
    path("webhook-endpoints/<int:pk>/test/", webhooks.webhook_send_test, name="webhook-test"),
    path("webhook-endpoints/<int:pk>/delete/", webhooks.webhook_delete, name="webhook-delete"),
    path(
        "webhook-endpoints/<int:pk>/deliveries/<int:delivery_pk>/",
        webhooks.webhook_delivery,
        name="webhook-delivery",
    ),
    path(
        "webhook-endpoints/<int:pk>/deliveries/<int:delivery_pk>/retry/",
        webhooks.webhook_delivery_retry,
        name="webhook-delivery-retry",
    ),
    path("domains/", domains.domain_list, name="domain-list"),
    path("domains/new/", domains.domain_create, name="domain-create"),
    path("domains/<int:pk>/", domains.domain_detail, name="domain-detail"),
    path("domains/<int:pk>/verify/", domains.domain_verify, name="domain-verify"),
    path("domains/<int:pk>/rotate/", domains.domain_rotate, name="domain-rotate"),
    path("domains/<int:pk>/delete/", domains.domain_delete, name="domain-delete"),
    path("suppressions/", suppressions.suppression_list, name="suppression-list"),
    path("suppressions/delete/", suppressions.suppression_delete, name="suppression-delete"),
    path("docs/", docs.docs, name="docs"),
]
