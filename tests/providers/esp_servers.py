"""Loopback HTTP servers that speak just enough of each ESP's API for django-anymail.

Each server records every request (method, path, headers, parsed body) and answers with
the ESP's success shape, including its message id, or, when told, with the ESP's own
error shape for a status. A request whose credential is in `rejected` gets the ESP's
authentication error. `stall()` makes it a hostile ESP that never finishes an answer.
Nothing here leaves 127.0.0.1.
"""

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs

REJECTED_KEY = "rejected-key"
STALL_MODES = ("hang", "drip")
DRIP_SECONDS = 0.1
GIVE_UP_SECONDS = 8.0  # a stalled answer ends then, so a client without a deadline still ends


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, a form as {name: [values]} (files as FormFile), or b"" for none
    peer: tuple[str, int] = ("", 0)  # the client's address: one per TCP connection

    def mime(self) -> EmailMessage:
        """SES: the raw message inside SendEmail's Content.Raw.Data."""
        raw = base64.b64decode(self.body["Content"]["Raw"]["Data"])
        return message_from_bytes(raw, policy=policy.default)


class FormFile(NamedTuple):
    """A file field of a multipart/form-data body, its bytes exactly as they arrived."""

    filename: str
    content_type: str  # the part's whole Content-Type header, parameters and all ("" if none)
    content: bytes


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON-serialisable, or str for a plain-text body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Esp:
    """One ESP's dialect: where it lives, how it authenticates, what it answers."""

    prefix: str  # the API base path, as in the anymail api_url
    credential: Callable[[dict[str, str]], str]  # request headers → the key it carries
    success: Callable[[Recorded], Answer]
    error: Callable[[int, str], Answer]  # (status, message) → the ESP's error answer
    auth_error: Answer


def _bearer(headers: dict[str, str]) -> str:
    return headers.get("authorization", "").removeprefix("Bearer ")


def _basic_password(headers: dict[str, str]) -> str:
    encoded = headers.get("authorization", "").removeprefix("Basic ")
    return base64.b64decode(encoded).decode().partition(":")[2] if encoded else ""


def _aws_access_key_id(headers: dict[str, str]) -> str:
    # "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ses/aws4_request, ..."
    auth = headers.get("authorization", "")
    return auth.partition("Credential=")[2].partition("/")[0]


def _sendgrid_success(request: Recorded) -> Answer:
    if request.method == "GET":
        return Answer(200, {"scopes": ["mail.send", "user.profile.read"]})
    return Answer(202, None, {"X-Message-Id": "sg-" + uuid.uuid4().hex})


def _mailgun_success(request: Recorded) -> Answer:
    domain = request.path.split("/")[-2 if request.method == "POST" else -1]
    if request.method == "GET":
        return Answer(
            200, {"domain": {"name": domain, "state": "active"}, "receiving_dns_records": []}
        )
    return Answer(200, {"id": f"<{uuid.uuid4().hex}@{domain}>", "message": "Queued. Thank you."})


def _postmark_success(request: Recorded) -> Answer:
    if request.method == "GET":
        return Answer(200, {"ID": 1, "Name": "Transactional", "Color": "blue"})
    return Answer(
        200,
        {
            "To": request.body["To"],
            "SubmittedAt": "2026-11-21T12:00:00.0000000-05:00",
            "MessageID": str(uuid.uuid4()),
            "ErrorCode": 0,
            "Message": "OK",
        },
    )


def _resend_success(request: Recorded) -> Answer:
    if request.method == "GET":
        return Answer(200, {"object": "list", "data": [{"name": "example.com"}]})
    return Answer(200, {"id": str(uuid.uuid4())})


def _brevo_success(request: Recorded) -> Answer:
    if request.method == "GET":
        return Answer(200, {"email": "owner@example.com", "companyName": "Example"})
    return Answer(201, {"messageId": f"<{uuid.uuid4().hex}@smtp-relay.mailin.fr>"})


def _ses_success(request: Recorded) -> Answer:
    if request.method == "GET":
        return Answer(200, {"SendingEnabled": True, "ProductionAccessEnabled": True})
    return Answer(200, {"MessageId": f"0100{uuid.uuid4().hex}-000000"})


