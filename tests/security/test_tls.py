"""Suite "TLS": a provider that asks for TLS gets TLS with a verified certificate, or sends
nothing and logs in with nothing (fail closed), with an error that says why.

Real aiosmtpd servers on loopback play each part: one that does not offer STARTTLS but
offers AUTH in clear, one that refuses STARTTLS, ones whose certificate is self-signed,
for another name or expired, over STARTTLS and over implicit TLS (security=ssl). The
certificates are made at test time; a test CA is trusted through OpenSSL's SSL_CERT_FILE
(what ssl.create_default_context() reads), so the positive controls run the production
code unchanged. Provider hosts are names ("mail.test", answered 127.0.0.1 by a fake
resolver): the connection goes to the resolved address, the certificate is checked
against the name.
"""

import datetime as dt
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.mail import EmailMessage

from api.models import Message
from providers.delivery import Outcome
from providers.models import Provider
from providers.services import provider_create, provider_test_connection
from tests import factories
from tests.security import figures
from tests.security.ssrf_dns import FakeDns, install
from tests.sending import deliver_via
from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db

SUITE = "06 TLS"
HOST = "mail.test"
# What must never reach a server before TLS is up, and (when TLS failed) never at all.
SECRET_COMMANDS = {"AUTH", "MAIL", "RCPT", "DATA", "BDAT"}


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the test CA's certificate, trusted by the positive controls
    good: tuple[Path, Path]  # (certificate, key) for mail.test, signed by the CA
    other_name: tuple[Path, Path]  # for other.test, signed by the CA
    expired: tuple[Path, Path]  # for mail.test, signed by the CA, expired yesterday
    self_signed: tuple[Path, Path]  # for mail.test, signed by itself


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    is_ca: bool = False,
    expired: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1) if expired else now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, stem: str, cert: x509.Certificate, key: Any) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    directory = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("MailPass test CA", ca_key, is_ca=True)
    ca_path, _ = _write(directory, "ca", ca, ca_key)

    def leaf(stem: str, name: str, **options: Any) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        return _write(directory, stem, _certificate(name, key, **options), key)

    return Certificates(
        ca=ca_path,
        good=leaf("good", HOST, issuer=(ca, ca_key)),
        other_name=leaf("other", "other.test", issuer=(ca, ca_key)),
        expired=leaf("expired", HOST, issuer=(ca, ca_key), expired=True),
        self_signed=leaf("self-signed", HOST),
    )


def server_context(pair: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*pair)
    return context


