"""TXT lookups for sender domain checks, through dnspython.

The servers asked are MAILPASS_DNS_RESOLVERS ("host:port", comma-separated) or, when it is
empty, the system's. A lookup tells "no such record" (NXDOMAIN, no TXT) apart from "could
not ask" (timeout, SERVFAIL, no server answering): only the first may fail a domain.
"""

from dataclasses import dataclass

import dns.exception
import dns.nameserver
import dns.resolver
from django.conf import settings

TIMEOUT_SECONDS = 3.0  # per server asked
LIFETIME_SECONDS = 6.0  # per lookup, every server and retry together


class DnsUnavailableError(Exception):
    """The DNS could not be asked (timeout, SERVFAIL…): nothing is known either way."""


@dataclass(frozen=True)
class TxtAnswer:
    """The TXT records at a name, each as one string (its pieces joined, RFC 7208 3.3)."""

    name: str
    texts: list[str]


def _nameserver(entry: str) -> dns.nameserver.Do53Nameserver:
    host, _, port = entry.strip().rpartition(":")
    if not host:  # no port given
        host, port = port, "53"
    return dns.nameserver.Do53Nameserver(host.strip("[]"), int(port))


def resolver() -> dns.resolver.Resolver:
    configured = [entry for entry in settings.MAILPASS_DNS_RESOLVERS if entry.strip()]
    if configured:
        answerer = dns.resolver.Resolver(configure=False)
        answerer.nameservers = [_nameserver(entry) for entry in configured]
    else:
        answerer = dns.resolver.Resolver()
    answerer.timeout = TIMEOUT_SECONDS
    answerer.lifetime = LIFETIME_SECONDS
    answerer.cache = None  # every check asks again: a record just published must count
    return answerer


def txt(name: str, answerer: dns.resolver.Resolver | None = None) -> TxtAnswer:
    """The TXT records at `name` (none when it does not exist). Raises DnsUnavailableError when
    the DNS could not be asked."""
    answerer = answerer or resolver()
    try:
        answer = answerer.resolve(name, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return TxtAnswer(name, [])
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as err:
        raise DnsUnavailableError(f"DNS lookup of {name} failed: {err}") from err
    except dns.exception.DNSException as err:  # a malformed name or answer
        raise DnsUnavailableError(f"DNS lookup of {name} failed: {err}") from err
    texts = [b"".join(rdata.strings).decode("utf-8", errors="replace") for rdata in answer]
    return TxtAnswer(name, texts)