_SES_ERROR_TYPES = {
    400: "MessageRejected",
    403: "UnrecognizedClientException",
    429: "TooManyRequestsException",
    500: "InternalFailure",
}


def _ses_error(status: int, message: str) -> Answer:
    error_type = _SES_ERROR_TYPES.get(status, "BadRequestException")
    return Answer(status, {"message": message}, {"x-amzn-ErrorType": f"{error_type}:"})


ESPS: dict[str, Esp] = {
    "sendgrid": Esp(
        prefix="/v3/",
        credential=_bearer,
        success=_sendgrid_success,
        error=lambda status, text: Answer(
            status, {"errors": [{"message": text, "field": None, "help": None}]}
        ),
        auth_error=Answer(
            401,
            {
                "errors": [
                    {
                        "field": None,
                        "message": (
                            "The provided authorization grant is invalid, expired, or revoked"
                        ),
                    }
                ]
            },
        ),
    ),
    "mailgun": Esp(
        prefix="/v3/",
        credential=_basic_password,
        success=_mailgun_success,
        error=lambda status, text: Answer(status, {"message": text}),
        auth_error=Answer(401, "Forbidden"),
    ),
    "postmark": Esp(
        prefix="/",
        credential=lambda headers: headers.get("x-postmark-server-token", ""),
        success=_postmark_success,
        # Postmark answers request errors with 422 and an ErrorCode; 401/429/500 alike.
        error=lambda status, text: Answer(status, {"ErrorCode": 400, "Message": text}),
        auth_error=Answer(
            401, {"ErrorCode": 10, "Message": "Request does not contain a valid Server token."}
        ),
    ),
    "resend": Esp(
        prefix="/",
        credential=_bearer,
        success=_resend_success,
        error=lambda status, text: Answer(
            status, {"statusCode": status, "name": "validation_error", "message": text}
        ),
        auth_error=Answer(
            403, {"statusCode": 403, "name": "validation_error", "message": "API key is invalid"}
        ),
    ),
    "brevo": Esp(
        prefix="/v3/",
        credential=lambda headers: headers.get("api-key", ""),
        success=_brevo_success,
        error=lambda status, text: Answer(status, {"code": "invalid_parameter", "message": text}),
        auth_error=Answer(401, {"code": "unauthorized", "message": "Key not found"}),
    ),
    "amazon_ses": Esp(
        prefix="/",
        credential=_aws_access_key_id,
        success=_ses_success,
        error=_ses_error,
        auth_error=_ses_error(403, "The security token included in the request is invalid."),
    ),
}


