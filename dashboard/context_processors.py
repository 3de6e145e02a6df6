from django.conf import settings
from django.http import HttpRequest


def signup(request: HttpRequest) -> dict[str, bool]:
    return {"signup_open": settings.MAILPASS_SIGNUP_OPEN}
