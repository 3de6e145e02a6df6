"""Plain helpers that make test objects through the same services the app uses."""

import struct
import zlib
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from accounts.models import Account
from accounts.services import (
    account_create,
    account_member_add,
    account_set_verified_domains_only,
)
from api.attachments import Upload, attachments_for, files_store
from api.emails import new_message_id
from api.models import ApiKey, Message, MessageAttachment
from api.services import api_key_create
from providers import domains
from providers.models import Provider, SenderDomain
from providers.services import provider_create
from tests.providers.esp_servers import esp_values

if TYPE_CHECKING:
    from tests.dns_server import DnsServer


def make_user(username: str) -> AbstractBaseUser:
    return get_user_model().objects.create_user(username=username, password="pw-" + username)


def make_account(
    owner: AbstractBaseUser,
    *,
    members: tuple[AbstractBaseUser, ...] = (),
    verified_domains_only: bool = False,
) -> Account:
    """An account as account_create() makes it, except that it may send from any domain
    unless asked (most tests are not about sender domains; tests/providers/test_domains.py
    and the sign-up tests are)."""
    account = account_create(owner=owner)
    if account.verified_domains_only != verified_domains_only:
        account_set_verified_domains_only(account=account, on=verified_domains_only)
    for member in members:
        account_member_add(account=account, user=member)
    return account


def make_api_key(
    account: Account,
    *,
    permissions: list[str] | None = None,
    created_by: AbstractBaseUser | None = None,
    test: bool = False,
) -> tuple[ApiKey, str]:
    return api_key_create(
        account=account,
        name="test key",
        permissions=permissions,
        created_by=created_by,
        test=test,
    )


def make_provider(account: Account, *, port: int, **fields: Any) -> Provider:
    values: dict[str, Any] = {
        "name": "Test sink",
        "host": "127.0.0.1",
        "port": port,
        "security": Provider.Security.NONE,
        "timeout": 5,
        "from_email": "sender@example.com",
        "from_name": "Sender",
        "is_default": True,
    }
    values.update(fields)
    return provider_create(account=account, **values)


def make_esp_provider(
    account: Account,
    kind: str,
    *,
    key: str = "key-one",
    name: str = "ESP",
    credentials: dict[str, str] | None = None,
    **fields: Any,
) -> Provider:
    """A provider of an ESP `kind` whose API credential is `key`, shaped as the loopback fake
    of that ESP (tests/providers/esp_servers.py) reads it (it refuses only REJECTED_KEY).
    `credentials` add to or replace the kind's ones (webhook secrets, other keys); `fields`
    are provider_create's other arguments, `options` replacing the kind's."""
    values = esp_values(kind, key)
    return provider_create(
        account=account,
        name=name,
        kind=kind,
        credentials={**values["credentials"], **(credentials or {})},
        **{"options": values["options"], **fields},
    )


def make_message(account: Account, **fields: Any) -> Message:
    values: dict[str, Any] = {
        "message_id": new_message_id(),
        "from_email": "sender@example.com",
        "to_email": "rcpt@example.com",
        "subject": "Hello",
        "text": "Hi there",
        "status": Message.Status.QUEUED,
    }
    values.update(fields)
    return Message.objects.create(account=account, **values)


def make_attachment(
    message: Message,
    *,
    filename: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    content_id: str = "",
) -> MessageAttachment:
    """Add one file after the message's others, as its next position."""
    upload = Upload(filename=filename, content_type=content_type, content_id=content_id, data=data)
    files = files_store(account=message.account, contents=[data])
    [row] = attachments_for([upload], files)
    row.message = message
    row.position = message.attachment_count
    row.save()
    message.attachment_count += 1
    message.save(update_fields=["attachment_count"])
    return row


def make_png(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    """A real PNG of one colour: signature, IHDR, one zlib IDAT, IEND (RFC 2083)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))  # filter 0 per row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_verified_domain(account: Account, name: str, dns_server: "DnsServer") -> SenderDomain:
    """A sender domain of `account` whose records `dns_server` publishes, checked: verified."""
    domain = domains.domain_create(account=account, name=name)
    dns_server.publish_all(domains.records_of(domain))
    if settings.MAILPASS_SPF_INCLUDE:
        include = settings.MAILPASS_SPF_INCLUDE.partition(":")[2]
        dns_server.publish(include, "v=spf1 ip4:192.0.2.0/24 -all")
    domain = domains.domain_verify(domain)
    assert domain.status == SenderDomain.Status.VERIFIED, domains.records_of(domain)
    return domain
