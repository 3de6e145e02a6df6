from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("messages/requeue-failed", views.requeue_failed, name="requeue-failed"),
    path("suppressions/delete", views.suppression_delete, name="suppression-delete"),
]
