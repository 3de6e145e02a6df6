"""Sender domains: adding them with their DKIM keys, checking their DNS records, rotating
keys, and what the sending side asks of them (which mail may go, and who signs it).

A domain is `verified` when every active key's DKIM record, the operator's SPF mechanism
(MAILPASS_SPF_INCLUDE, when set) and a valid DMARC record are found. A rotation's new keys
wait (`pending`) until their records are found; then they sign and the old ones retire.
"""

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from providers import dkim, dns, dns_checks
from providers.crypto import CredentialsUnreadableError
from providers.kinds import KINDS
from providers.models import DkimKey, Provider, SenderDomain

logger = logging.getLogger(__name__)

CHECK_INTERVAL = dt.timedelta(hours=1)  # between checks of a domain that passes
CHECK_INTERVAL_MAX = dt.timedelta(hours=24)  # the most a failing domain waits
DNS_RETRY = dt.timedelta(minutes=15)  # after a check the DNS could not answer
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"

Status = SenderDomain.Status
State = DkimKey.State


# --- names --------------------------------------------------------------------------------


def normalised_name(name: str) -> str:
    """`name` as stored: lower case, without a trailing dot, IDNs in punycode. Raises
    ValidationError for what cannot be a domain one sends mail as."""
    text = name.strip().rstrip(".").lower()
    if text.startswith("@") or "@" in text:
        raise ValidationError("Enter the domain alone (example.com), without an address.")
    try:
        validate_ipv46_address(text.strip("[]"))
    except ValidationError:
        pass
    else:
        raise ValidationError("Enter a domain name, not an IP address.")
    try:
        ascii_name = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError as err:
        raise ValidationError("Enter a valid domain name.") from err
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(re.fullmatch(_LABEL, label) for label in labels):
        raise ValidationError("Enter a valid domain name (letters, digits, hyphens, dots).")
    if len(labels) < 2 or labels[-1].isdecimal():
        raise ValidationError("Enter a full domain name, such as example.com.")
    return ascii_name


def address_domain(address: str) -> str:
    """The domain of an email address, as names are stored."""
    domain = address.rpartition("@")[2].strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return domain


def covering(domain: str, names: Iterable[str]) -> str | None:
    """The name in `names` that is `domain` or its closest parent, or None."""
    best = None
    for name in names:
        if (domain == name or domain.endswith("." + name)) and len(name) > len(best or ""):
            best = name
    return best


# --- keys and selectors -------------------------------------------------------------------


def _new_selector(domain: SenderDomain, now: dt.datetime) -> str:
    base = f"mp{now:%Y%m%d}"
    taken = set(domain.keys.values_list("selector", flat=True))
    for suffix in ["", *"bcdefghijklmnopqrstuvwxyz"]:
        if base + suffix not in taken and base + suffix + "e" not in taken:
            return base + suffix
    raise ValidationError("Too many rotations today; try again tomorrow.")


def _add_keys(domain: SenderDomain, *, state: str, ed25519: bool, now: dt.datetime) -> None:
    selector = _new_selector(domain, now)
    algorithms = [(dkim.RSA, selector)]
    if ed25519:
        algorithms.append((dkim.ED25519, selector + "e"))
    for algorithm, name in algorithms:
        pair = dkim.new_key_pair(algorithm)
        key = DkimKey(domain=domain, selector=name, algorithm=algorithm, state=state)
        key.public_key = pair.public
        key.private_key_pem = pair.private_pem
        key.activated_at = now if state == State.ACTIVE else None
        key.save()


# --- writes -------------------------------------------------------------------------------


def domain_list(account: Account) -> QuerySet[SenderDomain]:
    return SenderDomain.objects.filter(account=account).prefetch_related("keys")


def domain_get(account: Account, reference: str | int) -> SenderDomain:
    """The account's domain by id or by name. Raises SenderDomain.DoesNotExist otherwise,
    also for another account's domain."""
    text = str(reference).strip()
    domains = domain_list(account)
    if text.isdecimal() and len(text) <= 18:
        return domains.get(pk=int(text))
    try:
        return domains.get(name=normalised_name(text))
    except ValidationError as err:
        raise SenderDomain.DoesNotExist(text) from err


def domain_create(*, account: Account, name: str, ed25519: bool = False) -> SenderDomain:
    """Add `name` to the account with its first DKIM key(s), active at once: the domain
    signs as soon as it is verified. Raises ValidationError({"name": …})."""
    try:
        name = normalised_name(name)
    except ValidationError as err:
        raise ValidationError({"name": err.messages}) from err
    now = timezone.now()
    try:
        with transaction.atomic():
            domain = SenderDomain.objects.create(
                account=account, name=name, ed25519=ed25519, next_check_at=now + CHECK_INTERVAL
            )
            _add_keys(domain, state=State.ACTIVE, ed25519=ed25519, now=now)
    except IntegrityError as err:
        raise ValidationError({"name": [f"{name} is already one of your domains."]}) from err
    logger.info("sender domain %s added to account %s", name, account.pk)
    return domain


