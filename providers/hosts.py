"""Where a tenant's SMTP provider may connect: the address rules, and a connection that
keeps them.

A tenant-supplied SMTP host is a server-side request: without these rules anyone with an
account could make MailPass talk to its own loopback services, a cloud metadata endpoint
or the internal network. They run when a provider is saved (a clear form error) and again
when it connects. The connect-time check is the one that counts: DNS may answer
differently by then, even between a check and the connection that follows it (DNS
rebinding). So the name is resolved once, every address it resolves to is checked, and
the socket connects to exactly those addresses, never to a second resolution of the name.
TLS still verifies the server's certificate against the host name.

MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS turns the rules off (development, tests, a relay on the
operator's own network); connections still go to the addresses resolved once.
"""

import contextlib
import ipaddress
import re
import smtplib
import socket
from typing import TYPE_CHECKING, Any

from django.conf import settings

from providers.backends import _SMTP, _SMTPSSL, SMTPBackend, tcp_connection


class HostNotAllowedError(Exception):
    """The host is, or resolves to, an address MailPass refuses to connect to."""


__all__ = ["HostNotAllowedError", "PinnedSMTPBackend", "assert_host_allowed", "is_public"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Python 3.11's is_global is the base. These ranges are not globally reachable although it
# says they are (newer Pythons agree for most of them).
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(network)
    for network in (
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890); 3.11 lists only parts of it
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "fec0::/10",  # site-local, deprecated but still routed inside some networks
        "5f00::/16",  # SRv6 SIDs (RFC 9602)
        "3fff::/20",  # documentation (RFC 9637)
    )
)
# IPv6 ranges that carry an IPv4 address, which is where such traffic really goes: they are
# judged by that address (is_global calls 64:ff9b::7f00:1 and 2002:7f00:1:: public).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated; :: and ::1 fall in it too

# The shorthand IPv4 forms that inet_aton(), and so getaddrinfo(), accept: "127.1",
# "2130706433", "0x7f000001", "0177.0.0.1".
_INET_ATON_FORM = re.compile(r"[0-9a-fx.]+")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    """Whether `address` (an IP literal, IPv6 scope allowed) is one MailPass may connect to
    for a tenant: globally reachable unicast, including what an IPv6 address carries."""
    ip: IPAddress = ipaddress.ip_address(address.partition("%")[0])
    if ip.is_multicast or any(ip in network for network in _NOT_GLOBAL):
        return False
    if isinstance(ip, ipaddress.IPv6Address) and (ipv4 := _embedded_ipv4(ip)) is not None:
        return is_public(str(ipv4))
    return ip.is_global


def _normalised(host: str) -> str:
    """`host` as the resolver reads it: an IP literal as such (brackets dropped, IPv4
    shorthand spelled out), a name IDNA-encoded, lower case, without a trailing dot."""
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    try:
        # The codec CPython's getaddrinfo uses; it folds full-width and other look-alike
        # characters (NFKC), so full-width "localhost" is "localhost" here as there.
        name = name.encode("idna").decode("ascii").lower().removesuffix(".")
    except UnicodeError as err:
        raise HostNotAllowedError(f"{host!r} is not a valid host name") from err
    if _INET_ATON_FORM.fullmatch(name):
        try:
            return socket.inet_ntoa(socket.inet_aton(name))
        except OSError:
            pass
    return name


def resolve(host: str, port: int) -> list[str]:
    """The addresses a connection to `host` may use: resolved once, each one checked.

    Unless MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS is on, raises HostNotAllowedError for a name
    of this machine (localhost, *.localhost: RFC 6761) and for a name with any address
    that is not public. HostNotAllowedError also for what is not a host name at all;
    socket.gaierror for a name that does not resolve (which may be temporary).
    """
    name = _normalised(host)
    strict = not settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS
    if strict and (name == "localhost" or name.endswith(".localhost")):
        raise HostNotAllowedError(
            f"{host!r} names this machine (RFC 6761): a private or reserved address "
            "(127.0.0.1, ::1)"
        )
    infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"{host!r} has no address")
    if strict and (blocked := sorted(a for a in addresses if not is_public(a))):
        raise HostNotAllowedError(
            f"{host!r} resolves to a private or reserved address ({', '.join(blocked)})"
        )
    return addresses


def assert_host_allowed(host: str, port: int) -> None:
    """Raise as resolve() does unless `host` is allowed now; for saving a provider.

    Does nothing when MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS is on: the host need not even
    resolve yet. Connecting checks again in any case (PinnedSMTPBackend).
    """
    if not settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS:
        resolve(host, port)


if TYPE_CHECKING:
    from providers.backends import _DeadlineIO

    _PinnedMixin = _DeadlineIO  # what it is put before, to the type checker
else:
    _PinnedMixin = object


class _PinnedSocket(_PinnedMixin):
    """For our smtplib classes: the TCP connection goes to an address resolve() checked,
    not to the name, each try within the timeout and the deadline (backends.tcp_connection).

    self._host stays the name: it is what STARTTLS and SMTP_SSL give as server_hostname,
    so the certificate is still verified against the host name the tenant gave.
    """

    def _connect_tcp(self, host: str, port: int, timeout: Any) -> socket.socket:
        if timeout is not None and not timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        *others, last = resolve(host, port)
        per_operation = self._per_operation()
        for address in others:
            # As socket.create_connection does with a name: the next address may answer.
            with contextlib.suppress(OSError):
                return tcp_connection(address, port, per_operation, self.source_address)
        return tcp_connection(last, port, per_operation, self.source_address)


# First in the MRO, so its _connect_tcp is the one the SMTP classes' connect (and, for
# SMTP_SSL, the TLS layer put on top) uses.
class _PinnedSMTP(_PinnedSocket, _SMTP):
    pass


class _PinnedSMTPSSL(_PinnedSocket, _SMTPSSL):
    pass


class PinnedSMTPBackend(SMTPBackend):
    """The SMTP backend of tenant (smtp kind) providers: connects only to addresses that
    resolve() checked at connect time. Raises HostNotAllowedError from open()."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return _PinnedSMTPSSL if self.use_ssl else _PinnedSMTP
