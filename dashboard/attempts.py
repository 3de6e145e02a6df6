"""Slowing down password guessing, mass sign-ups and mail cannons.

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
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
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


def tests_used_up(request: HttpRequest, *, account_id: int) -> bool:
    """Count one test of the account (a provider's connection test or test email, a
    template's test email) against MAILPASS_PROVIDER_TEST_LIMIT an hour; True, and a note
    for the user, once they are used up. Tests mail any address the user types: a limit
    keeps the dashboard from being a cannon."""
    key = f"provider-tests:account:{account_id}"
    if count_attempt(key, 3600) <= settings.MAILPASS_PROVIDER_TEST_LIMIT:
        return False
    messages.error(
        request,
        _("Too many tests in the last hour: wait a while before the next one."),
    )
    return True


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
    context: dict[str, object] = {"form": form}
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        context["next"] = next_url
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(window)
    return response


# A browser that logged in as a username before carries this cookie: the per-username and
# per-client ceilings do not slow it down, so a stranger guessing cannot lock the owner out.
DEVICE_COOKIE = "mailpass_device"
DEVICE_COOKIE_MAX_AGE = 180 * 24 * 3600
_DEVICE_SALT = "mailpass.login-device"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _is_known_device(request: HttpRequest, user_digest: str) -> bool:
    try:
        return (
            signing.loads(
                request.COOKIES.get(DEVICE_COOKIE, ""),
                salt=_DEVICE_SALT,
                max_age=DEVICE_COOKIE_MAX_AGE,
            )
            == user_digest
        )
    except signing.BadSignature:
        return False


def _remember_device(response: HttpResponseBase, user_digest: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps(user_digest, salt=_DEVICE_SALT),
        max_age=DEVICE_COOKIE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def _slowed(key: str) -> bool:
    """Past a ceiling: one attempt per MAILPASS_LOGIN_SLOW_SECONDS gets through."""
    return not cache.add(key, 1, timeout=settings.MAILPASS_LOGIN_SLOW_SECONDS)


def login_attempts_limited(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """Wrap a log-in view (ours, the admin's) so password guessing is slow and nobody can
    lock the real owner out.

    Failed log-ins are counted per (username, client), per username and per client, each
    in a window that begins with its first failure (MAILPASS_LOGIN_FAILURE_WINDOW_SECONDS).
    A client with MAILPASS_LOGIN_FAILURE_LIMIT failures for one username is refused that
    username until the window ends. Past MAILPASS_LOGIN_FAILURE_CEILING failures of one
    username (from every client) or of one client (with every username), attempts slow down
    to one per MAILPASS_LOGIN_SLOW_SECONDS, except from a browser that logged in as that
    username before (DEVICE_COOKIE). A refusal (429, the log-in page with a note) checks
    no password. Every attempt is counted before it is let through, so requests sent at
    once cannot all pass a check made before any of them counted; a successful log-in
    takes its own count back and clears its (username, client) failures.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        window = settings.MAILPASS_LOGIN_FAILURE_WINDOW_SECONDS
        user = _digest(request.POST.get("username", "").strip().casefold())
        client = client_of(request)
        keys = [f"login-failures:user:{user}"]
        if client:
            keys += [f"login-failures:pair:{user}:{client}", f"login-failures:client:{client}"]
        counts = [count_attempt(key, window) for key in keys]
        known = _is_known_device(request, user)
        pair_refused = client is not None and counts[1] > settings.MAILPASS_LOGIN_FAILURE_LIMIT
        ceiling = settings.MAILPASS_LOGIN_FAILURE_CEILING
        slowed = not known and (
            (counts[0] > ceiling and _slowed(f"login-slow:user:{user}"))
            or (
                client is not None
                and counts[2] > ceiling
                and _slowed(f"login-slow:client:{client}")
            )
        )
        if pair_refused or slowed:
            form = AuthenticationForm(request, initial={"username": request.POST.get("username")})
            if pair_refused:
                wait = window
                text = _(
                    "Too many failed log-ins for this username or from your address. "
                    "Wait %(minutes)s minutes, then try again."
                ) % {"minutes": -(-wait // 60)}
            else:
                wait = settings.MAILPASS_LOGIN_SLOW_SECONDS
                text = _(
                    "Too many failed log-ins for this username or from your address. "
                    "Wait %(seconds)s seconds, then try again."
                ) % {"seconds": wait}
            return refused(request, "registration/login.html", form, text, wait)
        response = view(request, *args, **kwargs)
        if response.status_code in (301, 302, 303):  # logged in: the view redirects
            if client:
                cache.delete(keys[1])
            for key in keys[:1] + keys[2:]:
                _uncount_attempt(key)
            _remember_device(response, user)
        return response

    return wrapped
