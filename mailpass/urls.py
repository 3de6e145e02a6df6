from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api.metrics import metrics_view
from api.views import provider_webhook, tracking_click, tracking_open, unsubscribe
from dashboard.attempts import login_attempts_limited
from dashboard.views.account import password_reset

urlpatterns = [
    path("api/", include("api.urls")),
    # The two log-in forms, ahead of the includes that also route them: guessing is limited.
    path("accounts/login/", login_attempts_limited(auth_views.LoginView.as_view()), name="login"),
    path("admin/login/", login_attempts_limited(admin.site.login)),
    # Ours, ahead of Django's: limited, one mail per address, hidden without a relay.
    path("accounts/password_reset/", password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language switcher
    path("admin/", admin.site.urls),
    path("t/o/<str:token>", tracking_open, name="tracking-open"),
    path("t/c/<str:token>", tracking_click, name="tracking-click"),
    path("u/<str:token>", unsubscribe, name="unsubscribe"),
    path("webhooks/<str:token>", provider_webhook, name="provider-webhook"),
    # Prometheus, for the operator: a token or an allowed address (api.metrics).
    path("metrics", metrics_view, name="metrics"),
    path("", include("dashboard.urls")),
]

handler400 = "api.errors.handler400"
handler403 = "api.errors.handler403"
handler404 = "api.errors.handler404"
handler500 = "api.errors.handler500"
