"""Suite 7, webhook half: forged, replayed and malformed ESP webhook posts write nothing and
are answered with a 4xx, never a 5xx.

One provider of each ESP kind with a webhook, each with its own basic auth and, where the
ESP signs its posts, its own signing key (Mailgun HMAC, SendGrid ECDSA, Resend/Svix HMAC).
For each, a real event (a bounce or complaint of one of its messages, which would write a
MessageEvent, move the message's status and suppress the address) is posted with its auth
broken, its signature forged, its body malformed (not JSON, JSON of the wrong shape, nested
100,000 deep, invalid UTF-8, over the size limit, wrong content types, correctly signed
garbage), to tampered or foreign webhook URLs, and with the wrong methods. After every post
the MessageEvent and Suppression tables and every message's status are compared with their
state before. Then the real event goes through once (it writes) and again (it does not).
"""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client

from api import webhooks
from api.models import Message, MessageEvent, Suppression
from api.signing import base36, signature
from providers.models import Provider
from tests import factories
from tests.security import figures

pytestmark = pytest.mark.django_db

SUITE = "07 tracking and webhooks: webhook posts"
KINDS = ("mailgun", "sendgrid", "postmark", "resend", "brevo", "amazon_ses")
MAILGUN_KEY = "key-mailgun-signing-forgery-suite"
RESEND_SECRET_BYTES = b"resend-signing-secret-forgery-01"
RESEND_SECRET = "whsec_" + base64.b64encode(RESEND_SECRET_BYTES).decode()
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
DEEP = b"[" * 100_000 + b"]" * 100_000


def _public_key(private_key: ec.EllipticCurvePrivateKey) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _basic(secret: str) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


def _secret(kind: str) -> str:
    return f"hook-{kind}:pw-{kind}-s3cret"


@dataclass(frozen=True)
class Post:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # WSGI names: HTTP_…
    content_type: str = "application/json"
    method: str = "POST"


@dataclass
class Target:
    kind: str
    provider: Provider
    message: Message
    path: str


# --- a real event of each kind, signed as its ESP signs it -------------------------------


def _mailgun_signature(timestamp: str, token: str, key: str = MAILGUN_KEY) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def _mailgun_body(target: Target, *, signature_block: dict | None = None, **data) -> bytes:
    timestamp, token = str(int(time.time())), uuid.uuid4().hex
    block = signature_block or {
        "timestamp": timestamp,
        "token": token,
        "signature": _mailgun_signature(timestamp, token),
    }
    event = {
        "event": "failed",
        "severity": "permanent",
        "timestamp": time.time(),
        "id": uuid.uuid4().hex,
        "recipient": target.message.to_email,
        "message": {"headers": {"message-id": target.message.provider_message_id.strip("<>")}},
        "delivery-status": {"description": "No such mailbox", "message": "550 5.1.1"},
        **data,
    }
    return json.dumps({"signature": block, "event-data": event}).encode()


def _sendgrid_headers(body: bytes, *, key=SENDGRID_KEY, timestamp: str | None = None) -> dict:
    timestamp = timestamp or str(int(time.time()))
    signed = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": timestamp,
        "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": base64.b64encode(signed).decode(),
    }


def _sendgrid_body(target: Target) -> bytes:
    event = {
        "event": "bounce",
        "type": "bounce",
        "email": target.message.to_email,
        "timestamp": int(time.time()),
        "sg_event_id": uuid.uuid4().hex,
        "anymail_id": target.message.provider_message_id,
        "sg_message_id": target.message.provider_message_id + ".filter0001",
        "reason": "550 5.1.1 No such mailbox",
    }
    return json.dumps([event]).encode()


def _svix_headers(
    body: bytes,
    *,
    secret: bytes = RESEND_SECRET_BYTES,
    msg_id: str | None = None,
    timestamp: int | None = None,
) -> dict:
    msg_id = msg_id or "msg_" + uuid.uuid4().hex
    stamp = str(timestamp or int(time.time()))
    mac = hmac.new(secret, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256)
    return {
        "HTTP_SVIX_ID": msg_id,
        "HTTP_SVIX_TIMESTAMP": stamp,
        "HTTP_SVIX_SIGNATURE": "v1," + base64.b64encode(mac.digest()).decode(),
    }


