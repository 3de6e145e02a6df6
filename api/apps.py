from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    # Nothing is imported at start-up on purpose: api.views imports api.schema (the OpenAPI
    # auth extension) and api.webhooks (the receiver of anymail's events, which pulls in
    # svix and the ESP webhook views), so the web process has both before any request,
    # while a queue worker starts ~0.8 s faster without them.
