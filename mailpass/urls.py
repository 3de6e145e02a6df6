from django.contrib import admin
from django.urls import include, path

from api.views import provider_webhook, tracking_click, tracking_open

urlpatterns = [
    path("api/", include("api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language switcher
    path("admin/", admin.site.urls),
    path("t/o/<str:token>", tracking_open, name="tracking-open"),
    path("t/c/<str:token>", tracking_click, name="tracking-click"),
    path("webhooks/<str:token>", provider_webhook, name="provider-webhook"),
    path("", include("dashboard.urls")),
]

handler400 = "api.errors.handler400"
handler403 = "api.errors.handler403"
handler404 = "api.errors.handler404"
handler500 = "api.errors.handler500"
