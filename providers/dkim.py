"""DKIM (RFC 6376): key pairs, the TXT records that publish them, and signing.

Signing is our own code over the `cryptography` package rather than dkimpy's sign():
dkimpy does RSA in pure Python, 6.4 ms per 2048-bit signature on this machine against
0.26 ms through OpenSSL, which would halve the drain (docs/decisions.md). dkimpy stays the
verifier in the tests (tests/providers/test_dkim.py), so the two never share code.

Canonicalization is relaxed/relaxed; Ed25519 (RFC 8463) signs the SHA-256 of the same data.
"""

import base64
import functools
import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from providers import crypto

RSA = "rsa-sha256"
ED25519 = "ed25519-sha256"
RSA_BITS = 2048

# Every header MailPass writes is final when the message is signed, so all are signed but
# these, which relays add or change on the way.
_NOT_SIGNED = frozenset(
    {
        b"return-path",
        b"received",
        b"dkim-signature",
        b"arc-seal",
        b"arc-message-signature",
        b"arc-authentication-results",
        b"authentication-results",
    }
)
# Signed once more than they occur ("oversigned"): a second Subject or From added on the
# way breaks the signature instead of being shown to the reader.
_OVERSIGNED = (
    b"from",
    b"to",
    b"cc",
    b"reply-to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
)
_WSP_RUN = re.compile(rb"[ \t]+")
_TRAILING_WSP = re.compile(rb"[ \t]+(?=\r\n)")
_CRLF = b"\r\n"


@dataclass(frozen=True)
class KeyPair:
    algorithm: str
    private_pem: bytes  # PKCS#8, unencrypted: store it only through providers.crypto
    public: str  # the p= value of the DNS record


def new_key_pair(algorithm: str) -> KeyPair:
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if algorithm == RSA:
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    elif algorithm == ED25519:
        key = ed25519.Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    else:
        raise ValueError(f"unknown DKIM algorithm {algorithm!r}")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return KeyPair(algorithm, pem, base64.b64encode(public).decode())


def record_value(algorithm: str, public: str) -> str:
    """The TXT record that publishes a public key."""
    return f"v=DKIM1; k={'rsa' if algorithm == RSA else 'ed25519'}; p={public}"


def parse_tags(text: str) -> dict[str, str]:
    """A tag=value list (RFC 6376 3.2), whitespace around tags and values dropped. Raises
    ValueError for a malformed one or a tag given twice."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) or name in tags:
            raise ValueError(f"malformed tag {part.strip()!r}")
        tags[name] = value.strip()
    return tags


# --- signing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """What signs a domain's mail with one key: d=, s= and the loaded private key."""

    domain: str
    selector: str
    algorithm: str
    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@functools.lru_cache(maxsize=1024)
def _loaded_key(encrypted: str) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    # Keyed by the stored (encrypted) text, which never changes for a key: decrypting and
    # parsing once per process, not once per message.
    pem = crypto.decrypt_json(encrypted)["pem"].encode()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
    return key


def signer(domain: str, selector: str, algorithm: str, private_key_encrypted: str) -> Signer:
    return Signer(domain, selector, algorithm, _loaded_key(private_key_encrypted))


def _header_fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """(lower-case name, the field as written, folding kept) for each header field."""
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(_CRLF):
        if line[:1] in (b" ", b"\t") and fields:
            name, raw = fields[-1]
            fields[-1] = (name, raw + _CRLF + line)
        else:
            fields.append((line.split(b":", 1)[0].strip().lower(), line))
    return fields


def _relaxed_header(raw: bytes) -> bytes:
    name, _, value = raw.partition(b":")
    value = _WSP_RUN.sub(b" ", value.replace(_CRLF, b"")).strip(b" ")
    return name.strip().lower() + b":" + value + _CRLF


def _relaxed_body(body: bytes) -> bytes:
    # Runs of spaces and tabs become one space, none is kept at a line's end, and empty
    # lines at the end go; a body that is left with anything ends with one CRLF.
    body = _TRAILING_WSP.sub(b"", _WSP_RUN.sub(b" ", body)).rstrip(b"\r\n")
    return body + _CRLF if body else b""


def _signed_headers(fields: list[tuple[bytes, bytes]]) -> tuple[list[bytes], bytes]:
    """The h= names and the canonical text they sign: each name's instances from the
    bottom up (RFC 6376 5.4.2), then the oversigned names once more (they add nothing)."""
    names = [name for name, _ in fields if name not in _NOT_SIGNED]
    listed = names + [name for name in _OVERSIGNED if name in names or name == b"from"]
    remaining: dict[bytes, list[bytes]] = {}
    for name, raw in fields:
        remaining.setdefault(name, []).append(raw)
    text = b""
    for name in listed:
        instances = remaining.get(name)
        if instances:
            text += _relaxed_header(instances.pop())
    return listed, text


def _fold_tags(tags: Iterable[str]) -> bytes:
    line, lines = "DKIM-Signature:", []
    for tag in tags:
        if len(line) + 1 + len(tag) > 76 and line != "DKIM-Signature:":
            lines.append(line)
            line = ""
        line += " " + tag
    lines.append(line)
    return "\r\n".join(lines).encode()


def _signature_header(signer: Signer, names: list[bytes], body_hash: str, signed: bytes) -> bytes:
    tags = [
        "v=1;",
        f"a={signer.algorithm};",
        "c=relaxed/relaxed;",
        f"d={signer.domain};",
        f"s={signer.selector};",
        f"t={int(time.time())};",
        f"h={':'.join(name.decode() for name in names)};",
        f"bh={body_hash};",
        "b=",
    ]
    unsigned = _fold_tags(tags)
    data = signed + _relaxed_header(unsigned)[: -len(_CRLF)]
    if isinstance(signer.key, rsa.RSAPrivateKey):
        signature = signer.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = signer.key.sign(hashlib.sha256(data).digest())
    value = base64.b64encode(signature).decode()
    chunks = [value[i : i + 72] for i in range(0, len(value), 72)]
    return unsigned + b"\r\n " + "\r\n ".join(chunks).encode() + _CRLF


def sign(wire: bytes, signers: list[Signer]) -> bytes:
    """`wire` (a whole message, CRLF line ends) with a DKIM-Signature field per signer
    put on top. The headers and the body must be final: any change breaks the signatures."""
    if not signers:
        return wire
    head, _, body = wire.partition(_CRLF + _CRLF)
    fields = _header_fields(head)
    names, signed = _signed_headers(fields)
    body_hash = base64.b64encode(hashlib.sha256(_relaxed_body(body)).digest()).decode()
    return b"".join(_signature_header(s, names, body_hash, signed) for s in signers) + wire
