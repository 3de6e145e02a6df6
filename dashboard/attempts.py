"""Slowing down password guessing and mass sign-ups.

Counters live in the cache (like the API's throttle), each in a window that begins with its
first attempt: add() starts it, incr() keeps its expiry. An attempt is counted before it is
let through, so requests sent at once cannot all pass a check made before any of them
counted. With the default local-memory cache each server process counts on its own.
"""

import hashlib
import ipaddress
from collections.abc import Callable
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from api.tracking import client_ip


def client_of(request: HttpRequest) -> str | None:
    """The client's address for the limits; an IPv6 client by its /64, which one
    subscriber usually holds whole. None when the address is unknown: one shared
    counter would let anyone lock everybody out."""
    ip = client_ip(request.META)
    if ip is None:
        return None
    if ipaddress.ip_address(ip).version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return ip


def count_attempt(key: str, window: int) -> int:
    """Count one attempt against `key`; the count, this one included."""
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between the two calls
        cache.set(key, 1, timeout=window)
        return 1


def _uncount_attempt(key: str) -> None:
    try:
        cache.decr(key)
    except ValueError:  # the window has ended: nothing left to take back
        pass


def refused(
    request: HttpRequest, template: str, form: forms.Form, text: str, window: int
) -> HttpResponse:
    """The form page again, unsent, with a note that says why: 429 and Retry-After."""
    messages.error(request, text)
    context = {"form": form}
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        context["next"] = next_url
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(window)
    return response


def _login_keys(request: HttpRequest) -> tuple[str, list[str]]:
    """The counters a log-in attempt counts against: its username's (first) and its
    client's. Usernames are hashed: any length or character fits a cache key."""
    username = request.POST.get("username", "").strip().casefold()
    user_key = "login-failures:user:" + hashlib.sha256(username.encode()).hexdigest()
    client = client_of(request)
    return user_key, [user_key] + ([f"login-failures:client:{client}"] if client else [])


def login_attempts_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a log-in view (ours, the admin's) so password guessing is slow: once a
    username or a client address has MAILPASS_LOGIN_FAILURE_LIMIT failed log-ins in the
    window, its further attempts are refused (429, the log-in page with a note) without
    checking the password. A successful log-in clears its username's count and is not
    counted against its client; the client's earlier failures stay (one client could
    otherwise clear them with an account of its own)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        limit = settings.MAILPASS_LOGIN_FAILURE_LIMIT
        window = settings.MAILPASS_LOGIN_FAILURE_WINDOW_SECONDS
        user_key, keys = _login_keys(request)
        if any(count_attempt(key, window) > limit for key in keys):
            form = AuthenticationForm(request, initial={"username": request.POST.get("username")})
            text = _(
                "Too many failed log-ins for this username or from your address. "
                "Wait %(minutes)s minutes, then try again."
            ) % {"minutes": -(-window // 60)}
            return refused(request, "registration/login.html", form, text, window)
        response = view(request, *args, **kwargs)
        if response.status_code in (301, 302, 303):  # logged in: the view redirects
            cache.delete(user_key)
            for key in keys[1:]:
                _uncount_attempt(key)
        return response

    return wrapped
