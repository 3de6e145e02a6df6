"""Which hosts a provider may connect to.

A tenant-supplied SMTP host is a server-side request: without this check anyone with an
account could make MailPass talk to its own loopback services or an internal network.
"""

import ipaddress
import socket

from django.conf import settings


class HostNotAllowedError(Exception):
    """The host resolves to an address MailPass refuses to connect to."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def assert_host_allowed(host: str, port: int = 25) -> None:
    """Raise HostNotAllowedError unless every address `host` resolves to is public.

    Skipped entirely when MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS is on (development, tests,
    a relay on the same private network by the operator's choice). A name that does not
    resolve raises socket.gaierror: that may be temporary, so it is the caller's call.
    """
    if settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS:
        return
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except UnicodeError as err:
        raise HostNotAllowedError(f"{host!r} is not a valid host name") from err
    addresses = {info[4][0] for info in infos}
    blocked = sorted(a for a in addresses if not _is_public(a))
    if blocked:
        raise HostNotAllowedError(
            f"{host!r} resolves to a private or reserved address ({', '.join(blocked)})"
        )
