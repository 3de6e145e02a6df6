"""Input serializers: the request shape and every rule that needs no database.

One MessageInputSerializer serves /send and each /send-batch item. Fields that end up in
a mail header refuse line breaks and control characters outright, before any trimming:
that is what stops header injection.
"""

import base64
import binascii
import datetime as dt
import json
import mimetypes
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.template.defaultfilters import filesizeformat
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from api import templating
from api.models import Suppression
from api.services import InvalidItem
from providers.validators import (
    ENCODED_WORD,
    ENCODED_WORD_MESSAGE,
    HEADER_UNSAFE,
    HEADER_UNSAFE_MESSAGE,
    MAX_SUBJECT_CHARS,
)

MAX_BODY_CHARS = 5 * 1024 * 1024
MAX_RECIPIENTS = 50  # to + cc + bcc
MAX_TAGS = 10
MAX_TAG_CHARS = 100
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_CHARS = 100
MAX_METADATA_VALUE_CHARS = 1000
MAX_METADATA_BYTES = 16 * 1024
MAX_BATCH = 100
MAX_ATTACHMENTS = 20
MAX_FILENAME_CHARS = 255
MAX_CONTENT_ID_CHARS = 100
MAX_HEADERS = 50
MAX_HEADER_NAME_CHARS = 76  # a name and its colon fit a folded line of 78
MAX_HEADERS_BYTES = 16 * 1024  # names and values together
MAX_HEADER_VALUE_CHARS = 998  # RFC 5322's line limit
MAX_VARIABLES_BYTES = 64 * 1024  # a template's variables, or its defaults, as JSON
MAX_TEMPLATE_NAME_CHARS = 200
MAX_ALIAS_CHARS = 100

