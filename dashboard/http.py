from django.contrib.auth import login
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise


class AuthenticatedRequest(HttpRequest):
    """The request a @login_required view receives: its user is a real one, never
    AnonymousUser. Only an annotation for the type checker; Django passes HttpRequest."""

    user: User


def link_invalid(request: HttpRequest, reason: str | Promise, *, status: int) -> HttpResponse:
    """The page for a mailed link that cannot be used: used up, expired, or for someone
    else; `reason` says which and what to do."""
    return render(request, "registration/link_invalid.html", {"reason": reason}, status=status)


def log_in(request: HttpRequest, user: User) -> None:
    """Log in a user who just proved their address through a mailed link (no password
    check: the link was the proof)."""
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
