"""Django email backends of our own: thin layers over Django's, for speed only."""

import re
import smtplib
from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend

# A plain addr-spec: nothing that needs quoting or parsing inside <...>.
_BARE_ADDRESS = re.compile(r"[^\s<>()\[\]\",;:\\@]+@[^\s<>()\[\]\",;:\\@]+")


class _QuickAddresses:
    """MAIL FROM / RCPT TO without smtplib's quoteaddr() for plain addresses, and a note of
    whether the DATA phase had begun (for failover: see providers.delivery).

    quoteaddr() runs the full RFC 2822 address parser on every address, which took a
    quarter of a queue worker's CPU per message (bench/, `--profile`). The API has already
    validated our addresses; a plain one only needs angle brackets. Anything else still goes
    through smtplib's own code.
    """

    # Set once the DATA command is under way: a failure from then on may come after the
    # server took the message, so it is no proof that the message was not accepted.
    in_data = False

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        self.in_data = True
        return super().data(msg)

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        self.in_data = False
        if not _is_plain(sender) or any(o.lower() == "smtputf8" for o in options):
            return super().mail(sender, options)
        self.putcmd("mail", f"FROM:<{sender}>{_option_list(self, options)}")
        return self.getreply()

    def rcpt(self, recip: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        if not _is_plain(recip):
            return super().rcpt(recip, options)
        self.putcmd("rcpt", f"TO:<{recip}>{_option_list(self, options)}")
        return self.getreply()


def _is_plain(address: str) -> bool:
    return address.isascii() and _BARE_ADDRESS.fullmatch(address) is not None


def _option_list(client: smtplib.SMTP, options: Sequence[str]) -> str:
    return " " + " ".join(options) if options and client.does_esmtp else ""


class _SMTP(_QuickAddresses, smtplib.SMTP):
    pass


class _SMTPSSL(_QuickAddresses, smtplib.SMTP_SSL):
    pass


class SMTPBackend(EmailBackend):
    """Django's SMTP backend, plus a fast path for messages rendered ahead of time.

    A message may carry `smtp_envelope()` → (sender, recipients, wire bytes with CRLF line
    ends). Then those exact bytes go out, skipping Django's per-send MIME generation and
    address sanitising, which cost several times the SMTP transaction itself. Anything
    else is sent the ordinary Django way.
    """

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return _SMTPSSL if self.use_ssl else _SMTP

    def _send(self, email_message: EmailMessage) -> bool:
        envelope = getattr(email_message, "smtp_envelope", None)
        if envelope is None:
            return super()._send(email_message)
        sender, recipients, data = envelope()
        if not recipients:
            return False
        self.connection.sendmail(sender, recipients, data)
        return True
