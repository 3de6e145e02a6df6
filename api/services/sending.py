"""Sending: one message now (/send, the dashboard's test email), a batch into the queue,
failed messages back into it."""

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from rest_framework.exceptions import ValidationError

from accounts.models import Account
from accounts.quotas import quota_take
from api import outbox, queue
from api.attachments import Upload, attachments_for, files_store, prefetch_attachments
from api.emails import email_for_sending, new_message_id, provider_needs
from api.errors import (
    DomainNotVerifiedError,
    NoProviderError,
    RecipientSuppressedError,
    SendFailedError,
    SendLimitExceededError,
)
from api.models import (
    ApiKey,
    Message,
    MessageAttachment,
    MessageEvent,
    Suppression,
    TemplateVersion,
)
from api.selectors import recipients_of, suppressed_recipients
from api.services.scheduling import check_scheduled_at, scheduled_event
from api.services.suppressions import suppression_text
from api.services.templates import TemplateCache, template_render
from api.services.testmode import play_out
from mailpass.logs import log_context
from providers import courtesy, deadline, delivery, domains, limits, pool
from providers.delivery import Outcome
from providers.models import Provider
from providers.selectors import provider_chain, provider_get_default


def _default_provider(account: Account) -> Provider:
    provider = provider_get_default(account=account)
    if provider is None:
        raise NoProviderError()
    return provider


@dataclass
class NewMessage:
    """A message about to be recorded, and the files it carries (stored with it)."""

    message: Message
    uploads: list[Upload]


def _new_message(
    *,
    account: Account,
    api_key: ApiKey | None,
    provider: Provider | None,
    data: dict[str, Any],
    templates: TemplateCache,
    rule: domains.SendingRule,
) -> NewMessage:
    """An unsaved Message from validated input, the provider's sender filling the gaps,
    its subject and bodies rendered from its template if it names one. A test key's
    message is checked against the default provider, if there is one, but never given one.

    Raises ValidationError when neither the request nor the provider names a sender, when
    the template is unknown or does not render, when scheduled_at is out of bounds, and
    when the provider cannot take the message (too large, inline files it cannot send…);
    DomainNotVerifiedError when the sending rule refuses its From domain.
    """
    from_email = data.get("from_email") or (provider.from_email if provider else "")
    if not from_email:
        raise ValidationError(
            {"from_email": ["Required: the default provider has no sender address."]}
            if provider
            else {"from_email": ["Required: the account has no provider to take it from."]}
        )
    if refused := rule.refused_domain(from_email):
        raise DomainNotVerifiedError(refused)
    if "scheduled_at" in data:
        check_scheduled_at(data["scheduled_at"])
    version = None
    content = {name: data.get(name, "") for name in ("subject", "html", "text")}
    if "template" in data:
        version = templates.version_for(data["template"])
        content = _rendered(version, data["template"].get("variables", {}))
    uploads = [Upload.from_input(item) for item in data.get("attachments", [])]
    tracking = {name: _tracking_choice(account, data, name) for name in TRACKING_FIELDS}
    test = api_key is not None and api_key.test
    message = Message(
        account=account,
        api_key=api_key,
        provider=None if test else provider,
        test=test,
        message_id=new_message_id(),
        from_email=from_email,
        from_name=data.get("from_name", provider.from_name if provider else ""),
        to_email=data["to"],
        reply_to=data.get("reply_to", ""),
        cc=data.get("cc", []),
        bcc=data.get("bcc", []),
        subject=content["subject"],
        html=content["html"],
        text=content["text"],
        template_version=version,
        scheduled_at=data.get("scheduled_at"),
        tags=data.get("tags", []),
        metadata=data.get("metadata", {}),
        headers=data.get("headers", {}),
        unsubscribe=data.get("unsubscribe", account.unsubscribe),
        attachment_count=len(uploads),
        **tracking,
    )
    if provider is not None:
        _check_provider_takes(provider, message, uploads)
    return NewMessage(message, uploads)


def _rendered(version: TemplateVersion, variables: dict[str, Any]) -> dict[str, str]:
    """The message's subject and bodies from `version`; a ValidationError under `template`."""
    try:
        rendered = template_render(version=version, variables=variables)
    except ValidationError as err:
        detail = err.detail
        assert isinstance(detail, dict)
        raise ValidationError({"template": detail.get("template", detail)}) from err
    return {"subject": rendered.subject, "html": rendered.html, "text": rendered.text}


def _check_provider_takes(provider: Provider, message: Message, uploads: list[Upload]) -> None:
    """Raise ValidationError, naming the field, when `provider` cannot take `message`
    (delivery.cannot_take): better a 400 now than a failure, or a bounce, later."""
    files = [(len(upload.data), bool(upload.content_id)) for upload in uploads]
    needs = provider_needs(message, files)
    field_needs = [
        ("attachments" if uploads else "html", delivery.Needs(size=needs.size)),
        ("attachments", delivery.Needs(inline_files=needs.inline_files)),
        ("headers", delivery.Needs(non_ascii_headers=needs.non_ascii_headers)),
    ]
    for field, one_need in field_needs:
        if refusal := delivery.cannot_take(provider, one_need):
            raise ValidationError({field: [refusal]})


def _save_with_attachments(account: Account, new: list[NewMessage]) -> None:
    """Store the files of `new` (each distinct content once), then insert the messages and
    their attachment rows; call inside a transaction. A file stored for a transaction that
    rolls back is deleted by the next purge (api.attachments)."""
    files = files_store(
        account=account, contents=(upload.data for item in new for upload in item.uploads)
    )
    Message.objects.bulk_create([item.message for item in new])
    rows: list[MessageAttachment] = []
    for item in new:
        for row in attachments_for(item.uploads, files):
            row.message = item.message
            rows.append(row)
    MessageAttachment.objects.bulk_create(rows)


TRACKING_FIELDS = ("track_opens", "track_clicks")


def _tracking_choice(account: Account, data: dict[str, Any], name: str) -> bool:
    """The request's track_opens/track_clicks, else the account's default; tracking needs
    the operator's permission (Account.tracking_enabled): asking without it is a 400."""
    wanted = data.get(name, getattr(account, name))
    if wanted and not account.tracking_enabled:
        if name in data:
            raise ValidationError({name: [TRACKING_REFUSAL]})
        return False
    return bool(wanted)


TRACKING_REFUSAL = (
    "Open and click tracking is not enabled for this account: ask the operator of this "
    "MailPass instance."
)


def _take_quota(account: Account, messages: list[NewMessage]) -> None:
    """Count `messages` against the account's daily quota; raise SendLimitExceededError
    (scope "account") when they do not fit, and then nothing is counted."""
    recipients = sizes = 0
    for new in messages:
        message = new.message
        count = len(recipients_of(message))
        recipients += count
        size = len(f"{message.subject}{message.html}{message.text}".encode())
        size += sum(len(upload.data) for upload in new.uploads)
        sizes += count * size
    refusal = quota_take(account=account, recipients=recipients, size=sizes)
    if refusal is not None:
        raise SendLimitExceededError(
            retry_after=refusal.retry_after, scope="account", message=refusal.text
        )


def message_send(*, account: Account, api_key: ApiKey | None, data: dict[str, Any]) -> Message:
    """Send one message now through the account's default provider and record the outcome.

    Raises NoProviderError (no default provider), ValidationError (no sender, or tracking
    asked for without the operator's permission), RecipientSuppressedError (a recipient is
    suppressed; recorded as suppressed, no provider is contacted), SendLimitExceededError
    (the provider's limit or the account's daily quota is reached; nothing is recorded) and
    SendFailedError (the provider did not accept it; the message is recorded as failed).
    The message is stored as `sending` with a lease before the provider is contacted, so
    if this process dies mid-send the queue picks it up: nothing accepted is ever lost.

    With a test key no provider is needed or contacted: the message is recorded and its
    recipient address plays out what happens next (api.services.testmode).
    """
    if api_key is not None and api_key.test:
        return _send_through([], account=account, api_key=api_key, data=data)
    provider = _default_provider(account)
    return _send_through(
        provider_chain(provider=provider), account=account, api_key=api_key, data=data
    )


def message_send_test(*, account: Account, provider: Provider, to_email: str) -> Message:
    """Send a short test message to `to_email` now through `provider` alone, recorded like
    any message and tagged "test" (for the dashboard's "send test email").

    No fallback is tried: the point is to see whether this provider takes mail. The sender
    is the provider's own from_email. Raises ValidationError when the provider has none,
    and otherwise what message_send raises but NoProviderError: RecipientSuppressedError,
    SendLimitExceededError (a test counts against the limits like any message) and
    SendFailedError, with the provider's own words in details["provider_error"].
    """
    if provider.account_id != account.pk:
        raise ValueError("message_send_test: the provider belongs to another account")
    data = {
        "to": to_email,
        "subject": gettext("MailPass test email"),
        "text": gettext(
            "This is a test email from MailPass, sent through the provider %(name)s. "
            "It arrived, so the provider works."
        )
        % {"name": provider.name},
        "tags": ["test"],
        "track_opens": False,
        "track_clicks": False,
    }
    return _send_through([provider], account=account, api_key=None, data=data)


def _send_through(
    chain: list[Provider], *, account: Account, api_key: ApiKey | None, data: dict[str, Any]
) -> Message:
    """message_send's work, through the first provider of `chain` and then the others in
    turn while one certainly did not take the message; no chain: a test key's message."""
    provider = chain[0] if chain else provider_get_default(account=account)
    new = _new_message(
        account=account,
        api_key=api_key,
        provider=provider,
        data=data,
        templates=TemplateCache(account),
        rule=domains.sending_rule(account, chain),
    )
    message = new.message
    if suppressed := suppressed_recipients(messages=[message]):
        [(_, hits)] = suppressed
        _record_suppressed(message, hits)
        with transaction.atomic():
            _save_with_attachments(account, [new])
            outbox.emit([outbox.suppressed(message, [entry.email for entry in hits])])
        raise RecipientSuppressedError(
            message_id=message.message_id, addresses=[entry.email for entry in hits]
        )
    if message.scheduled_at is not None:
        _schedule(message)
        with transaction.atomic():
            _take_quota(account, [new])
            _save_with_attachments(account, [new])
            event = scheduled_event(message)
            event.save()
            outbox.emit_events([(event, message)])
        return message
    if message.test:
        return _send_test(new)
    assert provider is not None  # a live key's chain is never empty
    grant = None
    if provider.has_limits:
        grant = limits.acquire(provider=provider, wanted=1)
        if not grant.granted:
            raise SendLimitExceededError(retry_after=grant.retry_after)
    if not courtesy.wait_for_turn(provider, within=settings.MAILPASS_REQUEST_TIMEOUT_SECONDS / 2):
        if grant is not None:
            limits.release(provider=provider, grant_window=grant.window_start, count=1)
        raise SendLimitExceededError(
            retry_after=1, message="The provider's per-second rate is reached."
        )
    try:
        _take_quota(account, [new])
    except SendLimitExceededError:
        if grant is not None:
            limits.release(provider=provider, grant_window=grant.window_start, count=1)
        raise
    now = timezone.now()
    message.status = Message.Status.SENDING
    message.claim_token = uuid.uuid4()
    message.lease_expires_at = now + dt.timedelta(seconds=settings.MAILPASS_QUEUE_LEASE_SECONDS)
    try:
        if new.uploads:
            with transaction.atomic():
                _save_with_attachments(account, [new])
            prefetch_attachments([message])
        else:
            message.save()
    except Exception:
        if grant is not None:
            limits.release(provider=provider, grant_window=grant.window_start, count=1)
        raise
    with log_context(message_id=message.message_id):
        attempts, grants = _send_now(message, chain)
    if grant is not None:
        grants[provider.pk] = grant.window_start
    queue.record_attempts(message, attempts, grants, allow_retry=False)
    final = attempts[-1]
    if final.result.outcome is not Outcome.SENT:
        raise SendFailedError(message_id=message.message_id, provider_error=final.result.error_text)
    if not final.provider.has_limits:
        limits.record_usage(provider=final.provider, count=1)
    return message


def _send_test(new: NewMessage) -> Message:
    """Record a test key's message as a provider would have taken it, and play out what its
    address asks for; the message's status is the one /send answers (sent, or failed)."""
    message = new.message
    with transaction.atomic():
        _take_quota(message.account, [new])
        message.status = Message.Status.SENDING
        message.claim_token = uuid.uuid4()
        lease = dt.timedelta(seconds=settings.MAILPASS_QUEUE_LEASE_SECONDS)
        message.lease_expires_at = timezone.now() + lease
        _save_with_attachments(message.account, [new])
    message.status = play_out(message, allow_retry=False)
    return message


def _send_now(
    message: Message, chain: list[Provider]
) -> tuple[list[delivery.Attempt], dict[int, dt.datetime]]:
    """Send through the first provider of `chain`, then the next while one certainly did
    not take it; each over a warm connection of the process's pool (providers.pool), given
    back afterwards. All of it within MAILPASS_REQUEST_TIMEOUT_SECONDS, so the request
    answers before the web tier gives up."""
    grants: dict[int, dt.datetime] = {}
    with deadline.within(settings.MAILPASS_REQUEST_TIMEOUT_SECONDS), pool.channels.lend() as lent:

        def may_use(fallback: Provider) -> bool:
            try:
                left = deadline.remaining() or 0.0
            except deadline.DeadlineExceeded:
                left = 0.0
            if not courtesy.wait_for_turn(fallback, within=left):
                return False
            return queue.take_fallback_capacity(fallback, grants)

        email = email_for_sending(message)
        attempts = delivery.send_with_failover(
            email, chain, lent, may_use=may_use, needs=email.needs
        )
    return attempts, grants


def _schedule(message: Message, *, turn_offset: dt.timedelta = dt.timedelta(0)) -> None:
    """Mark an unsaved message with a scheduled_at as waiting for it. Its turn in the claim
    order starts at that time; a batch's messages are spaced as they would be if queued."""
    assert message.scheduled_at is not None
    message.status = Message.Status.SCHEDULED
    message.next_attempt_at = None
    message.turn_at = message.scheduled_at + turn_offset


