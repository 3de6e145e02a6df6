"""Turning a stored Message into the Django email object a provider connection sends."""

import secrets
import time
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from api.models import Message


def new_message_id() -> str:
    """<random.unixtime@DOMAIN>, DOMAIN from MAILPASS_MESSAGE_ID_DOMAIN."""
    return f"<{secrets.token_hex(16)}.{int(time.time())}@{settings.MAILPASS_MESSAGE_ID_DOMAIN}>"


def build_email(message: Message) -> EmailMultiAlternatives:
    """The email for `message`: our Message-ID on every attempt, Bcc only in the envelope.

    Tags and metadata ride along as attributes that django-anymail ESP backends map to
    their own fields; the SMTP backend ignores them (they are not recipient-visible).
    """
    sender = (
        formataddr((message.from_name, message.from_email))
        if message.from_name
        else message.from_email
    )
    if message.text or not message.html:
        email = EmailMultiAlternatives(body=message.text)
        if message.html:
            email.attach_alternative(message.html, "text/html")
    else:
        email = EmailMultiAlternatives(body=message.html)
        email.content_subtype = "html"
    email.subject = message.subject
    email.from_email = sender
    email.to = [message.to_email]
    email.cc = list(message.cc)
    email.bcc = list(message.bcc)
    email.reply_to = [message.reply_to] if message.reply_to else []
    email.extra_headers = {"Message-ID": message.message_id}
    email.tags = list(message.tags)
    email.metadata = dict(message.metadata)
    return email
