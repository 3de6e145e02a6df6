from django.contrib.auth.models import User
from django.http import HttpRequest


class AuthenticatedRequest(HttpRequest):
    """The request a @login_required view receives: its user is a real one, never
    AnonymousUser. Only an annotation for the type checker; Django passes HttpRequest."""

    user: User
