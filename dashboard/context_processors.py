from django.http import HttpRequest

import mailpass
from dashboard import mails
from dashboard.views.account import signup_available


def signup(request: HttpRequest) -> dict[str, bool]:
    return {"signup_open": signup_available(), "password_reset_available": mails.relay_configured()}


def release(request: HttpRequest) -> dict[str, str]:
    """The MailPass release, for the footer (shown to signed-in users only)."""
    return {"mailpass_version": mailpass.__version__}
