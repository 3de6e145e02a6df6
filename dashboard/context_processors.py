from django.http import HttpRequest

from dashboard import mails
from dashboard.views.account import signup_available


def signup(request: HttpRequest) -> dict[str, bool]:
    return {"signup_open": signup_available(), "password_reset_available": mails.relay_configured()}
