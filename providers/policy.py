"""What the operator lets tenants do with providers: the rules, each in one place.

- The instance's own relay (the "mailpass" kind) is for accounts the operator enabled
  (Account.relay_enabled), and mail through it leaves with the operator's envelope sender
  (MAILPASS_RELAY_RETURN_PATH), never the tenant's From. A verified-sender-domain rule
  belongs here too, beside relay_allowed, when sender domains arrive.
- A tenant's SMTP provider may use the mail ports only (MAILPASS_SMTP_PORTS), so no
  provider, nor its "Test connection", reaches any other service.
"""

from django.conf import settings
from django.utils.translation import gettext, gettext_noop

from accounts.models import Account
from providers.models import Provider

RELAY_REFUSAL = gettext_noop(
    "The MailPass relay is not enabled for this account: ask the operator of this instance."
)


def relay_allowed(account: Account) -> bool:
    """Whether `account` may send through the instance's relay (and add it as a provider)."""
    return bool(settings.EMAIL_HOST) and account.relay_enabled


def kind_allowed(kind: str, account: Account) -> bool:
    """Whether `account` may add a provider of `kind` at all: the instance relay exists only
    where the operator set one up, for the accounts it allows."""
    return kind != Provider.Kind.MAILPASS or relay_allowed(account)


def port_allowed(port: int) -> bool:
    """Whether a tenant's SMTP provider may connect to `port`."""
    return settings.MAILPASS_SMTP_PORTS is None or port in settings.MAILPASS_SMTP_PORTS


def port_refusal() -> str:
    ports = ", ".join(str(port) for port in sorted(settings.MAILPASS_SMTP_PORTS or ()))
    return gettext("SMTP providers use the mail ports here: %(ports)s.") % {"ports": ports}
