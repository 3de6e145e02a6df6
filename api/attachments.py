"""Attachments: their bytes stored once per account and content, read back for sending and
for the dashboard, and deleted once no message carries them any more.

Storage layout: the "attachments" storage (settings.STORAGES; files under
MAILPASS_ATTACHMENT_DIR unless MAILPASS_ATTACHMENT_STORAGE names another) holds each
StoredFile under "<first two hex digits of its sha256>/<sha256>-<random>". A batch of 100
messages with the same PDF stores it once; so does next week's message with that PDF, as
long as the account still has it. The random part makes each stored copy's name new, so a
purge deleting one copy can never delete another that a request has just stored again.
"""

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Prefetch, prefetch_related_objects
from django.utils import timezone

from accounts.models import Account
from api.models import Message, MessageAttachment, StoredFile

# A stored file is deleted only once it has been unused this long: the request that stored
# or reused it may still be about to refer to it (a batch commits its messages after its
# files are stored), and a file in storage without a row may be a store in progress.
GRACE = dt.timedelta(hours=1)


def storage() -> Storage:
    return storages["attachments"]


@dataclass(frozen=True)
class Upload:
    """One attachment of a request, validated (api.serializers.AttachmentInputSerializer)."""

    filename: str
    content_type: str
    content_id: str
    data: bytes

    @classmethod
    def from_input(cls, item: dict[str, Any]) -> "Upload":
        return cls(
            filename=item["filename"],
            content_type=item["content_type"],
            content_id=item.get("content_id", ""),
            data=item["content"],
        )


def files_store(*, account: Account, contents: Iterable[bytes]) -> dict[str, StoredFile]:
    """The account's StoredFile for each distinct content, by sha256: the one it already
    has (marked as used now), else the content written to storage once."""
    by_digest = {hashlib.sha256(data).hexdigest(): data for data in contents}
    files: dict[str, StoredFile] = {}
    for digest, data in by_digest.items():
        files[digest] = _reuse(account, digest) or _store_new(account, digest, data)
    return files


def _reuse(account: Account, digest: str) -> StoredFile | None:
    # The UPDATE first: once it has set last_used_at, a purge's conditional delete leaves
    # the row alone; if a purge deleted it first, the update finds nothing.
    owned = StoredFile.objects.filter(account=account, sha256=digest)
    if not owned.update(last_used_at=timezone.now()):
        return None
    return owned.first()


def _store_new(account: Account, digest: str, data: bytes) -> StoredFile:
    name = storage().save(f"{digest[:2]}/{digest}-{secrets.token_hex(4)}", ContentFile(data))
    try:
        with transaction.atomic():
            return StoredFile.objects.create(
                account=account, sha256=digest, size=len(data), name=name
            )
    except IntegrityError:
        # Another request stored the same content at the same moment: keep its copy.
        storage().delete(name)
        reused = _reuse(account, digest)
        if reused is None:
            raise
        return reused


def attachments_for(uploads: list[Upload], files: dict[str, StoredFile]) -> list[MessageAttachment]:
    """Unsaved MessageAttachment rows for `uploads` (their message still to be set)."""
    return [
        MessageAttachment(
            file=files[hashlib.sha256(upload.data).hexdigest()],
            position=position,
            filename=upload.filename,
            content_type=upload.content_type,
            content_id=upload.content_id,
        )
        for position, upload in enumerate(uploads)
    ]


def prefetch_attachments(messages: list[Message]) -> None:
    """Load the attachment rows (and their files) of those of `messages` that have any, in
    one query, so that sending them asks the database nothing more."""
    with_files = [message for message in messages if message.attachment_count]
    if with_files:
        prefetch_related_objects(
            with_files,
            Prefetch("attachments", queryset=MessageAttachment.objects.select_related("file")),
        )


def content_of(attachment: MessageAttachment) -> bytes:
    with storage().open(attachment.file.name, "rb") as stored:
        return stored.read()


# --- purge ---------------------------------------------------------------------------------


def purge_files(now: dt.datetime | None = None) -> int:
    """Delete every stored file no message carries any more and unused for GRACE, and
    files in storage that no row names (api.retention runs it after deleting messages)."""
    return _purge_files((now or timezone.now()) - GRACE)


def _purge_files(cutoff: dt.datetime) -> int:
    unused = StoredFile.objects.filter(last_used_at__lt=cutoff).filter(
        ~Exists(MessageAttachment.objects.filter(file_id=OuterRef("pk")))
    )
    deleted = 0
    for pk in list(unused.values_list("pk", flat=True)):
        with transaction.atomic():
            # Locked and checked again: a request may have reused it since the list was read.
            row = unused.select_for_update().filter(pk=pk).first()
            if row is None:
                continue
            row.delete()
        storage().delete(row.name)
        deleted += 1
    return deleted + _purge_strays(cutoff)


def _purge_strays(cutoff: dt.datetime) -> int:
    """Delete files in storage that no StoredFile names (a store whose request died, an
    account deleted with its rows), once older than `cutoff`."""
    deleted = 0
    for chunk in _chunks(_stored_names(), 500):
        known = set(StoredFile.objects.filter(name__in=chunk).values_list("name", flat=True))
        for name in chunk:
            if name not in known and storage().get_modified_time(name) < cutoff:
                storage().delete(name)
                deleted += 1
    return deleted


def _stored_names() -> Iterator[str]:
    try:
        folders, _ = storage().listdir("")
    except FileNotFoundError:  # nothing stored yet: the folder does not exist
        return
    for folder in folders:
        for name in storage().listdir(folder)[1]:
            yield f"{folder}/{name}"


def _chunks(names: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for name in names:
        chunk.append(name)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