@pytest.fixture
def trusted_ca(certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> Path:
    # OpenSSL reads SSL_CERT_FILE each time a default context loads its trust store: from
    # here on, the test CA is the trusted store (the self-signed certificate never is).
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    return certificates.ca


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = install(monkeypatch)
    fake.answers[HOST] = ["127.0.0.1"]
    return fake


@pytest.fixture
def start_sink() -> Iterator[Callable[..., SmtpSink]]:
    sinks: list[SmtpSink] = []

    def start(**options: Any) -> SmtpSink:
        sink = SmtpSink(**options).start()
        sinks.append(sink)
        return sink

    yield start
    for sink in sinks:
        sink.stop()


@dataclass(frozen=True)
class Case:
    name: str
    security: str
    sink: Callable[[Certificates], dict[str, Any]]  # SmtpSink options
    error: str  # words the error must contain ("" for the positive controls)


REFUSED = [
    Case(
        "no STARTTLS offered, AUTH offered in clear",
        "starttls",
        lambda certs: {"offer_auth": True},
        "the server does not offer STARTTLS, so nothing was sent",
    ),
    Case(
        "STARTTLS offered, then refused",
        "starttls",
        lambda certs: {
            "tls_context": server_context(certs.good),
            "offer_auth": True,
            "starttls_reply": "454 4.7.0 TLS not available due to temporary reason",
        },
        "454 4.7.0 TLS not available",
    ),
    Case(
        "STARTTLS with a self-signed certificate",
        "starttls",
        lambda certs: {"tls_context": server_context(certs.self_signed), "offer_auth": True},
        "certificate verify failed: self-signed certificate",
    ),
    Case(
        "STARTTLS with a certificate for another name",
        "starttls",
        lambda certs: {"tls_context": server_context(certs.other_name), "offer_auth": True},
        "certificate verify failed: Hostname mismatch",
    ),
    Case(
        "STARTTLS with an expired certificate",
        "starttls",
        lambda certs: {"tls_context": server_context(certs.expired), "offer_auth": True},
        "certificate verify failed: certificate has expired",
    ),
    Case(
        "implicit TLS with a self-signed certificate",
        "ssl",
        lambda certs: {"ssl_context": server_context(certs.self_signed)},
        "certificate verify failed: self-signed certificate",
    ),
    Case(
        "implicit TLS with a certificate for another name",
        "ssl",
        lambda certs: {"ssl_context": server_context(certs.other_name)},
        "certificate verify failed: Hostname mismatch",
    ),
    Case(
        "implicit TLS with an expired certificate",
        "ssl",
        lambda certs: {"ssl_context": server_context(certs.expired)},
        "certificate verify failed: certificate has expired",
    ),
]

ACCEPTED = [
    Case(
        "STARTTLS with a certificate from a trusted CA",
        "starttls",
        lambda certs: {"tls_context": server_context(certs.good)},
        "",
    ),
    Case(
        "implicit TLS with a certificate from a trusted CA",
        "ssl",
        lambda certs: {"ssl_context": server_context(certs.good)},
        "",
    ),
]


def email() -> EmailMessage:
    return EmailMessage("Hi", "Body", "sender@example.com", ["rcpt@example.com"])


def send_each_way(api: Any, provider: Provider) -> list[tuple[str, bool, str]]:
    """(entry point, whether it succeeded, what it said) for: one delivery, the provider's
    connection test, and /send through the API with the provider as the default."""
    [result] = deliver_via(provider, [email()])
    ok, message = provider_test_connection(provider)
    api.post(
        "/api/v1/mail/send",
        {"to": "rcpt@example.com", "subject": "Hi", "text": "Body"},
        format="json",
    )
    stored = Message.objects.filter(account=provider.account).latest("pk")
    return [
        ("deliver", result.outcome is Outcome.SENT, result.error_text),
        ("test connection", ok, message),
        ("api send", stored.status == Message.Status.SENT, stored.error_message or ""),
    ]


def check_said(case: Case) -> str:
    """What the connection test says for a refused case: the kind of failure and OpenSSL's
    reason, never the server's own words (tests/security/test_connection_test.py)."""
    if case.error.startswith("certificate verify failed: "):
        return case.error.replace("certificate verify failed: ", "certificate was not accepted (")
    if case.error.startswith("454"):
        return "The SMTP server refused with code 454."
    return "The server does not offer STARTTLS, so nothing was sent."


def tls_provider(account: Any, port: int, security: str) -> Provider:
    Provider.objects.filter(account=account).delete()
    return factories.make_provider(
        account,
        host=HOST,
        port=port,
        security=security,
        username="tenant-user",
        credentials={"password": "tenant-password"},
    )


def test_a_provider_that_asks_for_tls_and_does_not_get_it_sends_nothing_in_clear(
    certificates, trusted_ca, dns, start_sink, account, api
):
    failures: list[str] = []
    cases = 0
    for case in REFUSED:
        sink = start_sink(**case.sink(certificates))
        provider = tls_provider(account, sink.port, case.security)
        for entry, succeeded, said in send_each_way(api, provider):
            cases += 1
            expected = check_said(case) if entry == "test connection" else case.error
            if succeeded or expected not in said:
                failures.append(f"{case.name}, {entry}: succeeded={succeeded}, said {said!r}")
        if leaked := [name for name, _ in sink.commands if name in SECRET_COMMANDS]:
            failures.append(f"{case.name}: the server got {leaked}")
        if sink.received:
            failures.append(f"{case.name}: the server got {len(sink.received)} messages")

    figures.check(SUITE, cases=cases, failures=failures)


def test_a_provider_gets_tls_with_a_verified_certificate_and_logs_in_only_over_it(
    certificates, trusted_ca, dns, start_sink, account, api
):
    failures: list[str] = []
    cases = 0
    for case in ACCEPTED:
        sink = start_sink(**case.sink(certificates))
        provider = tls_provider(account, sink.port, case.security)
        for entry, succeeded, said in send_each_way(api, provider):
            cases += 1
            if not succeeded:
                failures.append(f"{case.name}, {entry}: failed with {said!r}")
        in_clear = [name for name, tls in sink.commands if name in SECRET_COMMANDS and not tls]
        if in_clear or "AUTH" not in sink.commands_seen:
            failures.append(f"{case.name}: commands {sink.commands}")
        if len(sink.received) != 2:  # one delivery, one /send; the test sends nothing
            failures.append(f"{case.name}: the server got {len(sink.received)} messages")

    figures.check(SUITE, cases=cases, failures=failures)


def test_the_certificate_is_checked_against_the_host_name_not_the_address(
    certificates, trusted_ca, start_sink, account
):
    # The address itself as the host: the certificate is for mail.test, so it must fail.
    sink = start_sink(tls_context=server_context(certificates.good))
    provider = factories.make_provider(account, host="127.0.0.1", port=sink.port)
    Provider.objects.filter(pk=provider.pk).update(security="starttls")
    provider.refresh_from_db()

    [result] = deliver_via(provider, [email()])

    figures.record(SUITE, cases=1, failures=0 if result.outcome is Outcome.FAILED else 1)
    assert result.outcome is Outcome.FAILED
    assert "certificate verify failed: IP address mismatch" in result.error_text
    assert sink.received == []


def test_the_tls_errors_say_what_went_wrong(certificates, trusted_ca, dns, start_sink, account):
    no_starttls = start_sink(offer_auth=True)
    self_signed = start_sink(tls_context=server_context(certificates.self_signed))

    missing = tls_provider(account, no_starttls.port, "starttls")
    [missing_result] = deliver_via(missing, [email()])
    _, missing_check = provider_test_connection(missing)
    untrusted = tls_provider(account, self_signed.port, "starttls")
    [untrusted_result] = deliver_via(untrusted, [email()])

    figures.record(SUITE, cases=3, failures=0)
    assert missing_result.outcome is Outcome.FAILED
    assert missing_result.error_text == (
        "TLS error: the server does not offer STARTTLS, so nothing was sent "
        "(STARTTLS extension not supported by server.)"
    )
    assert missing_check == "The server does not offer STARTTLS, so nothing was sent."
    assert untrusted_result.outcome is Outcome.FAILED
    assert untrusted_result.error_text == (
        "TLS error: certificate verify failed: self-signed certificate; nothing was sent"
    )


def test_the_instance_relay_fails_closed_too(
    certificates, trusted_ca, dns, start_sink, settings, account, relay_allowed
):
    failures: list[str] = []
    relay: Provider | None = None
    for options, error in [
        ({"offer_auth": True}, "does not offer STARTTLS"),
        (
            {"tls_context": server_context(certificates.self_signed), "offer_auth": True},
            "certificate verify failed",
        ),
    ]:
        sink = start_sink(**options)
        settings.EMAIL_HOST = HOST
        settings.EMAIL_PORT = sink.port
        settings.EMAIL_HOST_USER = "relay-user"
        settings.EMAIL_HOST_PASSWORD = "relay-password"
        settings.EMAIL_USE_TLS = True
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5
        relay = relay or provider_create(account=account, name="Relay", kind="mailpass")
        [result] = deliver_via(relay, [email()])
        leaked = [name for name, _ in sink.commands if name in SECRET_COMMANDS]
        if result.outcome is Outcome.SENT or error not in result.error_text or leaked:
            failures.append(f"{options}: {result}, commands {sink.commands}")

    figures.check(SUITE, cases=2, failures=failures)