# Attachments whose name ends in one of these are refused: files that run when opened,
# which mailbox providers refuse or strip anyway (Gmail bounces most of them).
BLOCKED_EXTENSIONS = frozenset(
    """ade adp app appx bas bat cab chm cmd com cpl dll dmg exe hta inf ins isp iso jar js
    jse lib lnk mde msc msi msix msp mst nsh pif ps1 reg scr sct shb sys vb vbe vbs vhd vxd
    wsc wsf wsh""".split()
)
# The headers a caller may set besides any X- header: threading, list headers and the
# auto-reply markers. Everything else MailPass writes itself, or it changes who receives
# the message or how its parts are read.
ALLOWED_HEADERS = (
    "In-Reply-To",
    "References",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "Auto-Submitted",
    "Precedence",
)
_ALLOWED_HEADER_KEYS = frozenset(name.lower() for name in ALLOWED_HEADERS)
# RFC 5322 section 3.6.8: printable US-ASCII except the colon.
_FIELD_NAME = re.compile(rf"[\x21-\x39\x3b-\x7e]{{1,{MAX_HEADER_NAME_CHARS}}}")
_CONTENT_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]+")
# type/subtype with optional parameters ("text/calendar; method=REQUEST"), RFC 2045 tokens.
_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`{|}~-]+"
_CONTENT_TYPE = re.compile(
    rf'{_TOKEN}/{_TOKEN}(\s*;\s*{_TOKEN}=({_TOKEN}|"[\x20\x21\x23-\x5b\x5d-\x7e]*"))*'
)


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


def _filename_problem(name: str) -> str | None:
    """Why `name` cannot be an attachment's filename, or None if it can."""
    if name != name.strip() or name.endswith("."):
        return "Must not begin or end with a space, or end with a dot."
    if name in (".", "..") or "/" in name or "\\" in name:
        return "Must be a file name, without / or \\."
    # Control and format characters: line breaks, NUL, and the right-to-left override that
    # makes "invoice\u202efdp.exe" look like "invoiceexe.pdf".
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name):
        return "Must not contain control or formatting characters."
    if "=?" in name:
        return "Must not contain =? (it would read as an encoded word)."
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if extension in BLOCKED_EXTENSIONS:
        return f"Files ending in .{extension} are refused: they run when opened."
    return None


@extend_schema_field({"type": "string", "format": "byte"})
class Base64Field(serializers.CharField):
    """Text that AttachmentInputSerializer.validate_content decodes (base64 in the schema)."""


class AttachmentInputSerializer(StrictSerializer):
    """One file of a message: a regular attachment, or an inline one with content_id."""

    filename = serializers.CharField(
        max_length=MAX_FILENAME_CHARS, trim_whitespace=False, help_text="The file's name."
    )
    content = Base64Field(
        trim_whitespace=False, help_text="The file's bytes in base64 (RFC 4648, padded)."
    )
    content_type = _optional(
        serializers.CharField,
        max_length=255,
        help_text="MIME type such as application/pdf. Default: guessed from the filename.",
    )
    content_id = _optional(
        serializers.CharField,
        max_length=MAX_CONTENT_ID_CHARS,
        help_text='Makes the attachment inline: the HTML shows it as <img src="cid:...">.',
    )

    def validate_filename(self, value: str) -> str:
        if problem := _filename_problem(value):
            raise serializers.ValidationError(problem)
        return value

    def validate_content(self, value: str) -> bytes:
        # Line breaks and spaces are allowed (MIME-style base64 wraps at 76), nothing else.
        compact = "".join(value.split())
        if len(compact) > -(-settings.MAILPASS_MAX_ATTACHMENT_BYTES // 3) * 4:
            raise serializers.ValidationError(_too_big_message())
        try:
            data = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError) as err:
            raise serializers.ValidationError("Must be base64 (RFC 4648, padded).") from err
        if not data:
            raise serializers.ValidationError("Must not be empty.")
        return data

    # null means "not given" (validate() drops it); DRF still runs these with it.
    def validate_content_type(self, value: str | None) -> str | None:
        if value is None:
            return None
        if not _CONTENT_TYPE.fullmatch(value):
            raise serializers.ValidationError("Must be a MIME type such as application/pdf.")
        if value.lower().startswith(("multipart/", "message/")):
            raise serializers.ValidationError("multipart/* and message/* types are refused.")
        return value

    def validate_content_id(self, value: str | None) -> str | None:
        if value is None:
            return None
        if not _CONTENT_ID.fullmatch(value):
            raise serializers.ValidationError(
                "Must be letters, digits and !#$%&'*+-/=?^_`{|}~.@ only, without <>."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = {name: value for name, value in attrs.items() if value is not None}
        if "content_type" not in attrs:
            guessed, _ = mimetypes.guess_type(attrs["filename"], strict=False)
            attrs["content_type"] = guessed or "application/octet-stream"
        return attrs


def _too_big_message() -> str:
    limit = filesizeformat(settings.MAILPASS_MAX_ATTACHMENT_BYTES)
    return f"Attachments may take {limit} in all (decoded)."


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": MAX_HEADER_VALUE_CHARS},
        "maxProperties": MAX_HEADERS,
        "example": {"X-Order-Id": "1234", "In-Reply-To": "<question.1@shop.example.com>"},
    }
)
class HeadersField(serializers.Field):
    """The caller's own headers: {name: value}, allowed names only (ALLOWED_HEADERS and any
    X- header), each once, values without line breaks or control characters."""

    default_error_messages = {
        "not_object": "Must be an object of header names to string values.",
        "too_many": f"At most {MAX_HEADERS} headers.",
        "too_big": f"At most {MAX_HEADERS_BYTES} bytes of names and values in all.",
    }

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            self.fail("not_object")
        if len(data) > MAX_HEADERS:
            self.fail("too_many")
        errors: dict[str, list[str]] = {}
        seen: set[str] = set()
        for name, value in data.items():
            if problem := _header_problem(name, value, seen):
                errors[_without_nul(name)] = [problem]
            seen.add(name.lower())
        if errors:
            raise serializers.ValidationError(errors)
        if sum(len(f"{name}{value}".encode()) for name, value in data.items()) > MAX_HEADERS_BYTES:
            self.fail("too_big")
        return dict(data)

    def to_representation(self, value: Any) -> Any:
        return value


