"""Django email backends of our own: thin layers over Django's, for speed only."""

from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend


class SMTPBackend(EmailBackend):
    """Django's SMTP backend, plus a fast path for messages rendered ahead of time.

    A message may carry `smtp_envelope()` → (sender, recipients, wire bytes with CRLF line
    ends). Then those exact bytes go out, skipping Django's per-send MIME generation and
    address sanitising, which cost several times the SMTP transaction itself. Anything
    else is sent the ordinary Django way.
    """

    def _send(self, email_message: EmailMessage) -> bool:
        envelope = getattr(email_message, "smtp_envelope", None)
        if envelope is None:
            return super()._send(email_message)
        sender, recipients, data = envelope()
        if not recipients:
            return False
        self.connection.sendmail(sender, recipients, data)
        return True
