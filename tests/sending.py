"""Sending in tests the way the queue and /send do: through delivery.channel_to."""

from collections.abc import Iterable

from django.core.mail import EmailMessage

from providers.delivery import DeliveryResult, channel_to
from providers.models import Provider


def deliver_via(provider: Provider, emails: Iterable[EmailMessage]) -> list[DeliveryResult]:
    """Send `emails` one after another over one new channel to `provider`, closed at the
    end; one result per message, in order."""
    channel = channel_to(provider)
    try:
        return [channel.send(email) for email in emails]
    finally:
        channel.close()