def _header_problem(name: str, value: Any, seen: set[str]) -> str | None:
    """Why the caller may not set header `name` to `value`, or None if they may."""
    if not _FIELD_NAME.fullmatch(name):
        return (
            f"Not a header name: 1-{MAX_HEADER_NAME_CHARS} printable ASCII characters, "
            "no colon or space."
        )
    key = name.lower()
    if not (key.startswith("x-") or key in _ALLOWED_HEADER_KEYS):
        return (
            "This header cannot be set: allowed are X- headers and "
            + ", ".join(ALLOWED_HEADERS)
            + "."
        )
    if key in seen:
        return "Given twice (header names are case-insensitive)."
    if not isinstance(value, str):
        return "Must be a string."
    if HEADER_UNSAFE.search(value):
        return HEADER_UNSAFE_MESSAGE
    if len(value) > MAX_HEADER_VALUE_CHARS:
        return f"At most {MAX_HEADER_VALUE_CHARS} characters."
    if not value.strip():
        return "Must not be empty."
    if not key.startswith("x-") and not value.isascii():
        return "Must be ASCII (only X- headers may hold other characters)."
    return None


@extend_schema_field({"type": "object", "additionalProperties": True})
class VariablesField(serializers.Field):
    """A JSON object of any values (a template's variables or defaults), small enough."""

    default_error_messages = {
        "not_object": "Must be a JSON object.",
        "too_big": f"At most {MAX_VARIABLES_BYTES} bytes as JSON.",
        "nul": "Must not contain NUL characters.",  # PostgreSQL's jsonb cannot hold them
    }

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("not_object")
        if len(json.dumps(data)) > MAX_VARIABLES_BYTES:
            self.fail("too_big")
        if _without_nul(data) != data:
            self.fail("nul")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"type": "string", "format": "date-time"})
class OffsetDateTimeField(serializers.Field):
    """An ISO 8601 date and time that says its offset (Z or +01:00): a time without one
    would be read in the server's zone, which is not the caller's."""

    default_error_messages = {
        "invalid": "Must be an ISO 8601 date and time, e.g. 2026-12-05T09:00:00+01:00.",
        "no_offset": "Must include a time zone offset, e.g. +01:00 or Z.",
    }

    def to_internal_value(self, data: Any) -> dt.datetime:
        if not isinstance(data, str) or len(data) > 64:
            self.fail("invalid")
        try:
            value = dt.datetime.fromisoformat(data)
        except ValueError:
            self.fail("invalid")
        if value.tzinfo is None:
            self.fail("no_offset")
        return value.astimezone(dt.UTC)

    def to_representation(self, value: Any) -> Any:
        return value