def domain_delete(domain: SenderDomain) -> None:
    logger.info("sender domain %s deleted from account %s", domain.name, domain.account_id)
    domain.delete()


def domain_rotate(domain: SenderDomain, ed25519: bool | None = None) -> SenderDomain:
    """Make new pending key(s) under a new selector, to be published beside the current
    ones; they take over once their records are found (domain_verify). While a rotation
    waits, rotating again changes nothing."""
    with transaction.atomic():
        domain = SenderDomain.objects.select_for_update().get(pk=domain.pk)
        if not domain.keys.filter(state=State.PENDING).exists():
            if ed25519 is not None and ed25519 != domain.ed25519:
                domain.ed25519 = ed25519
                domain.save(update_fields=["ed25519"])
            _add_keys(domain, state=State.PENDING, ed25519=domain.ed25519, now=timezone.now())
            logger.info("sender domain %s: DKIM key rotation started", domain.name)
    return domain_list(domain.account).get(pk=domain.pk)


# --- checking -----------------------------------------------------------------------------


def _dkim_name(domain: SenderDomain, key: DkimKey) -> str:
    return f"{key.selector}._domainkey.{domain.name}"


@dataclass
class _Check:
    keys: dict[int, dns_checks.Finding] = field(default_factory=dict)
    spf: dns_checks.Finding | None = None
    dmarc: dns_checks.Finding | None = None


def _look(domain: SenderDomain, keys: list[DkimKey]) -> _Check:
    """What the DNS publishes now. Raises dns.DnsUnavailableError."""
    check = _Check()
    for key in keys:
        check.keys[key.pk] = dns_checks.check_dkim(
            _dkim_name(domain, key), key.algorithm, key.public_key
        )
    if settings.MAILPASS_SPF_INCLUDE:
        check.spf = dns_checks.check_spf(domain.name, settings.MAILPASS_SPF_INCLUDE)
    check.dmarc = dns_checks.check_dmarc(domain.name)
    return check


def _next_check(domain: SenderDomain, now: dt.datetime) -> dt.datetime:
    if domain.status == Status.VERIFIED:
        return now + CHECK_INTERVAL
    return now + min(CHECK_INTERVAL * 2 ** min(domain.failures, 6), CHECK_INTERVAL_MAX)


def domain_verify(domain: SenderDomain) -> SenderDomain:
    """Check the domain's records now and save what was found: its status, each record's,
    and a rotation's switch to the new keys once their records are there. Raises
    providers.dns.DnsUnavailableError (after scheduling a retry) when the DNS cannot be
    asked: that proves nothing, so nothing else changes."""
    now = timezone.now()
    keys = [key for key in domain.keys.all() if key.state != State.RETIRED]
    try:
        check = _look(domain, keys)
    except dns.DnsUnavailableError:
        SenderDomain.objects.filter(pk=domain.pk).update(next_check_at=now + DNS_RETRY)
        raise
    with transaction.atomic():
        pending = [key for key in keys if key.state == State.PENDING]
        switch = bool(pending) and all(check.keys[key.pk].ok for key in pending)
        for key in keys:
            key.dns_check = check.keys[key.pk].as_dict()
            if switch:
                key.state = State.ACTIVE if key.state == State.PENDING else State.RETIRED
                key.activated_at = now if key.state == State.ACTIVE else key.activated_at
                key.retired_at = now if key.state == State.RETIRED else None
            key.save(update_fields=["dns_check", "state", "activated_at", "retired_at"])
        active = [key for key in keys if key.state == State.ACTIVE]
        findings = [check.keys[key.pk] for key in active] + [check.dmarc]
        findings += [check.spf] if check.spf else []
        passed = bool(active) and all(finding and finding.ok for finding in findings)
        was = domain.status
        domain.status = Status.VERIFIED if passed else Status.FAILED
        domain.failures = 0 if passed else domain.failures + 1
        domain.verified_at = now if passed else domain.verified_at
        domain.checked_at = now
        domain.next_check_at = _next_check(domain, now)
        domain.checks = {
            "spf": check.spf.as_dict() if check.spf else None,
            "dmarc": check.dmarc.as_dict() if check.dmarc else None,
        }
        domain.save()
    if switch:
        logger.info("sender domain %s: signing with the new DKIM key now", domain.name)
    if was != domain.status:
        logger.info("sender domain %s: %s → %s", domain.name, was, domain.status)
    return domain


def check_due_domains(*, limit: int = 500) -> tuple[int, int]:
    """Check the domains whose next check is due (the hourly cron job): (checked, DNS
    failures). A domain the DNS cannot answer for is tried again later."""
    due = SenderDomain.objects.filter(next_check_at__lte=timezone.now()).order_by("next_check_at")[
        :limit
    ]
    checked = unavailable = 0
    for domain in due.prefetch_related("keys"):
        try:
            domain_verify(domain)
            checked += 1
        except dns.DnsUnavailableError as err:
            unavailable += 1
            logger.warning("sender domain %s not checked: %s", domain.name, err)
    return checked, unavailable


