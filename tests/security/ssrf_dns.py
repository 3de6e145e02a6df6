"""A fake DNS for the SSRF and TLS suites: socket.getaddrinfo answering from a table.

IP literals resolve as usual (that never leaves the process) and so does "localhost" (from
/etc/hosts). Any other name answers from `answers`, or fails as unknown: no test using it
ever asks a real DNS server. An answer may be a list of addresses or a callable giving the
next list, for a name whose answer changes between lookups (DNS rebinding).
"""

import socket
from collections.abc import Callable
from typing import Any

import pytest

_real_getaddrinfo = socket.getaddrinfo

Answer = list[str] | Callable[[], list[str]]


class FakeDns:
    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.lookups: list[str] = []  # every name asked for, in order

    def getaddrinfo(
        self,
        host: str | bytes | None,
        port: Any,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name == "localhost":
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        try:
            return _real_getaddrinfo(name, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            pass
        # As the C resolver would: IDNA-encoded (as CPython encodes a str host), case and a
        # trailing dot ignored.
        key = name.encode("idna").decode("ascii").lower().removesuffix(".")
        self.lookups.append(key)
        answer = self.answers.get(key)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = answer() if callable(answer) else answer
        port_number = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port_number, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port_number))
            for a in addresses
        ]

    def sequence(self, name: str, *answers: list[str]) -> None:
        """`name` answers answers[0], then answers[1] … and the last one from then on."""
        remaining = list(answers)

        def next_answer() -> list[str]:
            return remaining.pop(0) if len(remaining) > 1 else remaining[0]

        self.answers[name] = next_answer


def install(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """Replace socket.getaddrinfo with a new FakeDns for the rest of the test."""
    fake = FakeDns()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake
