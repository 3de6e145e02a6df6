"""Input serializers: the request shape and every rule that needs no database.

One MessageInputSerializer serves /send and each /send-batch item. Fields that end up in
a mail header refuse line breaks and control characters outright, before any trimming:
that is what stops header injection.
"""

import json
from typing import TYPE_CHECKING, Any

from django.core.paginator import Page, Paginator
from rest_framework import serializers

from api.models import Suppression
from api.services import InvalidItem
from providers.validators import (
    ENCODED_WORD,
    ENCODED_WORD_MESSAGE,
    HEADER_UNSAFE,
    HEADER_UNSAFE_MESSAGE,
)

MAX_SUBJECT_CHARS = 998  # RFC 5322's line limit; longer subjects are folded badly by clients
MAX_BODY_CHARS = 5 * 1024 * 1024
MAX_RECIPIENTS = 50  # to + cc + bcc
MAX_TAGS = 10
MAX_TAG_CHARS = 100
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_CHARS = 100
MAX_METADATA_VALUE_CHARS = 1000
MAX_METADATA_BYTES = 16 * 1024
MAX_BATCH = 100


if TYPE_CHECKING:
    # The mixin below is put before a serializer field class and calls its method: to the
    # type checker it is a field (at run time a plain class).
    _FieldMixin = serializers.Field
else:
    _FieldMixin = object


class _HeaderSafe(_FieldMixin):
    """Mixin: refuse header-unsafe characters in the raw input, before DRF trims it."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if isinstance(data, str) and HEADER_UNSAFE.search(data):
            raise serializers.ValidationError(HEADER_UNSAFE_MESSAGE)
        return super().run_validation(data)


class HeaderCharField(_HeaderSafe, serializers.CharField):
    pass


class HeaderEmailField(_HeaderSafe, serializers.EmailField):
    default_error_messages = {"encoded_word": ENCODED_WORD_MESSAGE}

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if ENCODED_WORD.search(value):
            self.fail("encoded_word")
        return value


class MetadataField(serializers.DictField):
    """A flat object of scalar values, small enough to travel in every provider's API."""

    default_error_messages = {
        "too_many": f"At most {MAX_METADATA_KEYS} keys.",
        "too_big": f"At most {MAX_METADATA_BYTES} bytes as JSON.",
        "bad_key": f"Keys must be 1-{MAX_METADATA_KEY_CHARS} characters without line breaks.",
        "bad_value": (
            "Values must be strings (up to "
            f"{MAX_METADATA_VALUE_CHARS} characters), numbers, booleans or null."
        ),
        "nul_value": "Values must not contain NUL characters.",
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        if len(value) > MAX_METADATA_KEYS:
            self.fail("too_many")
        for key, item in value.items():
            if not key or len(key) > MAX_METADATA_KEY_CHARS or HEADER_UNSAFE.search(key):
                self.fail("bad_key")
            if isinstance(item, str):
                if len(item) > MAX_METADATA_VALUE_CHARS:
                    self.fail("bad_value")
                if "\x00" in item:  # PostgreSQL's jsonb cannot hold \u0000: storing it was a 500
                    self.fail("nul_value")
            elif item is not None and not isinstance(item, int | float | bool):
                self.fail("bad_value")
        if len(json.dumps(value)) > MAX_METADATA_BYTES:
            self.fail("too_big")
        return value


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error, so a typo like `form_email` is caught, not ignored."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def _optional(field_class: type[serializers.Field], **kwargs: Any) -> serializers.Field:
    return field_class(required=False, allow_null=True, **kwargs)


def _body(help_text: str) -> serializers.Field:
    # Bodies keep their whitespace and may hold line breaks: they never become a header.
    return _optional(
        serializers.CharField,
        allow_blank=True,
        trim_whitespace=False,
        max_length=MAX_BODY_CHARS,
        help_text=help_text,
    )


class MessageInputSerializer(StrictSerializer):
    to = HeaderEmailField(help_text="Recipient email address.")
    subject = HeaderCharField(max_length=MAX_SUBJECT_CHARS, help_text="Email subject.")
    html = _body("HTML body. Either html or text is required.")
    text = _body("Plain-text body. Either html or text is required.")
    from_email = _optional(
        HeaderEmailField, help_text="Sender address (default: the provider's sender)."
    )
    from_name = _optional(
        HeaderCharField, allow_blank=True, max_length=200, help_text="Sender display name."
    )
    reply_to = _optional(HeaderEmailField, allow_blank=True, help_text="Reply-To address.")
    cc = _optional(
        serializers.ListField,
        child=HeaderEmailField(),
        max_length=MAX_RECIPIENTS,
        help_text="Cc addresses.",
    )
    bcc = _optional(
        serializers.ListField,
        child=HeaderEmailField(),
        max_length=MAX_RECIPIENTS,
        help_text="Bcc addresses (envelope only, never in a header).",
    )
    tags = _optional(
        serializers.ListField,
        child=HeaderCharField(max_length=MAX_TAG_CHARS),
        max_length=MAX_TAGS,
        help_text="Tags for categorisation.",
    )
    metadata = _optional(
        MetadataField,
        help_text=(
            f"Custom key/value data kept with the message: a flat object of at most "
            f"{MAX_METADATA_KEYS} keys (1-{MAX_METADATA_KEY_CHARS} characters, no line breaks) "
            f"whose values are strings (up to {MAX_METADATA_VALUE_CHARS} characters, no NUL), "
            f"numbers, booleans or null; {MAX_METADATA_BYTES} bytes as JSON in all."
        ),
    )
    track_opens = _optional(
        serializers.BooleanField,
        help_text="Record opens through a 1x1 image (HTML only). Default: the account's setting.",
    )
    track_clicks = _optional(
        serializers.BooleanField,
        help_text="Record clicks by sending http(s) links through a redirect (HTML only). "
        "Default: the account's setting.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # null means "not given" for every optional field.
        attrs = {name: value for name, value in attrs.items() if value is not None}
        if not attrs.get("html") and not attrs.get("text"):
            raise serializers.ValidationError({"html": ["Either html or text is required."]})
        recipients = 1 + len(attrs.get("cc", [])) + len(attrs.get("bcc", []))
        if recipients > MAX_RECIPIENTS:
            raise serializers.ValidationError(
                {"cc": [f"At most {MAX_RECIPIENTS} recipients in to, cc and bcc together."]}
            )
        return attrs


class BatchInputSerializer(StrictSerializer):
    """The batch envelope. Items stay raw here: each is validated on its own afterwards."""

    messages = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=MAX_BATCH,
        help_text=f"1 to {MAX_BATCH} messages, each shaped like a /send request.",
    )
    from_email = _optional(HeaderEmailField, help_text="Default sender for every item.")
    from_name = _optional(
        HeaderCharField, allow_blank=True, max_length=200, help_text="Default sender name."
    )

    def batch_items(self) -> list[dict[str, Any] | InvalidItem]:
        """Each message of the (valid) batch validated on its own, so one bad item does not
        sink the rest: its validated data, or an InvalidItem with the errors. The batch's
        from_email and from_name fill in for an item without its own.

        One serializer instance validates them all, as DRF's ListSerializer does with its
        child: building a serializer deep-copies its fields, which was most of the cost of a
        100-item batch.
        """
        defaults = {
            name: self.validated_data[name]
            for name in ("from_email", "from_name")
            if self.validated_data.get(name) is not None
        }
        validator = MessageInputSerializer()
        items: list[dict[str, Any] | InvalidItem] = []
        for raw in self.validated_data["messages"]:
            if not isinstance(raw, dict):
                errors = {"non_field_errors": ["Each message must be an object."]}
                items.append(InvalidItem(to=None, errors=errors))
                continue
            try:
                items.append(validator.run_validation({**defaults, **raw}))
            except serializers.ValidationError as err:
                to = raw.get("to") if isinstance(raw.get("to"), str) else None
                items.append(InvalidItem(to=_without_nul(to), errors=_without_nul(err.detail)))
        return items


def _without_nul(echo: Any) -> Any:
    """`echo`, client input that an answer repeats, with each NUL shown as U+FFFD.

    The answer is kept for the Idempotency-Key, and PostgreSQL's jsonb cannot hold \\u0000:
    storing it was a 500, after the batch's valid items were queued.
    """
    if isinstance(echo, str):
        return echo.replace("\x00", "\ufffd")
    if isinstance(echo, dict):
        return {_without_nul(key): _without_nul(value) for key, value in echo.items()}
    if isinstance(echo, list):
        return [_without_nul(value) for value in echo]
    return echo


class SuppressionInputSerializer(serializers.Serializer):
    """POST /api/v1/suppressions: put an address on the account's list by hand."""

    email = HeaderEmailField()
    reason = serializers.ChoiceField(
        choices=[Suppression.Reason.MANUAL, Suppression.Reason.UNSUBSCRIBED],
        default=Suppression.Reason.MANUAL,
    )
    description = HeaderCharField(max_length=500, required=False, allow_blank=True, default="")


class QueryParameter(serializers.Field):
    """A query parameter as sent (the last one, if repeated): not trimmed, and checked only
    by its serializer, so that the serializer's messages are the only ones."""

    def get_value(self, dictionary: Any) -> Any:
        return dictionary.get(self.field_name, serializers.empty)

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class StatusQuerySerializer(serializers.Serializer):
    """GET /api/v1/mail/status/{message_id}: ?events_after= asks for the next page of events."""

    events_after = QueryParameter(required=False)

    def validate_events_after(self, value: str) -> int:
        # isdecimal, not isdigit: int() refuses "²"; and no more digits than a pk has.
        if not (value.isdecimal() and len(value) <= 18):
            raise serializers.ValidationError("Must be the events_next of an answer.")
        return int(value)


class SuppressionListQuerySerializer(serializers.Serializer):
    """GET /api/v1/suppressions: ?email= (one address) and ?page=. Which pages there are is
    known only once the list is: page_of() checks the page."""

    email = QueryParameter(required=False)
    page = QueryParameter(required=False, default="1")

    def validate_email(self, value: str) -> str:
        if "\x00" in value:  # PostgreSQL refuses NUL in a query: a 500
            raise serializers.ValidationError("Must not contain NUL characters.")
        return value

    def page_of(self, paginator: Paginator) -> Page:
        """The page of `paginator` that ?page= names; ValidationError (page) if none."""
        number = self.validated_data["page"]
        pages = max(paginator.num_pages, 1)
        # isdecimal, not isdigit: int() refuses "²"; and no more digits than int() reads.
        if not (number.isdecimal() and len(number) <= 9 and 1 <= int(number) <= pages):
            raise serializers.ValidationError({"page": [f"Must be 1 to {pages}."]})
        return paginator.page(int(number))