def _resend_body(target: Target) -> bytes:
    event = {
        "type": "email.bounced",
        "created_at": "2026-11-21T12:00:00.000Z",
        "data": {
            "email_id": target.message.provider_message_id,
            "to": [target.message.to_email],
            "bounce": {"message": "The recipient's email provider sent a hard bounce message."},
        },
    }
    return json.dumps(event).encode()


def _postmark_body(target: Target) -> bytes:
    event = {
        "RecordType": "SpamComplaint",
        "ID": int(uuid.uuid4().int % 10**9),
        "Type": "SpamComplaint",
        "MessageID": target.message.provider_message_id,
        "Email": target.message.to_email,
        "BouncedAt": "2026-11-21T12:00:00Z",
        "Description": "The subscriber explicitly marked this message as spam.",
    }
    return json.dumps(event).encode()


def _brevo_body(target: Target) -> bytes:
    event = {
        "event": "hard_bounce",
        "email": target.message.to_email,
        "id": int(uuid.uuid4().int % 10**6),
        "message-id": target.message.provider_message_id,
        "ts_epoch": int(time.time() * 1000),
        "reason": "550 5.1.1 No such mailbox",
    }
    return json.dumps(event).encode()


def _ses_notification(target: Target, **overrides) -> dict:
    notification = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:mailpass",
        "Timestamp": "2026-11-21T12:00:00.000Z",
        "Message": json.dumps(
            {
                "eventType": "Bounce",
                "mail": {
                    "messageId": target.message.provider_message_id,
                    "timestamp": "2026-11-21T11:59:00.000Z",
                },
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": "General",
                    "bouncedRecipients": [
                        {"emailAddress": target.message.to_email, "diagnosticCode": "550 5.1.1"}
                    ],
                    "timestamp": "2026-11-21T12:00:00.000Z",
                },
            }
        ),
    }
    return {**notification, **overrides}


def _ses_post(notification: dict, auth: str | None) -> Post:
    headers = {
        "HTTP_X_AMZ_SNS_MESSAGE_TYPE": str(notification.get("Type")),
        "HTTP_X_AMZ_SNS_MESSAGE_ID": str(notification.get("MessageId")),
    }
    if auth is not None:
        headers["HTTP_AUTHORIZATION"] = auth
    return Post(json.dumps(notification).encode(), headers)


def valid_post(target: Target) -> Post:
    """A fresh, correctly authenticated event of `target`'s kind (a new event id each call)."""
    auth = {"HTTP_AUTHORIZATION": _basic(_secret(target.kind))}
    if target.kind == "mailgun":
        return Post(_mailgun_body(target), auth)
    if target.kind == "sendgrid":
        body = _sendgrid_body(target)
        return Post(body, {**auth, **_sendgrid_headers(body)})
    if target.kind == "resend":
        body = _resend_body(target)
        return Post(body, {**auth, **_svix_headers(body)})
    if target.kind == "postmark":
        return Post(_postmark_body(target), auth)
    if target.kind == "brevo":
        return Post(_brevo_body(target), auth)
    return _ses_post(_ses_notification(target), auth["HTTP_AUTHORIZATION"])


def resign(target: Target, post: Post) -> Post:
    """`post` with its signature redone over its (changed) body, its basic auth kept."""
    headers = dict(post.headers)
    if target.kind == "sendgrid":
        headers |= _sendgrid_headers(post.body)
    elif target.kind == "resend":
        headers |= _svix_headers(post.body)
    return replace(post, headers=headers)


# --- the hostile variants ------------------------------------------------------------------