class TemplateReferenceSerializer(StrictSerializer):
    """`template` on /send: which template (alias or id), its variables, and the version."""

    alias = _optional(serializers.CharField, max_length=MAX_ALIAS_CHARS, help_text="Its alias.")
    id = _optional(serializers.IntegerField, min_value=1, help_text="Its id (or give alias).")
    variables = _optional(
        VariablesField, help_text=f"Values for its variables; at most {MAX_VARIABLES_BYTES} B."
    )
    version = _optional(
        serializers.IntegerField, min_value=1, help_text="A version. Default: the latest."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = {name: value for name, value in attrs.items() if value is not None}
        if ("alias" in attrs) == ("id" in attrs):
            raise serializers.ValidationError({"alias": ["Give either alias or id."]})
        return attrs


def _body(help_text: str) -> serializers.Field:
    # Bodies keep their whitespace and may hold line breaks: they never become a header.
    return _optional(
        serializers.CharField,
        allow_blank=True,
        trim_whitespace=False,
        max_length=MAX_BODY_CHARS,
        help_text=help_text,
    )


_REQUIRED = ErrorDetail("This field is required.", code="required")


class MessageInputSerializer(StrictSerializer):
    to = HeaderEmailField(help_text="Recipient email address.")
    subject = _optional(
        HeaderCharField,
        max_length=MAX_SUBJECT_CHARS,
        help_text="Email subject. Required unless template is given.",
    )
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
    attachments = _optional(
        serializers.ListField,
        child=AttachmentInputSerializer(),
        max_length=MAX_ATTACHMENTS,
        help_text=(
            f"Files to attach: at most {MAX_ATTACHMENTS}, together at most "
            "MAILPASS_MAX_ATTACHMENT_BYTES decoded (20 MiB unless the operator changed it). "
            "Executable types (.exe, .js, ...) are refused."
        ),
    )
    headers = _optional(
        HeadersField,
        help_text=(
            "Extra headers, name to value: any X- header and "
            + ", ".join(ALLOWED_HEADERS)
            + f"; at most {MAX_HEADERS}, {MAX_HEADERS_BYTES} bytes in all."
        ),
    )
    unsubscribe = _optional(
        serializers.BooleanField,
        help_text="Add one-click unsubscribe headers (RFC 8058). Default: the account's setting.",
    )
    template = _optional(
        TemplateReferenceSerializer,
        help_text="Render subject, html and text from a stored template (then leave those out).",
    )
    scheduled_at = _optional(
        OffsetDateTimeField,
        help_text="Send later: an ISO 8601 time with its offset, from now to 30 days ahead.",
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as err:
            # A missing subject is reported with the other fields' errors, as it was when
            # subject was a required field (it is not, with a template).
            if (
                isinstance(data, dict)
                and isinstance(err.detail, dict)
                and data.get("template") is None
                and data.get("subject") is None
            ):
                err.detail.setdefault("subject", [_REQUIRED])
            raise

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # null means "not given" for every optional field.
        attrs = {name: value for name, value in attrs.items() if value is not None}
        if "template" in attrs:
            if {"subject", "html", "text"} & set(attrs):
                raise serializers.ValidationError(
                    {"template": ["Give either template or subject/html/text, not both."]}
                )
        elif "subject" not in attrs:
            raise serializers.ValidationError({"subject": [_REQUIRED]})
        elif not attrs.get("html") and not attrs.get("text"):
            raise serializers.ValidationError({"html": ["Either html or text is required."]})
        recipients = 1 + len(attrs.get("cc", [])) + len(attrs.get("bcc", []))
        if recipients > MAX_RECIPIENTS:
            raise serializers.ValidationError(
                {"cc": [f"At most {MAX_RECIPIENTS} recipients in to, cc and bcc together."]}
            )
        attachments = attrs.get("attachments", [])
        if sum(len(item["content"]) for item in attachments) > (
            settings.MAILPASS_MAX_ATTACHMENT_BYTES
        ):
            raise serializers.ValidationError({"attachments": [_too_big_message()]})
        content_ids = [item["content_id"] for item in attachments if "content_id" in item]
        if len(content_ids) != len(set(content_ids)):
            raise serializers.ValidationError(
                {"attachments": ["Each content_id may be used once in a message."]}
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


_ALIAS = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")


def _template_source(value: str) -> str:
    try:
        templating.compile_template(value)
    except templating.TemplateError as err:
        raise serializers.ValidationError(str(err)) from err
    return value


class TemplateInputSerializer(StrictSerializer):
    """POST /api/v1/templates, and PATCH (partial=True: any of the fields)."""

    name = HeaderCharField(max_length=MAX_TEMPLATE_NAME_CHARS, help_text="For people.")
    alias = serializers.CharField(
        max_length=MAX_ALIAS_CHARS,
        help_text="What /send names it by: lower-case letters, digits and - _ . (one letter "
        "at least), unique in the account.",
    )
    subject = HeaderCharField(
        max_length=MAX_SUBJECT_CHARS, trim_whitespace=False, help_text="Subject template."
    )
    html = _body("HTML body template (variables are HTML-escaped).")
    text = _body("Plain-text body template.")
    defaults = _optional(VariablesField, help_text="Values for variables a request leaves out.")

    def validate_alias(self, value: str) -> str:
        if not _ALIAS.fullmatch(value) or value.isdecimal() or not re.search("[a-z]", value):
            raise serializers.ValidationError(
                "Lower-case letters, digits and - _ . between them, with one letter at least."
            )
        return value

    def validate_subject(self, value: str) -> str:
        return _template_source(value)

    def validate_html(self, value: str | None) -> str | None:
        return value if value is None else _template_source(value)

    def validate_text(self, value: str | None) -> str | None:
        return value if value is None else _template_source(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = {name: value for name, value in attrs.items() if value is not None}
        if not self.partial and not attrs.get("html") and not attrs.get("text"):
            raise serializers.ValidationError({"html": ["Either html or text is required."]})
        return attrs


class TemplateRenderInputSerializer(StrictSerializer):
    """POST /api/v1/templates/{id or alias}/render."""

    variables = _optional(VariablesField, help_text="Values for the template's variables.")
    version = _optional(
        serializers.IntegerField, min_value=1, help_text="A version. Default: the latest."
    )


class RescheduleInputSerializer(StrictSerializer):
    """PATCH /api/v1/mail/{message_id}: move a scheduled message."""

    scheduled_at = OffsetDateTimeField(
        help_text="The new time: ISO 8601 with its offset, from now to 30 days ahead."
    )


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


class PageQuerySerializer(serializers.Serializer):
    """?page= of a list. Which pages there are is known only once the list is: page_of()
    checks the page."""

    page = QueryParameter(required=False, default="1")

    def page_of(self, paginator: Paginator) -> Page:
        """The page of `paginator` that ?page= names; ValidationError (page) if none."""
        number = self.validated_data["page"]
        pages = max(paginator.num_pages, 1)
        # isdecimal, not isdigit: int() refuses "²"; and no more digits than int() reads.
        if not (number.isdecimal() and len(number) <= 9 and 1 <= int(number) <= pages):
            raise serializers.ValidationError({"page": [f"Must be 1 to {pages}."]})
        return paginator.page(int(number))


class SuppressionListQuerySerializer(PageQuerySerializer):
    """GET /api/v1/suppressions: ?email= (one address) and ?page=."""

    email = QueryParameter(required=False)

    def validate_email(self, value: str) -> str:
        if "\x00" in value:  # PostgreSQL refuses NUL in a query: a 500
            raise serializers.ValidationError("Must not contain NUL characters.")
        return value


class TemplateQuerySerializer(serializers.Serializer):
    """GET /api/v1/templates/{id or alias}: ?version= shows that version."""

    version = QueryParameter(required=False)

    def validate_version(self, value: str) -> int:
        if not (value.isdecimal() and len(value) <= 9 and int(value) >= 1):
            raise serializers.ValidationError("Must be a version number (1 or more).")
        return int(value)


class WebhookInputSerializer(StrictSerializer):
    """POST /api/v1/webhooks, and PATCH (partial=True: any of the fields)."""

    url = serializers.CharField(
        max_length=2048, help_text="https:// (http:// only where private hosts are allowed)."
    )
    description = HeaderCharField(max_length=200, required=False, allow_blank=True)
    events = serializers.ListField(
        child=serializers.CharField(max_length=32),
        max_length=50,
        required=False,
        help_text="Event types: sent, delivered, bounced, failed, complained, unsubscribed, "
        "opened, clicked, suppressed, scheduled, cancelled. Default: all.",
    )
    enabled = serializers.BooleanField(required=False)


class RotateSecretInputSerializer(StrictSerializer):
    overlap_hours = serializers.IntegerField(
        min_value=0,
        max_value=168,
        default=24,
        help_text="How long the previous secret goes on signing next to the new one.",
    )


class WebhookDeliveryListQuerySerializer(PageQuerySerializer):
    """GET /api/v1/webhooks/{id}/deliveries: ?status= and ?page=."""

    status = QueryParameter(required=False)

    def validate_status(self, value: str) -> str:
        if value not in ("pending", "succeeded", "failed"):
            raise serializers.ValidationError("Must be pending, succeeded or failed.")
        return value


class DomainInputSerializer(StrictSerializer):
    """POST /api/v1/domains."""

    name = serializers.CharField(max_length=300, help_text="example.com (IDNs welcome).")
    ed25519 = serializers.BooleanField(
        default=False, help_text="Also sign with an Ed25519 key (RFC 8463), besides RSA."
    )


class DomainRotateInputSerializer(StrictSerializer):
    """POST /api/v1/domains/{id}/rotate."""

    ed25519 = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Add (true) or drop (false) the Ed25519 key from the new keys on; "
        "left out: as before.",
    )
