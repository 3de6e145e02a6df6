"""MailPass's own mail: sign-up links, invitations, password resets.

It goes out through the operator's relay (EMAIL_HOST, from DEFAULT_FROM_EMAIL) on a
background thread, so a request never waits for the relay: an answer takes as long for an
address that gets mail as for one that does not, and nobody learns from the timing which
addresses have users. Links are built on MAILPASS_PUBLIC_URL, never on the request's Host
header. What does not go out is logged; nobody is told, by design.
"""

import logging
import threading
from collections.abc import Callable, Mapping
from queue import Queue

from django import db
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import override

logger = logging.getLogger(__name__)


def relay_configured() -> bool:
    """Whether MailPass can send mail of its own at all."""
    return bool(settings.EMAIL_HOST)


class _Outbox:
    """One daemon thread that runs mail jobs in order; `flush` waits for the ones queued."""

    def __init__(self) -> None:
        self._jobs: Queue[Callable[[], None]] = Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mailpass-outbox")
                self._thread.daemon = True
                self._thread.start()
        self._jobs.put(job)

    def flush(self) -> None:
        self._jobs.join()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # a boundary: one failed mail must not stop the rest
                logger.exception("MailPass could not send one of its own mails")
            finally:
                db.connections.close_all()  # this thread's connection, if the job opened one
                self._jobs.task_done()


outbox = _Outbox()


def _link(view_name: str, **kwargs: str) -> str:
    return settings.MAILPASS_PUBLIC_URL + reverse(view_name, kwargs=kwargs)


def _send(
    to: str, subject: str, template: str, context: Mapping[str, object], language: str
) -> None:
    def job() -> None:
        with override(language):
            body = render_to_string(template, {**context, "site": settings.MAILPASS_PUBLIC_URL})
            send_mail(subject, body, None, [to], fail_silently=False)

    outbox.submit(job)


def send_signup_link(*, email: str, token: str, language: str) -> None:
    with override(language):
        subject = _("Confirm your email address for MailPass")
    link = _link("dashboard:signup-confirm", token=token)
    _send(email, subject, "registration/signup_confirm_email.txt", {"link": link}, language)


def send_already_registered(*, email: str, language: str) -> None:
    """The mail a sign-up with a taken address gets instead of a link: the owner learns
    someone tried, and how to get in; the stranger who tried learns nothing."""
    with override(language):
        subject = _("Someone tried to sign up to MailPass with your address")
    context = {
        "login": settings.MAILPASS_PUBLIC_URL + reverse("login"),
        "reset": settings.MAILPASS_PUBLIC_URL + reverse("password_reset"),
    }
    _send(email, subject, "registration/signup_existing_email.txt", context, language)


def send_invitation(
    *, email: str, token: str, account_name: str, inviter: str, language: str
) -> None:
    with override(language):
        subject = _("You are invited to %(account)s on MailPass") % {"account": account_name}
    context = {
        "link": _link("dashboard:invitation-accept", token=token),
        "account": account_name,
        "inviter": inviter,
    }
    _send(email, subject, "registration/invitation_email.txt", context, language)


def send_password_reset(*, email: str, language: str) -> None:
    """A reset link to the one user `email` belongs to, if any: looked up on the outbox's
    thread, so the request that asked answers alike for known and unknown addresses."""

    def job() -> None:
        user = password_reset_user(email)
        if user is None:
            return
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        link = _link(
            "password_reset_confirm", uidb64=uid, token=default_token_generator.make_token(user)
        )
        with override(language):
            subject = _("Reset your MailPass password")
            body = render_to_string(
                "registration/password_reset_email.txt",
                {
                    "link": link,
                    "username": user.get_username(),
                    "site": settings.MAILPASS_PUBLIC_URL,
                },
            )
        send_mail(subject, body, None, [user.email], fail_silently=False)

    outbox.submit(job)


def password_reset_user(email: str) -> User | None:
    """The one active user with a password who may reset it through `email`: an address
    gets one mail however many users carry it (older instances let several users share
    one); the one who logged in last."""
    users = get_user_model().objects.filter(email__iexact=email.strip(), is_active=True)
    for user in users.order_by(F("last_login").desc(nulls_last=True), "id"):
        if user.has_usable_password():
            return user
    return None