def failing_domains(account: Account) -> QuerySet[SenderDomain]:
    """The domains that lost a record they had: verified once, failed now (for the
    overview). A domain never verified is still being set up: its own page says why."""
    return SenderDomain.objects.filter(
        account=account, status=Status.FAILED, verified_at__isnull=False
    )


# --- what to publish ----------------------------------------------------------------------


def spf_value() -> str:
    return f"v=spf1 {settings.MAILPASS_SPF_INCLUDE} ~all"


def dmarc_value() -> str:
    rua = settings.MAILPASS_DMARC_RUA
    return "v=DMARC1; p=none" + (f"; rua=mailto:{rua}" if rua else "")


def _record(purpose: str, name: str, value: str, check: dict | None) -> dict[str, object]:
    check = check or {}
    return {
        "purpose": purpose,
        "type": "TXT",
        "name": name,
        "value": value,
        "status": check.get("status", "pending"),
        "found": check.get("found"),
        "detail": check.get("detail", ""),
    }


def records_of(domain: SenderDomain) -> list[dict[str, object]]:
    """The DNS records the domain must publish, each with what the last check found. No
    private key is ever part of it."""
    records = []
    for key in domain.keys.all():
        if key.state == State.RETIRED:
            continue
        record = _record(
            "dkim",
            _dkim_name(domain, key),
            dkim.record_value(key.algorithm, key.public_key),
            key.dns_check,
        )
        record |= {"selector": key.selector, "algorithm": key.algorithm, "key_state": key.state}
        records.append(record)
    if settings.MAILPASS_SPF_INCLUDE:
        records.append(_record("spf", domain.name, spf_value(), domain.checks.get("spf")))
    records.append(
        _record("dmarc", f"_dmarc.{domain.name}", dmarc_value(), domain.checks.get("dmarc"))
    )
    return records


def is_signing(domain: SenderDomain) -> bool:
    return domain.status == Status.VERIFIED and any(
        key.state == State.ACTIVE for key in domain.keys.all()
    )


# --- the sending side ---------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    domain: str
    selector: str
    algorithm: str
    private_key_encrypted: str


def signing_keys(account_ids: Iterable[int]) -> dict[int, dict[str, list[SigningKey]]]:
    """The verified domains of these accounts and each one's active keys, in one query:
    {account_id: {domain name: [keys]}}."""
    rows = DkimKey.objects.filter(
        state=State.ACTIVE,
        domain__status=Status.VERIFIED,
        domain__account_id__in=set(account_ids),
    ).values_list(
        "domain__account_id", "domain__name", "selector", "algorithm", "private_key_encrypted"
    )
    found: dict[int, dict[str, list[SigningKey]]] = {}
    for account_id, name, selector, algorithm, private in rows:
        key = SigningKey(name, selector, algorithm, private)
        found.setdefault(account_id, {}).setdefault(name, []).append(key)
    return found


def verified_domain_of(domains: dict[str, list[SigningKey]], from_email: str) -> str | None:
    """Which of these verified domains `from_email` sends as: its own or a parent; None."""
    return covering(address_domain(from_email), domains)


def signers_for(keys: list[SigningKey]) -> list[dkim.Signer]:
    """Who signs with a verified domain's active `keys`, RSA first. A key no configured
    encryption key reads is left out, loudly: the mail still goes, unsigned by it."""
    signers = []
    for key in sorted(keys, key=lambda key: key.algorithm != dkim.RSA):
        try:
            signers.append(
                dkim.signer(key.domain, key.selector, key.algorithm, key.private_key_encrypted)
            )
        except CredentialsUnreadableError:
            logger.error(
                "sender domain %s: DKIM key %s cannot be decrypted with MAILPASS_ENCRYPTION_KEYS;"
                " its mail goes out without that signature (run rotate_provider_secrets with "
                "the old key configured, or rotate the domain's key)",
                key.domain,
                key.selector,
            )
    return signers


@dataclass(frozen=True)
class SendingRule:
    """Whether an account's mail must come from its verified domains, and which they are."""

    required: bool
    verified: frozenset[str]

    def refused_domain(self, from_email: str) -> str | None:
        """The From domain when the rule refuses it, else None."""
        domain = address_domain(from_email)
        if self.required and covering(domain, self.verified) is None:
            return domain
        return None


def sending_rule(account: Account, providers: Iterable[Provider]) -> SendingRule:
    """The rule for mail of `account` that may go through `providers` (its chain): always
    for a kind that carries only verified domains (the operator's relay: KindSpec, which
    the queue applies again when it sends), else per the account's setting or the
    operator's MAILPASS_REQUIRE_VERIFIED_DOMAIN."""
    required = (
        settings.MAILPASS_REQUIRE_VERIFIED_DOMAIN
        or account.verified_domains_only
        or any(KINDS[provider.kind].verified_domains_only for provider in providers)
    )
    if not required:
        return SendingRule(False, frozenset())
    names = SenderDomain.objects.filter(account=account, status=Status.VERIFIED).values_list(
        "name", flat=True
    )
    return SendingRule(True, frozenset(names))
