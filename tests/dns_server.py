"""A DNS server on loopback for the tests: answers TXT questions from a dict that a test
changes while it runs. UDP and TCP on the same port (long DKIM records are truncated over
UDP and asked again over TCP, as on the internet).

    records[("sel._domainkey.example.com", "TXT")] = ["v=DKIM1; k=rsa; p=…"]
    servfail.add("broken.example")     # answers SERVFAIL for that name
    silent.add("slow.example")         # never answers (the resolver times out)

A name with no records at all is NXDOMAIN; a name with records of another type only,
NOERROR and no answer.
"""

import socket
import socketserver
import struct
import threading
from collections.abc import Iterable

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

_UDP_PAYLOAD = 512  # what a client without EDNS takes over UDP


def txt_strings(text: str) -> list[str]:
    """A TXT value in pieces of at most 255 characters, as a zone file would hold it."""
    return [text[i : i + 255] for i in range(0, len(text), 255)] or [""]


class DnsServer:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.servfail: set[str] = set()
        self.silent: set[str] = set()
        self.questions: list[tuple[str, str]] = []
        self._udp, self._tcp = self._bind()
        port = self._udp.server_address[1]
        self.port = port
        self.address = f"127.0.0.1:{port}"
        for server in (self._udp, self._tcp):
            server.daemon_threads = True
            # A short poll: shutdown() waits up to one poll interval (0.5 s by default) per
            # server, at the end of every test that uses one.
            threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()

    def _bind(self) -> tuple[socketserver.UDPServer, socketserver.TCPServer]:
        """A UDP and a TCP server on one free port (a port free for UDP may not be for TCP)."""
        for _ in range(50):
            udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), self._udp_handler())
            try:
                tcp = socketserver.ThreadingTCPServer(
                    ("127.0.0.1", udp.server_address[1]), self._tcp_handler()
                )
            except OSError:
                udp.server_close()
                continue
            return udp, tcp
        raise OSError("no port free for both UDP and TCP")

    def close(self) -> None:
        for server in (self._udp, self._tcp):
            server.shutdown()
            server.server_close()

    def publish(self, name: str, value: str) -> None:
        """Add a TXT record at `name` (beside any already there)."""
        self.records.setdefault((name.rstrip(".").lower(), "TXT"), []).append(value)

    def publish_all(self, records: Iterable[dict[str, object]]) -> None:
        """Publish what providers.domains.records_of() asks for."""
        for record in records:
            self.publish(str(record["name"]), str(record["value"]))

    def dkimpy_lookup(self, name: bytes, timeout: int = 5) -> bytes:
        """dkimpy's `dnsfunc`: the TXT record at `name`, asked of this server over DNS (the
        dns_server fixture points MAILPASS_DNS_RESOLVERS here), b"" when there is none."""
        from providers import dns

        texts = dns.txt(name.decode().rstrip(".")).texts
        return texts[0].encode() if texts else b""

    def unpublish(self, name: str) -> None:
        self.records.pop((name.rstrip(".").lower(), "TXT"), None)

    def answer(self, wire: bytes, *, udp: bool) -> bytes | None:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.questions.append((name, kind))
        if name in self.silent:
            return None
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        texts = self.records.get((name, kind))
        if texts:
            quoted = [" ".join(_quoted(piece) for piece in txt_strings(t)) for t in texts]
            response.answer.append(
                dns.rrset.from_text_list(question.name, 300, dns.rdataclass.IN, kind, quoted)
            )
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        data = response.to_wire()
        if udp and len(data) > _UDP_PAYLOAD:
            response.answer.clear()
            response.flags |= dns.flags.TC
            data = response.to_wire()
        return data

    def _udp_handler(self) -> type[socketserver.BaseRequestHandler]:
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                if (reply := server.answer(data, udp=True)) is not None:
                    sock.sendto(reply, self.client_address)

        return Handler

    def _tcp_handler(self) -> type[socketserver.BaseRequestHandler]:
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                header = _read(sock, 2)
                if header is None:
                    return
                (length,) = struct.unpack("!H", header)
                wire = _read(sock, length)
                if wire is not None and (reply := server.answer(wire, udp=False)) is not None:
                    sock.sendall(struct.pack("!H", len(reply)) + reply)

        return Handler


def _quoted(piece: str) -> str:
    return '"' + piece.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _read(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data