def _auth_breaks(target: Target, other_kind: str) -> Iterator[tuple[str, Post]]:
    """The event with its basic auth missing or wrong (any signature stays valid)."""
    post = valid_post(target)
    secret = _secret(target.kind)
    user, password = secret.split(":")
    without = {k: v for k, v in post.headers.items() if k != "HTTP_AUTHORIZATION"}
    yield "no basic auth", replace(post, headers=without)
    for label, header in [
        ("wrong password", _basic(f"{user}:guess")),
        ("wrong user", _basic(f"admin:{password}")),
        ("another provider's secret", _basic(_secret(other_kind))),
        ("secret upper-cased", _basic(secret.upper())),
        ("secret plus a character", _basic(secret + "x")),
        ("secret minus a character", _basic(secret[:-1])),
        ("user only", _basic(user)),
        ("empty credentials", _basic("")),
        ("scheme only", "Basic"),
        ("scheme and space", "Basic "),
        ("not base64", "Basic !!!not-base64!!!"),
        ("base64 of invalid UTF-8", "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()),
        ("secret as a bearer token", f"Bearer {secret}"),
        ("secret in clear", f"Basic {secret}"),
        ("three parts", _basic(secret) + " extra"),
        ("non-ASCII password", _basic(f"{user}:pässwörd")),
        ("huge", _basic("u:" + "x" * 100_000)),
    ]:
        yield label, replace(post, headers={**without, "HTTP_AUTHORIZATION": header})


def _signature_breaks(target: Target) -> Iterator[tuple[str, Post]]:
    """The event with valid basic auth but a forged, stale or malformed signature."""
    auth = {"HTTP_AUTHORIZATION": _basic(_secret(target.kind))}
    if target.kind == "mailgun":
        now, token = str(int(time.time())), uuid.uuid4().hex
        good = _mailgun_signature(now, token)
        for label, block in [
            (
                "signed with another key",
                {
                    "timestamp": now,
                    "token": token,
                    "signature": _mailgun_signature(now, token, "wrong"),
                },
            ),
            (
                "signed with an empty key",
                {"timestamp": now, "token": token, "signature": _mailgun_signature(now, token, "")},
            ),
            (
                "another timestamp",
                {"timestamp": str(int(now) + 1), "token": token, "signature": good},
            ),
            ("another token", {"timestamp": now, "token": token[::-1], "signature": good}),
            (
                "signature upper-cased",
                {"timestamp": now, "token": token, "signature": good.upper()},
            ),
            ("signature truncated", {"timestamp": now, "token": token, "signature": good[:-1]}),
            ("signature empty", {"timestamp": now, "token": token, "signature": ""}),
            ("signature missing", {"timestamp": now, "token": token}),
            ("signature a list", {"timestamp": now, "token": token, "signature": [good]}),
            ("signature null", {"timestamp": now, "token": token, "signature": None}),
            ("non-ASCII token", {"timestamp": now, "token": "tökén", "signature": good}),
            ("non-ASCII timestamp", {"timestamp": "١٢٣", "token": token, "signature": good}),
            ("token a number", {"timestamp": now, "token": 12345, "signature": good}),
        ]:
            yield label, Post(_mailgun_body(target, signature_block=block), auth)
        yield (
            "signature block a string",
            Post(json.dumps({"signature": "x", "event-data": {}}).encode(), auth),
        )
        yield "signature block missing", Post(json.dumps({"event-data": {}}).encode(), auth)
        yield (
            "legacy form post without signature",
            Post(
                b"event=failed&recipient=user%40example.com",
                auth,
                "application/x-www-form-urlencoded",
            ),
        )
    elif target.kind == "sendgrid":
        body = _sendgrid_body(target)
        now = str(int(time.time()))
        signed = _sendgrid_headers(body, timestamp=now)
        sig_name = "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE"
        time_name = "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP"
        tampered = body.replace(b"No such mailbox", b"No such mailboy")
        yield (
            "signed by another key",
            Post(body, {**auth, **_sendgrid_headers(body, key=OTHER_SENDGRID_KEY)}),
        )
        yield "body changed after signing", Post(tampered, {**auth, **signed})
        yield (
            "timestamp changed after signing",
            Post(body, {**auth, **signed, time_name: str(int(now) + 1)}),
        )
        yield "signature missing", Post(body, {**auth, time_name: now})
        yield "timestamp missing", Post(body, {**auth, sig_name: signed[sig_name]})
        for label, value in [
            ("signature not base64", "!!!"),
            ("signature empty", ""),
            ("signature of nothing", base64.b64encode(b"").decode()),
            (
                "signature random bytes",
                base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode(),
            ),
            ("signature non-ASCII", "sïgnature"),
        ]:
            yield label, Post(body, {**auth, time_name: now, sig_name: value})
    elif target.kind == "resend":
        body = _resend_body(target)
        signed = _svix_headers(body)
        tampered = body.replace(b"hard bounce", b"soft bounce")
        yield (
            "signed with another secret",
            Post(body, {**auth, **_svix_headers(body, secret=b"another-secret-0123456789abcdef")}),
        )
        yield "body changed after signing", Post(tampered, {**auth, **signed})
        yield (
            "svix id changed after signing",
            Post(body, {**auth, **signed, "HTTP_SVIX_ID": "msg_forged"}),
        )
        yield (
            "signed 10 minutes ago",
            Post(body, {**auth, **_svix_headers(body, timestamp=int(time.time()) - 600)}),
        )
        yield (
            "signed 10 minutes ahead",
            Post(body, {**auth, **_svix_headers(body, timestamp=int(time.time()) + 600)}),
        )
        for name in ("HTTP_SVIX_ID", "HTTP_SVIX_TIMESTAMP", "HTTP_SVIX_SIGNATURE"):
            missing = {k: v for k, v in signed.items() if k != name}
            yield f"{name} missing", Post(body, {**auth, **missing})
        for label, value in [
            ("version only", "v1"),
            ("three parts", "v1,a,b"),
            ("another version", "v2," + signed["HTTP_SVIX_SIGNATURE"].split(",")[1]),
            ("not base64", "v1,!!!"),
            ("empty", ""),
            ("non-ASCII", "v1,sïg"),
        ]:
            yield f"signature {label}", Post(body, {**auth, **signed, "HTTP_SVIX_SIGNATURE": value})
        for label, stamp in [("not a number", "soon"), ("infinite", "inf"), ("NaN", "nan")]:
            yield f"timestamp {label}", Post(body, {**auth, **signed, "HTTP_SVIX_TIMESTAMP": stamp})
    elif target.kind == "amazon_ses":
        basic = auth["HTTP_AUTHORIZATION"]
        notification = _ses_notification(target)
        post = _ses_post(notification, basic)
        yield (
            "SNS type header differs from body",
            replace(
                post,
                headers={**post.headers, "HTTP_X_AMZ_SNS_MESSAGE_TYPE": "SubscriptionConfirmation"},
            ),
        )
        yield (
            "SNS id header differs from body",
            replace(post, headers={**post.headers, "HTTP_X_AMZ_SNS_MESSAGE_ID": "another"}),
        )
        yield "SNS headers missing", replace(post, headers={"HTTP_AUTHORIZATION": basic})
        yield "unknown SNS type", _ses_post(_ses_notification(target, Type="Surprise"), basic)
        yield (
            "unknown SNS type without auth",
            _ses_post(_ses_notification(target, Type="Surprise"), _basic("x:y")),
        )
        yield "message not JSON", _ses_post(_ses_notification(target, Message="{oops"), basic)
        yield (
            "message of the wrong shape",
            _ses_post(
                _ses_notification(target, Message=json.dumps({"eventType": "Bounce"})), basic
            ),
        )
        yield "message a number", _ses_post(_ses_notification(target, Message=5), basic)


def _malformed(target: Target) -> Iterator[tuple[str, Post]]:
    """Bodies that are not the ESP's, with valid auth (signed where the ESP signs the body)
    and without it."""
    auth = {"HTTP_AUTHORIZATION": _basic(_secret(target.kind))}
    bodies = {
        "empty": b"",
        "not JSON": b"this is not json",
        "truncated JSON": b'{"event": ',
        "JSON null": b"null",
        "JSON number": b"42",
        "JSON string": b'"text"',
        "JSON empty object": b"{}",
        "JSON empty list": b"[]",
        "JSON list of numbers": b"[1, 2, 3]",
        "JSON list of strings": b'["a", "b"]',
        "JSON list of lists": b"[[], [[]]]",
        "JSON infinity": b"Infinity",
        "nested 100,000 deep": DEEP,
        "invalid UTF-8": b"\xff\xfe\x00{\x80\x81}",
        "UTF-16": '{"event": "delivered"}'.encode("utf-16"),
        "NUL bytes": b'{"event": "\x00"}\x00',
        "1 MiB string": json.dumps({"event": "x" * (1 << 20)}).encode(),
        "wrong types": json.dumps(
            {
                "event": [],
                "event-data": [],
                "RecordType": {},
                "type": 5,
                "data": "x",
                "Type": [],
                "signature": [],
                "MessageID": {},
                "email": {"a": 1},
                "timestamp": "Infinity",
            }
        ).encode(),
        "list of wrong types": json.dumps(
            [{"event": [], "email": {}, "timestamp": "x", "sg_event_id": []}]
        ).encode(),
        "huge timestamp": json.dumps(
            [{"event": "bounce", "timestamp": 1e300, "email": "a@example.com"}]
        ).encode(),
    }
    for label, body in bodies.items():
        yield f"{label}, no auth", Post(body)
        post = Post(body, auth)
        yield (
            f"{label}, with auth",
            resign(target, post)
            if target.kind != "amazon_ses"
            else (
                replace(
                    post,
                    headers={
                        **auth,
                        "HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification",
                        "HTTP_X_AMZ_SNS_MESSAGE_ID": "m-1",
                    },
                )
            ),
        )
    real = valid_post(target)
    for label, content_type, body in [
        ("form-encoded", "application/x-www-form-urlencoded", b"event=delivered&x=%ZZ"),
        ("multipart without boundary", "multipart/form-data", b"--x\r\n"),
        ("multipart broken", "multipart/form-data; boundary=xyz", b"--xyz\r\ngarbage"),
        ("XML", "application/xml", b"<event>delivered</event>"),
        ("JSON with a charset", "application/json; charset=latin-1", b'{"\xe9": 1}'),
    ]:
        garbage = replace(real, body=body, content_type=content_type)
        yield f"content type {label}, with auth", resign(target, garbage)
    # The real event under another content type, without its credentials.
    for content_type in ("text/plain", "", "application/x-www-form-urlencoded"):
        yield f"content type {content_type!r}, no auth", Post(real.body, {}, content_type)
    if target.kind == "mailgun":
        # Correctly signed (Mailgun signs only timestamp and token), wrong event data.
        for label, data in [
            ("event data a list", {"event-data": []}),
            ("event a list", {"event": []}),
            ("timestamp infinite", {"timestamp": float("inf")}),
            ("timestamp huge", {"timestamp": 1e300}),
            ("timestamp text", {"timestamp": "yesterday"}),
            ("message id a number", {"message": {"headers": {"message-id": 5}}}),
            ("message headers a list", {"message": {"headers": []}}),
            ("recipient a dict", {"recipient": {"a": 1}}),
            ("recipient a list", {"recipient": ["a@example.com"]}),
            ("recipient with a NUL", {"recipient": "user\x00@example.com"}),
            ("recipient of 300 characters", {"recipient": "u" * 288 + "@example.com"}),
            ("description with a NUL", {"delivery-status": {"description": "a\x00b"}}),
        ]:
            if "event-data" in data:
                body = json.loads(_mailgun_body(target))
                body["event-data"] = data["event-data"]
                yield f"signed, {label}", Post(json.dumps(body).encode(), auth)
            else:
                yield f"signed, {label}", Post(_mailgun_body(target, **data), auth)
    # Over the request size limit.
    yield "body over the size limit", replace(real, body=b"[" + b" " * (10 * 1024 * 1024) + b"]")


def _url_tampering(
    target: Target, others: list[Target], smtp: Provider
) -> Iterator[tuple[str, str]]:
    """Webhook URLs that do not name `target`'s provider (its event is posted to them)."""
    token = webhooks.webhook_token(target.provider)
    for label, variant in _token_variants(token, others, smtp, target):
        if variant != token:
            yield label, variant


def _token_variants(
    token: str, others: list[Target], smtp: Provider, target: Target
) -> Iterator[tuple[str, str]]:
    pk_text, sig = token.split(".")
    # Every position of the token is changed by the tracking suite (same signing code);
    # here the first and last character of each part, and the separator.
    dot = len(pk_text)
    for i in sorted({0, dot - 1, dot, dot + 1, len(token) - 1}):
        for other in ("A", "a", "0", "-", ".", "é", "\u0660"):
            if other != token[i]:
                yield f"token char {i} -> {other!r}", token[:i] + other + token[i + 1 :]
    yield "token truncated", token[:-1]
    yield "token extended", token + "A"
    yield "id with a leading zero", f"0{pk_text}.{sig}"
    yield "id in upper case", f"{pk_text.upper()}.{sig}"
    yield "signature upper-cased", f"{pk_text}.{sig.upper()}"
    yield "signature padded", f"{pk_text}.{sig}="
    yield "no signature", pk_text
    yield "empty", ""
    yield "huge", "a" * 10_000
    yield "non-ASCII signature", f"{pk_text}.{'é' * 16}"
    yield "another provider's id", f"{base36(others[0].provider.pk)}.{sig}"
    yield "unknown provider, signed", f"{base36(10**9)}.{signature('webhook', 10**9)}"
    yield "smtp provider, signed", f"{base36(smtp.pk)}.{signature('webhook', smtp.pk)}"
    yield "open-tracking signature", f"{pk_text}.{signature('open', target.provider.pk)}"


# --- the suite ------------------------------------------------------------------------------


def _snapshot() -> tuple:
    return (
        MessageEvent.objects.count(),
        Suppression.objects.count(),
        tuple(Message.objects.order_by("pk").values_list("pk", "status")),
    )


def _post(client: Client, path: str, post: Post):
    return client.generic(
        post.method, path, post.body, content_type=post.content_type, **post.headers
    )


def _credentials(kind: str) -> dict[str, str]:
    credentials = {"webhook_secret": _secret(kind)}
    if kind == "mailgun":
        credentials |= {"api_key": "key-x", "webhook_signing_key": MAILGUN_KEY}
    elif kind == "sendgrid":
        credentials |= {"api_key": "SG.x", "webhook_verification_key": _public_key(SENDGRID_KEY)}
    elif kind == "resend":
        credentials |= {"api_key": "re_x", "webhook_signing_secret": RESEND_SECRET}
    elif kind == "postmark":
        credentials |= {"server_token": "pm-x"}
    elif kind == "brevo":
        credentials |= {"api_key": "xkeysib-x"}
    else:
        credentials |= {"access_key_id": "AKIAX", "secret_access_key": "ses-x"}
    return credentials


@pytest.fixture
def targets(account) -> dict[str, Target]:
    """One provider of each ESP kind, each with a sent message its events name."""
    result = {}
    for number, kind in enumerate(KINDS):
        provider = factories.make_esp_provider(
            account, kind, name=f"{kind} hook", credentials=_credentials(kind)
        )
        esp_id = (
            f"<forgery.{number}@mg.example.com>"
            if kind in ("mailgun", "brevo")
            else f"esp-{number}"
        )
        message = factories.make_message(
            account,
            provider=provider,
            to_email=f"rcpt{number}@example.com",
            status=Message.Status.SENT,
            provider_message_id=esp_id,
        )
        path = f"/webhooks/{webhooks.webhook_token(provider)}"
        result[kind] = Target(kind, provider, message, path)
    return result


def _cases(targets: dict[str, Target], smtp: Provider) -> Iterator[tuple[str, str, str, Post]]:
    """(kind, label, path, post) for every hostile post."""
    for number, kind in enumerate(KINDS):
        target = targets[kind]
        other = targets[KINDS[(number + 1) % len(KINDS)]]
        for label, post in _auth_breaks(target, other.kind):
            yield kind, f"auth: {label}", target.path, post
        for label, post in _signature_breaks(target):
            yield kind, f"signature: {label}", target.path, post
        for label, post in _malformed(target):
            yield kind, f"body: {label}", target.path, post
        for label, token in _url_tampering(target, [other], smtp):
            yield kind, f"url: {label}", f"/webhooks/{token}", valid_post(target)
        yield kind, "url: the event at another provider's URL", other.path, valid_post(target)
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            yield kind, f"method {method}", target.path, replace(valid_post(target), method=method)


def test_forged_and_malformed_webhook_posts_write_nothing_and_get_a_4xx(
    account, targets, no_outbound
):
    smtp = factories.make_provider(account, port=1, is_default=False)
    client = Client(raise_request_exception=False)
    before = _snapshot()
    failures: list[tuple[object, ...]] = []
    cases = 0
    for kind, label, path, post in _cases(targets, smtp):
        cases += 1
        response = _post(client, path, post)
        after = _snapshot()
        # A body sent with the provider's real credentials that parses into no event we
        # know (an empty SendGrid batch, a Postmark record type we do not keep) may be a
        # 200: ESPs add event types, and a 4xx would make them retry or drop the webhook.
        authentic = label.endswith(", with auth") or label.startswith("body: signed,")
        answered = 400 <= response.status_code < 500 or (authentic and response.status_code == 200)
        if not answered or after != before:
            failures.append((kind, label, response.status_code, "wrote" if after != before else ""))
            before = after
    failures += [("outbound connection", attempt) for attempt in no_outbound]
    figures.check(SUITE, cases=cases, failures=failures)


def test_each_real_event_writes_once_and_its_replay_writes_nothing(targets, no_outbound):
    """The positive control of the suite above (the same events, correctly sent, do write),
    and replays: the very same post again is answered 200 (so the ESP stops resending)
    and writes nothing."""
    client = Client(raise_request_exception=False)
    failures: list[tuple[object, ...]] = []
    cases = 0
    for kind, target in targets.items():
        post = valid_post(target)
        before = _snapshot()
        first = _post(client, target.path, post)
        written = _snapshot()
        if (first.status_code, written[0] - before[0]) != (200, 1):
            failures.append((kind, "first post", first.status_code, first.content[:200]))
            continue
        for attempt in range(3):
            cases += 1
            again = _post(client, target.path, post)
            if again.status_code != 200 or _snapshot() != written:
                failures.append((kind, "replay", attempt, again.status_code))
    figures.check(SUITE, cases=cases, failures=failures)
    assert no_outbound == []


def test_an_sns_subscription_confirmation_is_never_fetched(targets, no_outbound):
    target = targets["amazon_ses"]
    confirmation = _ses_notification(
        target,
        Type="SubscriptionConfirmation",
        Message="You have chosen to subscribe to the topic.",
        SubscribeURL="http://127.0.0.1:9/confirm",
        Token="2336412f37",
    )
    before = _snapshot()

    response = _post(Client(), target.path, _ses_post(confirmation, _basic(_secret("amazon_ses"))))

    figures.record(SUITE, cases=1, failures=int(no_outbound != [] or _snapshot() != before))
    assert response.status_code == 200
    assert no_outbound == []
    assert _snapshot() == before


# --- focused tests: the bugs this suite found ---------------------------------------------


@pytest.mark.parametrize(
    ("kind", "post"),
    [
        # Each crashed (500) before the signature or basic auth was checked.
        (
            "mailgun",
            Post(b'{"signature": {"timestamp": "1", "token": "t\xc3\xb6", "signature": "x"}}'),
        ),
        ("mailgun", Post(b'["not", "an", "object"]')),
        (
            "resend",
            Post(
                b"\xff\xfe",
                {
                    "HTTP_SVIX_ID": "m",
                    "HTTP_SVIX_TIMESTAMP": str(int(time.time())),
                    "HTTP_SVIX_SIGNATURE": "v1,x",
                },
            ),
        ),
        (
            "resend",
            Post(
                b"{}",
                {
                    "HTTP_SVIX_ID": "m",
                    "HTTP_SVIX_TIMESTAMP": str(int(time.time())),
                    "HTTP_SVIX_SIGNATURE": "v1",
                },
            ),
        ),
        (
            "amazon_ses",
            Post(
                b'{"Type": "Surprise"}',
                {"HTTP_AUTHORIZATION": _basic("x:y"), "HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Surprise"},
            ),
        ),
        ("amazon_ses", Post(b"[]", {"HTTP_AUTHORIZATION": _basic("x:y")})),
    ],
)
def test_a_malformed_post_without_valid_credentials_is_a_400_not_a_500(targets, kind, post):
    response = _post(Client(raise_request_exception=False), targets[kind].path, post)

    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'[{"event": []}]',
        b'[{"event": "bounce", "email": {"a": 1}, "sg_message_id": "x"}]',
    ],
)
def test_a_malformed_body_with_a_valid_signature_is_a_400_and_writes_nothing(targets, body):
    target = targets["sendgrid"]
    before = _snapshot()

    response = _post(
        Client(raise_request_exception=False),
        target.path,
        resign(target, Post(body, {"HTTP_AUTHORIZATION": _basic(_secret("sendgrid"))})),
    )

    assert response.status_code == 400
    assert _snapshot() == before


