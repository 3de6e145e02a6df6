from django.apps import AppConfig


class MailPassConfig(AppConfig):
    name = "mailpass"
    verbose_name = "MailPass"

    def ready(self) -> None:
        from mailpass import checks  # noqa: F401 - registers the deployment checks