class EspServer:
    """One ESP's fake API on 127.0.0.1, in a thread. `url` is the MAILPASS_ESP_API_URLS value."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.esp = ESPS[kind]
        self.requests: list[Recorded] = []
        self.answers: list[Answer] = []  # what each request got, in order
        self.failures: list[Answer] = []  # answered first, one per request, before success
        self.rejected = {REJECTED_KEY}
        self.stalling: str | None = None
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll keeps shutdown() (once per test) from costing half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.esp.prefix}"

    def start(self) -> "EspServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def stall(self, mode: str | None) -> None:
        """From now on answer no request: "hang" reads it and says nothing; "drip" starts
        the answer and sends its headers a byte every DRIP_SECONDS, never ending them (each
        byte in time for any read timeout). None: answer again."""
        if mode is not None and mode not in STALL_MODES:
            raise ValueError(f"stall mode is one of {STALL_MODES}, not {mode!r}")
        self.stalling = mode

    def _stall(self, mode: str, write: Callable[[bytes], object]) -> None:
        give_up = time.monotonic() + GIVE_UP_SECONDS
        if mode == "drip":
            write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
        while not self._stopping.wait(DRIP_SECONDS) and time.monotonic() < give_up:
            if mode == "drip":
                write(b"x")

    def fail_next(self, status: int, message: str = "") -> None:
        """Answer the next request with the ESP's error shape for `status`."""
        self.failures.append(self.esp.error(status, message or f"error {status}"))

    def answer(self, request: Recorded) -> Answer:
        self.requests.append(request)
        if self.esp.credential(request.headers) in self.rejected:
            answer = self.esp.auth_error
        elif self.failures:
            answer = self.failures.pop(0)
        else:
            answer = self.esp.success(request)
        self.answers.append(answer)
        return answer

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Recorded(
                    self.command, self.path, headers, _parse(headers, raw), self.client_address
                )
                if (mode := server.stalling) is not None:
                    server.requests.append(request)
                    self.close_connection = True
                    try:
                        server._stall(mode, self.wfile.write)
                    except OSError:
                        pass  # the client hung up
                    return
                answer = server.answer(request)
                if isinstance(answer.body, str):
                    payload, content_type = answer.body.encode(), "text/plain"
                elif answer.body is None:
                    payload, content_type = b"", "application/json"
                else:
                    payload, content_type = json.dumps(answer.body).encode(), "application/json"
                self.send_response(answer.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet test output

        return Handler


def _parse(headers: dict[str, str], raw: bytes) -> Any:
    content_type = headers.get("content-type", "")
    if not raw:
        return b""
    if "json" in content_type:
        return json.loads(raw)
    if "x-www-form-urlencoded" in content_type:
        return parse_qs(raw.decode(), keep_blank_values=True)
    if content_type.startswith("multipart/form-data"):
        return _parse_form_data(content_type, raw)
    return raw


def _parse_form_data(content_type: str, raw: bytes) -> dict[str, list[str | FormFile]]:
    """A multipart/form-data body (Mailgun's, with attachments) as {name: [values]}: text
    fields as str, file fields as FormFile.

    The bodies are cut out at the boundary lines by hand, not by the email parser, so a
    file's bytes stay exactly what was sent (the parser may touch line ends). Each part's
    headers go through the email parser; requests (urllib3 2) writes a filename as UTF-8
    between quotes, as browsers do (WHATWG), so they are read as UTF-8 text.
    """
    boundary = message_from_string(f"Content-Type: {content_type}\n\n").get_boundary()
    if not boundary:
        raise ValueError(f"multipart/form-data without a boundary: {content_type!r}")
    delimiter = b"\r\n--" + boundary.encode()
    # A leading CRLF makes the first delimiter look like the others; the close is "--".
    sections = (b"\r\n" + raw).split(delimiter)
    if sections[0] or not sections[-1].startswith(b"--"):
        raise ValueError("multipart/form-data body not framed by its boundary")
    form: dict[str, list[str | FormFile]] = {}
    for section in sections[1:-1]:
        head, separator, content = section.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            head, content = head.removesuffix(b"\r\n"), b""
        part = message_from_string(head.decode() + "\n\n", policy=policy.HTTP)
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        if not isinstance(name, str):
            raise ValueError(f"multipart/form-data part without a name: {head!r}")
        value: str | FormFile
        if filename is None:
            value = content.decode()
        else:
            value = FormFile(filename, str(part.get("Content-Type", "")), content)
        form.setdefault(name, []).append(value)
    return form


ESP_KINDS = list(ESPS)

# The words of each ESP's answer to a bad key, as a message about it should quote them.
AUTH_ERROR_MESSAGES = {
    "sendgrid": "The provided authorization grant is invalid, expired, or revoked",
    "mailgun": "Forbidden",
    "postmark": "Request does not contain a valid Server token.",
    "resend": "API key is invalid",
    "brevo": "Key not found",
    "amazon_ses": "The security token included in the request is invalid.",
}


def esp_values(kind: str, key: str) -> dict[str, dict[str, str]]:
    """provider_create's credentials and options for a provider of `kind` using `key`."""
    if kind == "amazon_ses":
        return {
            "credentials": {"access_key_id": key, "secret_access_key": f"secret-of-{key}"},
            "options": {"region": "eu-west-1", "configuration_set": "transactional"},
        }
    if kind == "mailgun":
        return {"credentials": {"api_key": key}, "options": {"domain": "mg.example.com"}}
    if kind == "postmark":
        return {"credentials": {"server_token": key}, "options": {}}
    return {"credentials": {"api_key": key}, "options": {}}