def _record_suppressed(message: Message, hits: list[Suppression]) -> None:
    """Mark an (unsaved or claimed) message as not sent because of `hits`."""
    message.status = Message.Status.SUPPRESSED
    message.error_message = suppression_text(hits)
    message.next_attempt_at = None


@dataclass(frozen=True)
class InvalidItem:
    """A batch item that failed input validation, kept in its place in the batch."""

    to: Any
    errors: dict[str, Any]


@dataclass(frozen=True)
class BatchItemResult:
    to: Any
    message: Message | None = None  # recorded: queued, or suppressed
    # Not recorded: invalid input (a ValidationError's detail) or a refused From domain.
    errors: Any = None
    suppressed: tuple[str, ...] = ()  # the recipients that kept a recorded message back

    @property
    def queued(self) -> bool:
        return self.message is not None and not self.suppressed


def batch_enqueue(
    *, account: Account, api_key: ApiKey | None, items: list[dict[str, Any] | InvalidItem]
) -> list[BatchItemResult]:
    """Queue every valid item of a batch in one transaction; report the others as failed.

    `items` holds, per batch position, validated message data or an InvalidItem. Raises
    NoProviderError for an account without a default provider, and SendLimitExceededError
    (scope "account") when the items to queue do not fit the account's daily quota: then
    nothing is queued. All valid items are committed together or not at all; each gets its
    queue_id (pk) and message_id. An item with a suppressed recipient is recorded as
    `suppressed`, not queued.
    """
    test = api_key is not None and api_key.test
    provider = provider_get_default(account=account) if test else _default_provider(account)
    now = timezone.now()
    turns = iter(queue.next_turns(account_id=account.pk, count=len(items)))
    templates = TemplateCache(account)
    chain = provider_chain(provider=provider) if provider is not None and not test else []
    rule = domains.sending_rule(account, chain)
    results: list[BatchItemResult] = []
    new_by_message: dict[int, NewMessage] = {}
    for position, item in enumerate(items):
        if isinstance(item, InvalidItem):
            results.append(BatchItemResult(to=item.to, errors=item.errors))
            continue
        try:
            new = _new_message(
                account=account,
                api_key=api_key,
                provider=provider,
                data=item,
                templates=templates,
                rule=rule,
            )
        except ValidationError as err:
            results.append(BatchItemResult(to=item.get("to"), errors=err.detail))
            continue
        except DomainNotVerifiedError as err:
            results.append(BatchItemResult(to=item.get("to"), errors=err))
            continue
        message = new.message
        new_by_message[id(message)] = new
        message.queued_at = now
        if message.scheduled_at is not None:
            _schedule(message, turn_offset=queue.FAIR_SPACING * position)
        else:
            message.next_attempt_at = now
            message.turn_at = next(turns)
        results.append(BatchItemResult(to=message.to_email, message=message))
    messages = [r.message for r in results if r.message is not None]
    held_back = {}
    for message, hits in suppressed_recipients(messages=messages):
        _record_suppressed(message, hits)
        held_back[id(message)] = tuple(entry.email for entry in hits)
    results = [
        dataclasses.replace(r, suppressed=held_back[id(r.message)])
        if id(r.message) in held_back
        else r
        for r in results
    ]
    with transaction.atomic():
        # Counted with the insert: a batch that is refused or rolled back counts nothing.
        _take_quota(
            account, [new_by_message[id(r.message)] for r in results if r.message and r.queued]
        )
        _save_with_attachments(
            account, [new_by_message[id(r.message)] for r in results if r.message is not None]
        )
        scheduled = [
            (scheduled_event(r.message), r.message)
            for r in results
            if r.message is not None and r.message.status == Message.Status.SCHEDULED
        ]
        MessageEvent.objects.bulk_create([event for event, _ in scheduled])
        outbox.emit_events(scheduled)
        outbox.emit(
            outbox.suppressed(r.message, r.suppressed)
            for r in results
            if r.message is not None and r.suppressed
        )
    return results


def messages_requeue_failed(
    *, account: Account | None = None, since: dt.datetime | None = None
) -> int:
    """Put failed messages back in the queue, due now, with fresh attempts and age.

    Scoped to `account` when given (None: every account, for operators), and to messages
    created at or after `since`. Returns how many were requeued. Their Message-IDs stay
    the same, so a recipient's client can still tell a repeat from a new message.
    """
    failed = Message.objects.filter(status=Message.Status.FAILED)
    if account is not None:
        failed = failed.filter(account=account)
    if since is not None:
        failed = failed.filter(created_at__gte=since)
    now = timezone.now()
    return failed.update(
        status=Message.Status.QUEUED,
        attempts=0,
        queued_at=now,
        next_attempt_at=now,
        turn_at=now,
        error_message=None,
        failure_reason=None,
    )