def test_a_batch_with_one_malformed_event_records_none_of_them(targets):
    target = targets["sendgrid"]
    good = json.loads(_sendgrid_body(target))
    bad = {**good[0], "sg_event_id": "evt-bad", "email": ["not", "text"]}
    post = resign(
        target,
        Post(
            json.dumps([*good, bad]).encode(), {"HTTP_AUTHORIZATION": _basic(_secret("sendgrid"))}
        ),
    )
    before = _snapshot()

    response = _post(Client(raise_request_exception=False), target.path, post)

    assert response.status_code == 400
    assert _snapshot() == before


def test_a_webhook_url_with_non_ascii_characters_is_a_404_not_a_500(targets):
    token = webhooks.webhook_token(targets["postmark"].provider)

    response = Client(raise_request_exception=False).post(
        f"/webhooks/{token[:-1]}%C3%A9", b"{}", content_type="application/json"
    )

    assert response.status_code == 404


def test_a_mailgun_signature_cannot_be_replayed_with_another_event(account, targets):
    """Mailgun signs only timestamp and token, not the event: whoever saw one signed post
    (a log, a proxy) could attach its signature block to any event of their own."""
    target = targets["mailgun"]
    auth = {"HTTP_AUTHORIZATION": _basic(_secret("mailgun"))}
    captured = json.loads(_mailgun_body(target, event="delivered"))
    assert (
        _post(Client(), target.path, Post(json.dumps(captured).encode(), auth)).status_code == 200
    )
    other = factories.make_message(
        account,
        provider=target.provider,
        to_email="someone-else@example.com",
        status=Message.Status.SENT,
        provider_message_id="<forgery.other@mg.example.com>",
    )
    forged = json.loads(
        _mailgun_body(replace(target, message=other), signature_block=captured["signature"])
    )
    before = _snapshot()

    response = _post(
        Client(raise_request_exception=False), target.path, Post(json.dumps(forged).encode(), auth)
    )

    assert _snapshot() == before, "a replayed Mailgun signature recorded a forged bounce"
    assert 400 <= response.status_code < 500 or response.status_code == 200


def test_an_ses_bounce_of_two_recipients_suppresses_both(account, targets):
    target = targets["amazon_ses"]
    notification = _ses_notification(target)
    event = json.loads(notification["Message"])
    event["bounce"]["bouncedRecipients"].append(
        {"emailAddress": "cc-rcpt@example.com", "diagnosticCode": "550 5.1.1"}
    )
    notification["Message"] = json.dumps(event)

    response = _post(Client(), target.path, _ses_post(notification, _basic(_secret("amazon_ses"))))

    assert response.status_code == 200
    assert set(Suppression.objects.values_list("email", flat=True)) == {
        target.message.to_email,
        "cc-rcpt@example.com",
    }
