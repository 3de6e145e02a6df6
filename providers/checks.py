"""Connection tests: can MailPass reach a provider and log in, without sending anything?

Each kind's row in providers.kinds names its check, one of the functions below. SMTP
kinds connect, say EHLO, log in when they have a login, and QUIT. Each ESP gets one cheap
authenticated read against its API, at the same base URL sending uses, so a bad key or an
unreachable API shows up before the first message does. A check gets the time a delivery
attempt gets (providers.deadline), over the same deadline-keeping I/O.
"""

from typing import Any

import boto3
import requests
from botocore.config import Config
from django.core.mail.backends.smtp import EmailBackend as SMTPEmailBackend
from django.utils.module_loading import import_string

from providers import deadline
from providers.backends import aws_calls_within_deadline, http_session
from providers.connections import api_url_for, open_for
from providers.delivery import http_error_text
from providers.kinds import spec_for
from providers.models import Provider


class CheckFailedError(Exception):
    """The provider answered, but not with a yes; the message is the provider's words."""


def smtp(provider: Provider) -> str:
    """SMTP kinds: connect, EHLO (STARTTLS and login when configured), QUIT."""
    backend = open_for(provider)
    assert isinstance(backend, SMTPEmailBackend)  # the SMTP kinds' rows name one
    backend.open()
    try:
        client = backend.connection
        assert client is not None  # open() connected, or raised
        code, reply = client.ehlo()
        if code != 250:
            raise CheckFailedError(f"EHLO refused: {code} {reply.decode(errors='replace')}")
    finally:
        backend.close()  # QUIT
    login = f" and logged in as {backend.username}" if backend.username else ""
    return f"Connected to {backend.host}:{backend.port}{login}."


def _get(provider: Provider, path: str, **auth: Any) -> requests.Response:
    url = f"{api_url_for(provider)}{path}"
    with http_session() as session:
        response = session.get(
            url,
            headers={"Accept": "application/json", **auth.pop("headers", {})},
            timeout=deadline.timeout_for(provider),
            allow_redirects=False,
            **auth,
        )
    if response.status_code != 200:
        raise CheckFailedError(
            f"{provider.get_kind_display()} {response.status_code}: {http_error_text(response)}"
        )
    return response


def _bearer(provider: Provider) -> dict[str, str]:
    return {"Authorization": f"Bearer {provider.credentials.get('api_key', '')}"}


def sendgrid(provider: Provider) -> str:
    """The API key's scopes, which must include sending."""
    scopes = _get(provider, "scopes", headers=_bearer(provider)).json().get("scopes", [])
    if "mail.send" not in scopes:
        raise CheckFailedError("The SendGrid API key works but may not send mail (mail.send).")
    return "SendGrid accepted the API key."


def mailgun(provider: Provider) -> str:
    """The sending domain, read with the API key."""
    domain = provider.options.get("domain", "")
    auth = ("api", provider.credentials.get("api_key", ""))
    _get(provider, f"domains/{domain}", auth=auth)
    return f"Mailgun accepted the API key for {domain}."


def postmark(provider: Provider) -> str:
    """The server the token belongs to."""
    token = provider.credentials.get("server_token", "")
    name = _get(provider, "server", headers={"X-Postmark-Server-Token": token}).json().get("Name")
    return f"Postmark accepted the server token (server {name!r})."


def resend(provider: Provider) -> str:
    """The account's domains (a sending-only key may not list them, and that is fine)."""
    try:
        _get(provider, "domains", headers=_bearer(provider))
    except CheckFailedError as err:
        # A sending-only key may not list domains, and Resend says so: the key is good.
        if "restricted" not in str(err):
            raise
    return "Resend accepted the API key."


def brevo(provider: Provider) -> str:
    """The account the API key belongs to."""
    _get(provider, "account", headers={"api-key": provider.credentials.get("api_key", "")})
    return "Brevo accepted the API key."


def amazon_ses(provider: Provider) -> str:
    """The SES account of the access keys, which must be allowed to send."""
    secrets = provider.credentials
    session = boto3.session.Session(
        aws_access_key_id=secrets.get("access_key_id", ""),
        aws_secret_access_key=secrets.get("secret_access_key", ""),
        region_name=provider.options.get("region", ""),
    )
    client = session.client(
        "sesv2",
        endpoint_url=api_url_for(provider),
        config=Config(
            connect_timeout=deadline.timeout_for(provider),
            read_timeout=deadline.timeout_for(provider),
            retries={"mode": "standard", "total_max_attempts": 1},
        ),
    )
    http = aws_calls_within_deadline(client)
    try:
        account = client.get_account()
    finally:
        client.close()
        http.close()
    if not account.get("SendingEnabled", True):
        raise CheckFailedError("Amazon SES accepted the keys, but sending is paused for them.")
    return "Amazon SES accepted the access keys."


def run(provider: Provider) -> str:
    """Run the kind's check; returns a success sentence, raises on any failure.

    The check ends within deadline.timeout_for(provider), QUIT included
    (DeadlineExceeded, or the HTTP library's timeout error, when the provider is slower).
    """
    with deadline.within(deadline.timeout_for(provider)):
        return import_string(spec_for(provider.kind).check)(provider)
