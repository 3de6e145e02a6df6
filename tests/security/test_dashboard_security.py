"""Suite 9, the dashboard's defences, swept across every route and page:

- CSRF: every route that is not machine-facing refuses a POST without its own session's
  token (none, another session's, or a foreign Origin) and changes nothing;
- escaping: hostile text in everything a user or a sender controls comes out escaped on
  every page, and the message's own HTML only inside a sandbox;
- password guessing and sign-ups are slowed per username and per client address;
- next= redirects stay on this host;
- every page carries the security headers, and `check --deploy` is clean in production.

Each sweep states its figure (tests/security/figures.py): one case is one request made.
"""

import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import unquote, urlencode, urlsplit

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connections, transaction
from django.test import Client
from django.urls import reverse
from django.urls.resolvers import RegexPattern
from django.utils import timezone

from accounts.models import Account, PendingSignup
from accounts.services import account_member_add, invitation_create
from api.models import (
    ApiKey,
    Message,
    MessageEvent,
    Suppression,
    Template,
    TemplateVersion,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from api.services import (
    suppression_add,
    template_create,
    template_update,
    webhook_create,
    webhook_send_test,
)
from providers import domains
from providers.models import DkimKey, Provider, SenderDomain
from tests import factories
from tests.factories import make_attachment as attach
from tests.processes import PRODUCTION_ENV, run_configured
from tests.security import figures, urlconf

pytestmark = pytest.mark.django_db

CSRF = "09 dashboard: CSRF on every form route"
XSS = "09 dashboard: hostile text escaped on every page"
GUESSING = "09 dashboard: log-in guessing and sign-ups limited"
REDIRECTS = "09 dashboard: next= redirects stay on this host"
HEADERS = "09 dashboard: security headers on every page"
DEPLOY = "09 dashboard: check --deploy in production"

# Authenticated by API key or by the ESP's signature, never by a browser's cookies: CSRF
# does not apply, and these routes are exempt on purpose. /u/: one-click unsubscribe, which
# mailbox providers POST without a token (RFC 8058); its signed URL is the credential.
MACHINE_PREFIXES = ("/api/", "/webhooks/", "/u/")
PASSWORD = "pw-owner"  # tests/factories.make_user's


# --- the world ---------------------------------------------------------------------------


@pytest.fixture
def world(owner, account, provider, sink, signup_open, dns_server, settings):
    """One of everything a dashboard route can act on, plus a superuser for the admin; the
    instance has a relay and open sign-up, so every page exists, and asks sender domains for
    an SPF record, so a domain's page has every row."""
    settings.MAILPASS_SPF_INCLUDE = "include:spf.mailpass.test"
    staff = factories.make_user("staff")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    spare = factories.make_provider(account, port=sink.port, name="Spare", is_default=False)
    key, _secret = factories.make_api_key(account)
    failed = factories.make_message(account, status=Message.Status.FAILED, provider=provider)
    attach(failed, filename="invoice.pdf", data=b"%PDF-1.7", content_type="application/pdf")
    suppression_add(account=account, email="gone@example.com")
    invitation, _token = invitation_create(
        account=account, email="invited@example.com", invited_by=owner
    )
    member = account_member_add(account=account, user=factories.make_user("member"))
    # Two versions: rolling back to the first changes something.
    template = template_create(
        account=account,
        data={"name": "Welcome", "alias": "welcome", "subject": "Hi", "text": "Hello"},
    )
    template_update(template=template, data={"subject": "Hello again"})
    scheduled = factories.make_message(
        account, status=Message.Status.SCHEDULED, scheduled_at=timezone.now() + dt.timedelta(days=1)
    )
    webhook, _secret = webhook_create(account=account, url="http://127.0.0.1:9/hook")
    delivery = webhook_send_test(endpoint=webhook, test=False)
    domain = domains.domain_create(account=account, name="shop.example")
    return SimpleNamespace(
        owner=owner, staff=staff, account=account, provider=provider, spare=spare, key=key,
        message=failed, invitation=invitation, membership=member, template=template,
        scheduled=scheduled, webhook=webhook, delivery=delivery, domain=domain,
    )  # fmt: skip


def logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


def form_token(client: Client, path: str = "/accounts/login/") -> str:
    """The CSRF token a page of `path` hands this client (and the cookie it sets)."""
    html = client.get(path).content.decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


SNAPSHOT_APPS = {"auth", "sessions", "admin", "accounts", "api", "providers"}


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table a dashboard or auth route could write (not the fixed list
    of permissions)."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values_list())
        for model in apps.get_models()
        if model._meta.app_label in SNAPSHOT_APPS and model._meta.label != "auth.Permission"
    }


# --- every route -------------------------------------------------------------------------


ADMIN_OBJECT = re.compile(r"^admin/(\w+)/(\w+)/")


def _argument(prefix: str, route: str, param: str, world: SimpleNamespace) -> str:
    """A value for one <param> of a route: an object of the world where the route acts on one."""
    if param == "pk":
        path = prefix + route
        if path.startswith("keys/"):
            return str(world.key.pk)
        if path.startswith("providers/"):
            return str(world.spare.pk)
        if path.startswith("messages/") and path.endswith(("/cancel/", "/reschedule/")):
            return str(world.scheduled.pk)
        if path.startswith("messages/"):
            return str(world.message.pk)
        if path.startswith("templates/"):
            return str(world.template.pk)
        if path.startswith("team/invitations/"):
            return str(world.invitation.pk)
        if path.startswith("team/members/"):
            return str(world.membership.pk)
        if path.startswith("webhook-endpoints/"):
            return str(world.webhook.pk)
        if path.startswith("domains/"):
            return str(world.domain.pk)
    if param == "delivery_pk":  # of the webhook's test event
        return str(world.delivery.pk)
    if param == "position":  # of an attachment: the message's first
        return "0"
    if param == "number":  # of a template's version: the first
        return "1"
    if param in ("object_id", "id") and (found := ADMIN_OBJECT.match(prefix + route)):
        model = apps.get_model(found.group(1), found.group(2))
        first = model.objects.order_by("pk").first()
        return str(first.pk if first else 1)
    return {"uidb64": "MQ", "token": "set-password", "content_type_id": "1"}.get(param, "1")


def every_path(world: SimpleNamespace) -> Iterator[tuple[str, str | None, object]]:
    """(path, URL name, view) for every route of the site, each with its arguments filled."""
    seen = set()
    for route in urlconf.every_route():
        if isinstance(route.pattern.pattern, RegexPattern):
            if route.name == "admin:app_list":
                path = reverse(route.name, kwargs={"app_label": "api"})
            else:  # catch-alls: the admin's and the API's
                path = "/" + route.prefix + "nothing-here/"
        else:
            own = str(route.pattern.pattern)
            params = re.findall(r"<(?:\w+:)?(\w+)>", own)
            filled = re.sub(r"<[^>]+>", "{}", own).format(
                *(_argument(route.prefix, own, param, world) for param in params)
            )
            path = "/" + route.prefix + filled
        if path not in seen:  # the log-in routes are listed twice: wrapped, then included
            seen.add(path)
            yield path, route.name, route.pattern.callback


# --- CSRF ----------------------------------------------------------------------------------

SMTP_FORM = {
    "name": "Office relay", "host": "127.0.0.1", "port": "2525", "security": "none",
    "timeout": "7", "from_email": "news@example.com",
}  # fmt: skip
NEW_PASSWORD = "A-new-passphrase-42"
TEMPLATE_FORM = {
    "name": "Order shipped", "alias": "order-shipped", "subject": "Order {{id}}",
    "html": "<p>{{id}}</p>", "text": "", "defaults": "", "sample_variables": '{"id": 1}',
}  # fmt: skip
WEBHOOK_FORM = {"url": "http://127.0.0.1:9/other", "events": ["bounced"], "enabled": "on"}
IN_TWO_DAYS = (timezone.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
# What each form route is sent: a body that does change something once the token is right
# (the control), so a refusal means CSRF refused it, not a bad form. `who` posts it.
CSRF_POSTS: dict[str | None, tuple[str, dict, bool]] = {
    "login": ("anonymous", {"username": "owner", "password": PASSWORD}, True),
    "logout": ("owner", {}, True),
    "password_change": (
        "owner",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        True,
    ),
    "password_reset": ("anonymous", {"email": "nobody@example.com"}, False),
    "set_language": ("owner", {"language": "de", "next": "/"}, False),
    "dashboard:signup": (
        "anonymous",
        {"email": "ada@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        True,
    ),
    "dashboard:team": ("owner", {"email": "teammate2@example.com"}, True),
    "dashboard:invitation-withdraw": ("owner", {}, True),
    "dashboard:member-remove": ("owner", {}, True),
    "dashboard:account-settings": ("owner", {"name": "Renamed", "track_opens": "on"}, True),
    "dashboard:key-list": ("owner", {"name": "Shop", "permissions": ["mail"]}, True),
    "dashboard:key-revoke": ("owner", {}, True),
    "dashboard:provider-create": ("owner", SMTP_FORM, True),
    "dashboard:provider-update": ("owner", {**SMTP_FORM, "name": "Renamed"}, True),
    "dashboard:provider-delete": ("owner", {}, True),
    "dashboard:provider-set-default": ("owner", {}, True),
    "dashboard:provider-test-email": ("owner", {"to_email": "me@example.com"}, True),
    "dashboard:provider-test-connection": ("owner", {}, False),
    "dashboard:requeue-failed": ("owner", {}, True),
    "dashboard:message-cancel": ("owner", {}, True),
    "dashboard:message-reschedule": ("owner", {"scheduled_at": IN_TWO_DAYS}, True),
    "dashboard:template-create": ("owner", TEMPLATE_FORM, True),
    "dashboard:template-update": ("owner", TEMPLATE_FORM, True),
    "dashboard:template-preview": ("owner", TEMPLATE_FORM, False),
    "dashboard:template-delete": ("owner", {}, True),
    "dashboard:template-test-email": ("owner", {"to_email": "me@example.com"}, True),
    "dashboard:template-roll-back": ("owner", {}, True),
    "dashboard:suppression-delete": ("owner", {"email": "gone@example.com"}, True),
    "dashboard:webhook-create": ("owner", WEBHOOK_FORM, True),
    "dashboard:webhook-update": ("owner", {**WEBHOOK_FORM, "description": "Renamed"}, True),
    "dashboard:webhook-enable": ("owner", {}, True),
    "dashboard:webhook-disable": ("owner", {}, True),
    "dashboard:webhook-rotate-secret": ("owner", {"overlap_hours": "24"}, True),
    "dashboard:webhook-test": ("owner", {}, True),
    "dashboard:webhook-delete": ("owner", {}, True),
    "dashboard:webhook-delivery-retry": ("owner", {}, True),
    "dashboard:domain-create": ("owner", {"name": "other.example", "ed25519": "on"}, True),
    "dashboard:domain-verify": ("owner", {}, True),  # the DNS server answers: it fails
    "dashboard:domain-rotate": ("owner", {"ed25519": "on"}, True),
    "dashboard:domain-delete": ("owner", {}, True),
    "admin:auth_group_add": ("staff", {"name": "Intruders"}, True),
}
ANONYMOUS_ROUTES = {
    *("password_reset_done", "password_reset_confirm", "password_reset_complete"),
    *("dashboard:signup-confirm", "dashboard:invitation-accept"),
}


def _who(name: str | None, path: str) -> str:
    if name in CSRF_POSTS:
        return CSRF_POSTS[name][0]
    if name in ANONYMOUS_ROUTES:
        return "anonymous"
    return "staff" if path.startswith("/admin/") else "owner"


def is_csrf_refusal(response) -> bool:
    return response.status_code == 403 and b"CSRF verification failed" in response.content


def test_only_the_machine_facing_routes_are_exempt_from_csrf(world):
    exempt = [
        path
        for path, _name, view in every_path(world)
        if getattr(view, "csrf_exempt", False) and not path.startswith(MACHINE_PREFIXES)
    ]

    assert exempt == [], "\n".join(exempt)


def test_every_form_route_refuses_a_post_without_its_own_sessions_token(world):
    stranger = Client(enforce_csrf_checks=True)
    strangers_token = form_token(stranger)  # what an attacker's own visit hands them
    users = {"anonymous": None, "owner": world.owner, "staff": world.staff}
    clients = {who: logged_in(user, enforce_csrf_checks=True) for who, user in users.items()}
    cases = 0
    failures: list[str] = []
    routes = [
        (path, name) for path, name, _view in every_path(world)
        if not path.startswith(MACHINE_PREFIXES)
    ]  # fmt: skip
    for path, name in routes:
        who, body, changes = CSRF_POSTS.get(name, (_who(name, path), {}, False))
        if name == "dashboard:provider-create":
            path += "?kind=smtp"
        client = clients[who]
        own_token = form_token(client)  # again each time: a control's log-in rotates it
        attempts = {
            "no token": ({}, {}),
            "another session's token": ({"csrfmiddlewaretoken": strangers_token}, {}),
            "another session's token in the header": ({}, {"HTTP_X_CSRFTOKEN": strangers_token}),
            "its own token from a foreign Origin": (
                {"csrfmiddlewaretoken": own_token},
                {"HTTP_ORIGIN": "https://evil.example"},
            ),
        }
        # The admin's routes are all the same middleware's: two ways in each is enough.
        if path.startswith("/admin/") and name not in CSRF_POSTS:
            attempts = dict(list(attempts.items())[:2])
        before = snapshot()
        for label, (extra, headers) in attempts.items():
            response = client.post(path, {**body, **extra}, **headers)
            cases += 1
            if not is_csrf_refusal(response):
                failures.append(f"POST {path} ({who}, {label}): {response.status_code}")
            elif response.cookies:
                failures.append(f"POST {path} ({who}, {label}): refused but set a cookie")
        if snapshot() != before:
            failures.append(f"POST {path} ({who}): refused, yet the database changed")
        if path.startswith("/admin/") and name not in CSRF_POSTS:
            continue
        # The control: the same POST with the session's own token gets past CSRF (and, where
        # it should, changes something), so the refusals above were CSRF's doing. Undone.
        with transaction.atomic():
            response = client.post(path, {**body, "csrfmiddlewaretoken": own_token})
            changed = changes and snapshot() != before
            transaction.set_rollback(True)
        # Its session may be gone with the rollback (a log-out, a password change).
        clients[who] = logged_in(users[who], enforce_csrf_checks=True)
        cases += 1
        if is_csrf_refusal(response) or changed != changes:
            failures.append(f"control POST {path} ({who}) with its token: {response.status_code}")

    assert len(routes) > 90  # the dashboard, auth, i18n, tracking and admin routes
    figures.check(CSRF, cases=cases, failures=failures)


# --- escaping ------------------------------------------------------------------------------

# Each carries a marker (xss01…) to find it on the pages.
PAYLOADS = [
    '<script>alert("xss01")</script>',
    '"><img src=x onerror=alert("xss02")>',
    "javascript:alert('xss03')",
    "</textarea><svg onload=alert('xss04')>",
    "{{ xss05 }}{% csrf_token %}",
    "\u202egpj.exe\u202c xss06 \u200f<b>bold</b>",
    "' onmouseover='alert(7)' data-x='xss07",
    '<a href="javascript:alert(9)">xss09</a>',
    "<style>*{background:url(//evil.example/xss10)}</style>",
    "</title><iframe src=//evil.example/xss11></iframe>",
    " JaVaScRiPt:alert('xss12')",
    "<base href=//evil.example/xss13>",
]
MARKUP = set("<>\"'")


def marker(payload: str) -> str:
    found = re.search(r"xss\d\d", payload)
    assert found
    return found.group(0)


def _normalized_url(value: str) -> str:
    # Browsers drop whitespace and control characters before they read a URL's scheme.
    return re.sub(r"[\x00-\x20\x7f]", "", value).lower()


class Markup(HTMLParser):
    """What a page's markup could do beyond showing text: anything a payload would need."""

    URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}
    NEVER = {"base", "object", "embed", "style", "frame", "frameset", "applet"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        text = (self.get_starttag_text() or "")[:120]
        self._in_script = tag == "script"
        if tag in self.NEVER or (tag == "meta" and "http-equiv" in values):
            self.problems.append(f"<{tag}> element: {text}")
        if tag == "script" and not values.get("src", "").startswith("/static/"):
            self.problems.append(f"script not from /static/: {text}")
        if tag == "iframe" and (
            values.get("sandbox") != ""
            or not values.get("src", "").startswith(("/messages/", "/templates/"))
        ):
            self.problems.append(f"iframe not sandboxed or not ours: {text}")
        if tag == "img" and not re.match(r"/(?!/)", values.get("src", "")):
            self.problems.append(f"image not from this site: {text}")
        for name, value in values.items():
            if name.startswith("on") or name == "srcdoc":
                self.problems.append(f"{name}= attribute: {text}")
            url = _normalized_url(value)
            if name in self.URL_ATTRIBUTES and url.startswith(
                ("javascript:", "vbscript:", "data:text/html")
            ):
                self.problems.append(f'{name}="{value[:40]}": {text}')

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script: {data[:80]!r}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def markup_problems(html: str) -> list[str]:
    parser = Markup()
    parser.feed(html)
    parser.close()
    return parser.problems


def test_the_markup_check_catches_what_escaping_would_let_through():
    page = (
        '<p><img src=x onerror=alert(1)><a href=" JaVa\tScRiPt:x">a</a><script>x()</script>'
        '<iframe src="/messages/1/html/" sandbox="allow-scripts"></iframe><base href="//e">'
        '<script src="//evil.example/x.js"></script><style>p{}</style>'
        '<meta http-equiv="refresh" content="0"></p>'
    )

    assert len(markup_problems(page)) == 10
    assert markup_problems('<p title="&lt;script&gt; onerror=x javascript:">ok</p>') == []


def hostile_address(payload: str) -> str:
    """An address the API accepts that carries the payload's markup in a quoted local part
    ("<script>…"@example.com is valid), or a smaller one where the payload does not fit."""
    quoted = '"' + payload.replace(" ", "").replace("\\", "\\\\").replace('"', '\\"')
    for address in (quoted + '"@example.com', f'"<b>{marker(payload)}</b>"@example.com'):
        try:
            validate_email(address)
        except ValidationError:
            continue
        return address
    raise AssertionError(payload)


def seed(world: SimpleNamespace, payload: str, index: int) -> SimpleNamespace:
    """`payload` in every text a user, a sender or an ESP's webhook can put in the account
    (in addresses, as much of it as an address the API accepts can carry)."""
    address = hostile_address(payload)
    Account.objects.filter(pk=world.account.pk).update(name=payload)
    # The signed-in user's own name is on every page (the top bar) and on the keys it made.
    type(world.owner).objects.filter(pk=world.owner.pk).update(username=payload)
    message = factories.make_message(
        world.account,
        message_id=payload,
        subject=payload,
        from_name=payload,
        to_email=address,
        reply_to=address,
        cc=[address],
        bcc=[address],
        tags=[payload, "plain"],
        metadata={payload: payload, "key": payload},
        html=payload,
        text=payload,
        status=Message.Status.FAILED,
        failure_reason=Message.FailureReason.REJECTED,
        error_message=payload,
        provider=world.provider,
        provider_message_id=payload,
    )
    for event_type in (MessageEvent.Type.CLICK, MessageEvent.Type.BOUNCED):
        MessageEvent.objects.create(
            account=world.account,
            message=message,
            event_type=event_type,
            url=f"https://shop.example/{payload}",
            description=payload,
            user_agent=payload,
            ip_address="203.0.113.9",
        )
    provider = Provider.objects.create(
        account=world.account, name=payload[:100], host="127.0.0.1", port=25,
        security=Provider.Security.NONE, from_email="news@example.com", from_name=payload,
    )  # fmt: skip
    esp = Provider.objects.create(
        account=world.account, name=f"ESP {index}", kind=Provider.Kind.MAILGUN,
        options={"domain": payload, "region": payload}, from_email="esp@example.com",
    )  # fmt: skip
    key = ApiKey.objects.create(
        account=world.account, name=payload[:100], prefix=f"mp_live_x{index:02d}",
        digest="0" * 64, created_by=world.owner,
    )  # fmt: skip
    Suppression.objects.create(account=world.account, email=address, description=payload)
    # A file named as the API would never let it be, and an inline one whose Content-ID is
    # as much of the payload as the API allows in one.
    attach(message, filename=payload, data=payload.encode(), content_type="text/html")
    attach(
        message,
        filename="logo.png",
        data=b"\x89PNG",
        content_type="image/png",
        content_id=re.sub(r"[^\w!#$%&'*+\-/=?^`{|}~.@]", "", payload, flags=re.ASCII)[:100],
    )
    # A template as the API would never store it (it checks the syntax), in every part, and
    # the message sent with it.
    template = Template.objects.create(
        account=world.account, alias=f"xss-{index:02d}", name=payload,
        sample_variables={payload: payload, "key": payload},
    )  # fmt: skip
    version = TemplateVersion.objects.create(
        template=template, number=1, subject=payload, html=payload, text=payload,
        defaults={payload: payload}, created_by=world.owner,
    )  # fmt: skip
    Message.objects.filter(pk=message.pk).update(template_version=version)
    # An endpoint as the API would never store it (it checks the URL), disabled for failing
    # (so the overview lists it), with a delivery whose receiver answered the payload.
    webhook = WebhookEndpoint.objects.create(
        account=world.account, url=payload, description=payload, events=["bounced", payload],
        enabled=False, disabled_reason=WebhookEndpoint.DisabledReason.FAILING,
        failing_since=timezone.now(), secrets="-",
    )  # fmt: skip
    event = WebhookEvent.objects.create(
        account=world.account, event_id=f"msg_xss{index:02d}", type=payload[:32], body="{}"
    )
    delivery = WebhookDelivery.objects.create(
        event=event, endpoint=webhook, status=WebhookDelivery.Status.FAILED, attempts=1,
        response_code=500, error=payload,
    )  # fmt: skip
    WebhookAttempt.objects.create(
        delivery=delivery, response_code=500, error=payload, response_excerpt=payload
    )
    # A domain as the service would never store it (it checks the name), failed (so the
    # overview lists it), with a key and records whose check found the payload.
    found = {"status": "failed", "found": payload, "detail": payload}
    domain = SenderDomain.objects.create(
        account=world.account, name=payload, status=SenderDomain.Status.FAILED,
        checks={"spf": found, "dmarc": found},
    )  # fmt: skip
    DkimKey.objects.create(
        domain=domain, selector=payload[:63], algorithm=DkimKey.Algorithm.RSA,
        state=DkimKey.State.ACTIVE, public_key=payload, private_key_encrypted="-", dns_check=found,
    )  # fmt: skip
    return SimpleNamespace(
        message=message, provider=provider, esp=esp, key=key, address=address, template=template,
        webhook=webhook, delivery=delivery, domain=domain,
    )  # fmt: skip


def pages(payload: str, seeded: SimpleNamespace) -> list[tuple[str, str, dict]]:
    """(method, path, data) of every dashboard page, and of the forms and filters that show
    what was typed into them again."""
    m, p, t = seeded.message.pk, seeded.provider.pk, seeded.template.pk
    w, d = seeded.webhook.pk, seeded.delivery.pk
    filters = urlencode({"status": payload, "recipient": payload, "tag": payload, "q": payload})
    return [
        ("GET", "/", {}),
        ("GET", "/messages/", {}),
        ("GET", f"/messages/?{filters}", {}),
        ("GET", "/messages/?" + urlencode({"tag": payload, "q": payload, "before": payload}), {}),
        ("GET", f"/messages/{m}/", {}),
        ("GET", "/keys/", {}),
        ("GET", f"/keys/{seeded.key.pk}/revoke/", {}),
        ("POST", "/keys/", {"name": payload}),  # no permission ticked: shown again
        ("GET", "/providers/", {}),
        ("GET", "/providers/new/?" + urlencode({"kind": payload}), {}),
        ("POST", "/providers/new/?kind=smtp", {"name": payload, "host": payload, "port": "x"}),
        ("GET", f"/providers/{p}/edit/", {}),
        ("GET", f"/providers/{p}/delete/", {}),
        ("GET", "/suppressions/", {}),
        ("GET", "/suppressions/?" + urlencode({"email": payload}), {}),
        ("POST", "/suppressions/delete/", {"email": payload}),  # "… was not on the list"
        ("POST", "/suppressions/delete/", {"email": seeded.address}),  # "… is off the list"
        ("GET", "/settings/", {}),
        ("POST", "/settings/", {"name": payload + "x" * 200}),  # too long: shown again
        ("GET", "/docs/", {}),
        ("GET", "/accounts/password_change/", {}),
        ("GET", "/team/", {}),
        ("POST", "/team/", {"email": payload}),  # not an address: the form shows it again
        ("GET", "/templates/", {}),
        ("GET", f"/templates/{t}/", {}),
        ("GET", f"/templates/{t}/versions/1/", {}),
        ("GET", f"/templates/{t}/delete/", {}),
        # Refused (the alias, the syntax, the JSON): the form shows it all again.
        ("POST", "/templates/new/", {name: payload for name in TEMPLATE_FORM}),
        ("POST", f"/templates/{t}/", {name: payload for name in TEMPLATE_FORM}),
        ("POST", f"/templates/{t}/test-email/", {"to_email": payload}),
        ("GET", "/webhook-endpoints/", {}),
        ("GET", f"/webhook-endpoints/{w}/", {}),
        ("GET", f"/webhook-endpoints/{w}/?" + urlencode({"status": payload, "mode": payload}), {}),
        ("GET", f"/webhook-endpoints/{w}/edit/", {}),
        ("GET", f"/webhook-endpoints/{w}/delete/", {}),
        ("GET", f"/webhook-endpoints/{w}/deliveries/{d}/", {}),
        ("POST", f"/webhook-endpoints/{w}/deliveries/{d}/retry/", {}),  # disabled: a message
        # Refused (not a URL MailPass posts to): the form shows it again.
        (
            "POST",
            "/webhook-endpoints/new/",
            {"url": payload, "description": payload, "events": "x"},
        ),
        ("POST", f"/webhook-endpoints/{w}/rotate-secret/", {"overlap_hours": payload}),
        ("GET", "/domains/", {}),
        ("GET", f"/domains/{seeded.domain.pk}/", {}),
        ("GET", f"/domains/{seeded.domain.pk}/delete/", {}),
        # Refused (not a domain name): the form shows it again.
        ("POST", "/domains/new/", {"name": payload, "ed25519": payload}),
    ]


ANONYMOUS_PAGES = [
    ("GET", "/accounts/login/?next={}", {}),
    ("POST", "/accounts/login/", {"username": "{}", "password": "wrong"}),
    ("POST", "/signup/", {"email": "{}", "account_name": "{}", "password1": "{}"}),
    ("POST", "/accounts/password_reset/", {"email": "{}"}),
]


def check_page(response, hostile: list[str], where: str) -> list[str]:
    """What is wrong with a page that was given the `hostile` texts: not a 200, markup that
    could run or load something, or one of the texts as it was written (so not escaped)."""
    if response.status_code != 200:
        return [f"{where}: {response.status_code}"]
    html = response.content.decode()
    problems = [f"{where}: {problem}" for problem in markup_problems(html)]
    for text in hostile:
        if MARKUP & set(text) and text in html:
            problems.append(f"{where}: {text!r} is in the page unescaped")
    return problems


def test_hostile_text_is_escaped_on_every_dashboard_page(world):
    client = logged_in(world.owner)
    cases = 0
    failures: list[str] = []
    shown: dict[str, set[str]] = {}
    for index, payload in enumerate(PAYLOADS, start=1):
        seeded = seed(world, payload, index)
        requests = [
            (client, method, path, data) for method, path, data in pages(payload, seeded)
        ] + [
            (
                Client(REMOTE_ADDR=f"198.51.100.{index}"),
                method,
                path.format(urlencode({"": payload})[1:]),
                {name: value.format(payload) for name, value in data.items()},
            )
            for method, path, data in ANONYMOUS_PAGES
        ]
        for who, method, path, data in requests:
            if method == "GET":
                response = who.get(path)
            else:
                response = who.post(path, data, follow=True)
            cases += 1
            where = f"{marker(payload)} {method} {path[:60]}"
            failures += check_page(response, [payload, seeded.address], where)
            if marker(payload) in response.content.decode():
                shown.setdefault(marker(payload), set()).add(path.split("?")[0])

    # Every payload did reach the pages that show stored text.
    must_show = {
        *("/", "/messages/", "/keys/", "/providers/", "/suppressions/", "/settings/"),
        "/templates/",
        "/webhook-endpoints/",
        "/domains/",
    }
    failures += [
        f"{marker(payload)} never shown on {sorted(missing)}"
        for payload in PAYLOADS
        if (missing := must_show - shown.get(marker(payload), set()))
    ]
    figures.check(XSS, cases=cases, failures=failures)
    assert "{{ xss05 }}{% csrf_token %}" in client.get("/messages/?tag=plain").content.decode()


def test_an_event_url_that_is_not_http_is_not_made_a_link(world):
    client = logged_in(world.owner)
    failures = []
    for url in ("javascript:alert('xss')", " JaVaScRiPt:alert(1)", "data:text/html,<b>x</b>"):
        event = MessageEvent.objects.create(
            account=world.account, message=world.message, event_type=MessageEvent.Type.CLICK,
            url=url,
        )  # fmt: skip
        response = client.get(f"/messages/{world.message.pk}/")
        failures += check_page(response, [url], f"event url {url!r}")
        event.delete()

    figures.check(XSS, cases=3, failures=failures)


def test_the_message_html_is_shown_only_in_a_sandbox_that_runs_nothing(world):
    html = '<script>parent.document.title="pwned"</script><img src=x onerror="top.location=1">'
    message = factories.make_message(world.account, html=html)
    client = logged_in(world.owner)

    page = client.get(f"/messages/{message.pk}/").content.decode()
    preview = client.get(f"/messages/{message.pk}/html/")

    frames = re.findall(r"<iframe[^>]*>", page)
    assert len(frames) == 1 and ' sandbox="" ' in frames[0]
    assert "allow-" not in frames[0]
    policy = preview["Content-Security-Policy"]
    assert policy.split(";")[0].strip() == "sandbox"  # a bare sandbox: no allow-scripts
    assert "allow-" not in policy and "script-src" not in policy
    assert "default-src 'none'" in policy
    assert preview["X-Frame-Options"] == "SAMEORIGIN"
    assert preview.content.decode() == html  # shown as sent, only ever inside the sandbox
    assert html not in page


def test_a_templates_html_is_shown_only_in_a_sandbox_that_runs_nothing(world):
    html = '<script>parent.document.title="pwned"</script><img src=x onerror="top.location=1">'
    html += "<p>{{v}}</p>"
    hostile = "<script>alert(2)</script>"
    data = {"name": "T", "alias": "hostile", "subject": "{{v}}", "html": html}
    template = template_create(account=world.account, data=data)
    Template.objects.filter(pk=template.pk).update(sample_variables={"v": hostile})
    client = logged_in(world.owner)

    page = client.get(f"/templates/{template.pk}/").content.decode()
    saved = client.get(f"/templates/{template.pk}/html/")
    draft = client.post(
        "/templates/preview/",
        {"subject": "{{v}}", "html": html, "sample_variables": json.dumps({"v": hostile})},
    )

    frames = re.findall(r"<iframe[^>]*>", page)
    assert len(frames) == 1 and ' sandbox="" ' in frames[0]
    assert "allow-" not in frames[0]
    assert html not in page  # the source, escaped in its textarea
    for preview in (saved, draft):
        policy = preview["Content-Security-Policy"]
        assert policy.split(";")[0].strip() == "sandbox"
        assert "allow-" not in policy and "script-src" not in policy
        assert "default-src 'none'" in policy
        assert preview["X-Frame-Options"] == "SAMEORIGIN"
        body = preview.content.decode()
        assert '<script>parent.document.title="pwned"</script>' in body  # only ever in here
        assert hostile not in body  # a variable, in the subject and in the HTML: escaped
        assert "<p>&lt;script&gt;alert(2)&lt;/script&gt;</p>" in body


def disposition_filename(header: str) -> str | None:
    """The filename of a one-parameter `attachment` Content-Disposition, read as RFC 6266
    says (a quoted-string, or RFC 5987's filename*); None if the header is anything else."""
    if quoted := re.fullmatch(r'attachment; filename="((?:[^"\\]|\\.)*)"', header):
        return re.sub(r"\\(.)", r"\1", quoted.group(1))
    if encoded := re.fullmatch(r"attachment; filename\*=utf-8''([\x21-\x7e]+)", header):
        return None if re.search(r'[";\\]', encoded.group(1)) else unquote(encoded.group(1))
    return None


def test_an_attachment_is_only_ever_a_download_whatever_its_name_and_type(world):
    client = logged_in(world.owner)
    # Names the API refuses too, stored directly (PostgreSQL cannot hold a NUL in text).
    names = [*PAYLOADS, "line\r\nSet-Cookie: sessionid=x.html", "tab\tand\x01ctl.svg"]
    failures = []
    for name in names:
        message = factories.make_message(world.account)
        attach(message, filename=name, data=name.encode(), content_type="text/html")

        response = client.get(f"/messages/{message.pk}/attachments/0/")

        header = response.get("Content-Disposition", "")
        if response.status_code != 200 or response.content != name.encode():
            failures.append(f"{name!r}: {response.status_code}")
        if response.get("Content-Type") != "application/octet-stream":
            failures.append(f"{name!r}: Content-Type {response.get('Content-Type')!r}")
        if not header.isascii() or disposition_filename(header) != name:
            failures.append(f"{name!r}: Content-Disposition {header!r}")
        if response.cookies or response.get("X-Content-Type-Options") != "nosniff":
            failures.append(f"{name!r}: cookies or sniffing")

    figures.check(XSS, cases=len(names), failures=failures)


# --- log-in guessing and sign-ups -----------------------------------------------------------


def log_in(client: Client, username: str, password: str, ip: str):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_password_guessing_gets_ten_tries_per_username_from_one_address(world, settings):
    limit = settings.MAILPASS_LOGIN_FAILURE_LIMIT
    cases = 0
    checked: list[str] = []
    failures: list[str] = []

    def guesses(campaign: str, attempts: list[tuple[str, str]]) -> None:
        nonlocal cases
        for username, ip in attempts:
            response = log_in(Client(), username, f"guess-{cases}", ip)
            cases += 1
            if response.status_code not in (200, 429):
                failures.append(f"{campaign}: {username} from {ip}: {response.status_code}")
            if response.status_code == 200:
                checked.append(campaign)

    guesses("address", [("owner", "203.0.113.7")] * 30)
    # An IPv6 client is its /64: hopping through it is one client.
    guesses("ipv6", [("teammate", f"2001:db8:1:2::{i:x}") for i in range(30)])
    failures += [
        f"{campaign}: {checked.count(campaign)} passwords checked, not {limit}"
        for campaign in ("address", "ipv6")
        if checked.count(campaign) != limit
    ]

    figures.check(GUESSING, cases=cases, failures=failures)


@pytest.mark.parametrize("spread", ["one username, many addresses", "one address, many usernames"])
def test_past_the_ceiling_guessing_slows_to_one_try_per_interval(world, settings, spread):
    settings.MAILPASS_LOGIN_FAILURE_CEILING = 20
    settings.MAILPASS_LOGIN_SLOW_SECONDS = 10
    start = dt.datetime(2030, 3, 1, 12, 0, tzinfo=dt.UTC)

    def guess(i: int) -> int:
        if spread.startswith("one username"):
            return log_in(Client(), "owner", f"guess-{i}", f"198.51.100.{i}").status_code
        return log_in(Client(), f"user{i}", f"guess-{i}", "203.0.113.9").status_code

    with time_machine.travel(start, tick=False):
        burst = [guess(i) for i in range(40)]
    with time_machine.travel(start + dt.timedelta(seconds=11), tick=False):
        later = [guess(i) for i in range(40, 43)]

    # The ceiling's worth, then one per interval: not a lock, a crawl.
    failures = [] if burst.count(200) == 21 and later == [200, 429, 429] else [f"{burst} {later}"]
    figures.check(GUESSING, cases=43, failures=failures)


def test_a_stranger_guessing_cannot_lock_the_owner_out(world, settings):
    """The finding: ten failed log-ins from ten addresses locked the real owner out, even
    with the right password. Now a stranger's failures count against the stranger."""
    home = Client()
    assert log_in(home, "owner", PASSWORD, "192.0.2.10").status_code == 302  # a known browser
    device = home.cookies["mailpass_device"].value
    home.logout()  # which forgets every cookie; the browser keeps this one
    home.cookies["mailpass_device"] = device
    for i in range(settings.MAILPASS_LOGIN_FAILURE_CEILING + 30):
        log_in(Client(), "owner", "wrong", f"198.51.100.{i % 250}")

    from_home = log_in(home, "owner", PASSWORD, "192.0.2.10")
    elsewhere_once = log_in(Client(), "owner", PASSWORD, "192.0.2.11")

    figures.record(GUESSING, cases=settings.MAILPASS_LOGIN_FAILURE_CEILING + 32, failures=0)
    assert from_home.status_code == 302  # the browser the owner used before: not slowed
    assert "_auth_user_id" in home.session
    assert elsewhere_once.status_code in (302, 429)  # a new browser waits its turn at worst


def test_ten_failures_from_other_addresses_do_not_refuse_the_right_password(world):
    for i in range(10):
        assert log_in(Client(), "owner", "wrong", f"198.51.100.{i}").status_code == 200

    assert log_in(Client(), "owner", PASSWORD, "198.51.100.99").status_code == 302
    figures.record(GUESSING, cases=11, failures=0)


def test_guesses_sent_at_once_get_no_more_tries_than_one_after_another(world, settings):
    start = threading.Barrier(24)
    codes: list[int] = []

    def guess(i: int) -> None:
        client = Client()
        start.wait(timeout=30)
        try:
            codes.append(log_in(client, "owner", f"guess-{i}", "198.51.100.77").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    checked = codes.count(200)
    failures = [] if checked == settings.MAILPASS_LOGIN_FAILURE_LIMIT else [f"{checked} checked"]
    figures.record(GUESSING, cases=len(codes), failures=len(failures))
    assert sorted(set(codes)) == [200, 429]
    assert failures == []


def test_a_refused_log_in_says_why_and_checks_no_password_even_a_right_one(world):
    client = Client()
    for _ in range(10):
        assert log_in(client, "owner", "wrong", "198.51.100.1").status_code == 200

    response = log_in(client, "owner", PASSWORD, "198.51.100.1")

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Too many failed log-ins" in response.content.decode()
    assert 'name="username"' in response.content.decode()  # the form, to try again later
    assert "_auth_user_id" not in client.session
    figures.record(GUESSING, cases=11, failures=0)


def test_the_refusal_ends_with_the_window(world):
    start = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(10):
            log_in(Client(), "owner", "wrong", "198.51.100.1")
        assert log_in(Client(), "owner", PASSWORD, "198.51.100.1").status_code == 429
    with time_machine.travel(start + dt.timedelta(minutes=15, seconds=1), tick=False):
        response = log_in(Client(), "owner", PASSWORD, "198.51.100.1")

    assert response.status_code == 302
    figures.record(GUESSING, cases=12, failures=0)


def test_a_successful_log_in_clears_its_failures_from_that_address(world):
    home = "198.51.100.1"
    for _ in range(9):
        assert log_in(Client(), "owner", "wrong", home).status_code == 200
    assert log_in(Client(), "owner", PASSWORD, home).status_code == 302
    # The pair starts again from nothing: nine more failures, and it still gets in.
    for _ in range(9):
        assert log_in(Client(), "owner", "wrong", home).status_code == 200
    assert log_in(Client(), "owner", PASSWORD, home).status_code == 302
    figures.record(GUESSING, cases=20, failures=0)


def test_the_admin_log_in_counts_and_is_refused_the_same_way(world):
    client = Client()
    for _ in range(10):
        response = client.post(
            "/admin/login/", {"username": "staff", "password": "wrong"}, REMOTE_ADDR="10.0.0.1"
        )
        assert response.status_code == 200

    refused = client.post(
        "/admin/login/", {"username": "staff", "password": "pw-staff"}, REMOTE_ADDR="10.0.0.1"
    )

    assert refused.status_code == 429
    assert log_in(Client(), "staff", "pw-staff", "10.0.0.1").status_code == 429
    assert log_in(Client(), "staff", "pw-staff", "10.0.0.2").status_code == 302
    figures.record(GUESSING, cases=13, failures=0)


def test_sign_ups_are_limited_per_address(world, settings):
    limit = settings.MAILPASS_SIGNUP_LIMIT

    def sign_up(name: str, ip: str):
        return Client().post(
            "/signup/",
            {"email": f"{name}@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
            REMOTE_ADDR=ip,
        )

    codes = [sign_up(f"bulk{i}", "203.0.113.40").status_code for i in range(limit + 5)]
    elsewhere = sign_up("neighbour", "203.0.113.41")

    failures = [] if codes == [200] * limit + [429] * 5 else [f"status codes {codes}"]
    figures.check(GUESSING, cases=len(codes) + 1, failures=failures)
    assert PendingSignup.objects.filter(email__startswith="bulk").count() == limit
    assert elsewhere.status_code == 200
    refused = sign_up("one-more", "203.0.113.40")
    assert "Too many sign-ups" in refused.content.decode()
    assert refused["Retry-After"] == "3600"


# --- next= ---------------------------------------------------------------------------------

HOSTILE_NEXT = [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "http:evil.example",
    "https:/evil.example",
    "///evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    " /ok",
    " //evil.example",
    "\t//evil.example",
    "/\t/evil.example",
    "http://testserver@evil.example/",
    "http://evil.example\\@testserver/",
    "https://testserver.evil.example/",
    "//testserver:80@evil.example",
    "http://evil.example#@testserver",
    "http://[::1]:1/",
    "/%2F%2Fevil.example",
    "\x00//evil.example",
]


def stays_here(location: str) -> bool:
    """Whether a browser following `location` from http://testserver/ stays on it."""
    # As a browser reads it: no surrounding spaces or controls, no tabs or newlines
    # anywhere, and a backslash is a slash.
    url = re.sub(r"[\t\n\r]", "", location.strip("\x00\x20\t\n\r\x0b\x0c")).replace("\\", "/")
    if url.startswith("//"):  # however many slashes follow, a host name comes next
        url = "http://" + url.lstrip("/")
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return parts.scheme in ("http", "https") and parts.netloc == "testserver"
    return True  # a path, relative or not: this host


def test_the_stays_here_check_knows_a_way_out():
    leaving = [url for url in HOSTILE_NEXT if not url.lstrip("\x00 \t").startswith(("/%", "/ok"))]

    assert [url for url in leaving if stays_here(url)] == []
    assert stays_here("/messages/") and stays_here("http://testserver/keys/")
    assert stays_here("%20/ok") and stays_here("/%2F%2Fevil.example")


def test_next_never_leads_off_this_host(world):
    cases = 0
    failures: list[str] = []

    def follow(what: str, response, expected: str | None = None) -> None:
        nonlocal cases
        cases += 1
        location = response.get("Location", "")
        if response.status_code != 302 or not stays_here(location):
            failures.append(f"{what}: {response.status_code} to {location!r}")

    for index, target in enumerate(HOSTILE_NEXT):
        ip = f"198.51.100.{index}"
        client = Client()
        follow(f"log in, next={target!r}", client.post(
            "/accounts/login/",
            {"username": "owner", "password": PASSWORD, "next": target}, REMOTE_ADDR=ip,
        ))  # fmt: skip
        follow(f"log in, ?next={target!r}", Client().post(
            "/accounts/login/?" + urlencode({"next": target}),
            {"username": "owner", "password": PASSWORD}, REMOTE_ADDR=ip,
        ))  # fmt: skip
        follow(f"language, next={target!r}", client.post(
            "/i18n/setlang/", {"language": "de", "next": target}
        ))  # fmt: skip
        follow(f"language, Referer {target!r}", client.post(
            "/i18n/setlang/", {"language": "en"}, HTTP_REFERER=target
        ))  # fmt: skip
        follow(f"log out, next={target!r}", client.post("/accounts/logout/", {"next": target}))
        follow(f"log out, ?next={target!r}", logged_in(world.owner).post(
            "/accounts/logout/?" + urlencode({"next": target})
        ))  # fmt: skip

    figures.check(REDIRECTS, cases=cases, failures=failures)


def test_a_safe_next_is_still_followed(world):
    response = Client().post(
        "/accounts/login/", {"username": "owner", "password": PASSWORD, "next": "/keys/"}
    )

    assert response.status_code == 302 and response["Location"] == "/keys/"


# --- security headers ----------------------------------------------------------------------


def policy(header: str) -> dict[str, set[str]]:
    directives = [d.split() for d in header.split(";") if d.strip()]
    return {d[0]: set(d[1:]) for d in directives}


DASHBOARD_POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'", "'unsafe-inline'"},  # the usage meters' style="width: …"
    "img-src": {"'self'", "data:"},
    "frame-src": {"'self'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
    "base-uri": {"'none'"},
    "object-src": {"'none'"},
}
# Swagger UI boots from an inline script: allowed there, and only there.
API_DOCS_POLICY = {**DASHBOARD_POLICY, "script-src": {"'self'", "'unsafe-inline'"}}
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def header_problems(response, where: str, csp: dict, frame_options: str) -> list[str]:
    problems = []
    if response.status_code >= 500:
        problems.append(f"{where}: {response.status_code}")
    found = policy(response.get("Content-Security-Policy", ""))
    if found != csp:
        problems.append(f"{where}: CSP {response.get('Content-Security-Policy')!r}")
    for name, value in {**COMMON_HEADERS, "X-Frame-Options": frame_options}.items():
        if response.get(name) != value:
            problems.append(f"{where}: {name} {response.get(name)!r}")
    return problems


def test_every_page_carries_the_security_headers(world):
    owner = logged_in(world.owner)
    staff = logged_in(world.staff)
    cases = 0
    failures: list[str] = []
    # The sandboxed preview frames: the message's HTML, a template's saved and draft ones.
    previews = [
        f"/messages/{world.message.pk}/html/",
        f"/templates/{world.template.pk}/html/",
        "/templates/preview/",
    ]
    for path, _name, _view in every_path(world):
        if path.startswith(MACHINE_PREFIXES) or path in previews:
            continue
        admin = path.startswith("/admin/")
        answers = [("signed in", (staff if admin else owner).get(path))]
        if not admin:  # an anonymous visitor gets the admin's log-in page from all of those
            answers.append(("anonymous", Client().get(path)))
        for who, response in answers:
            cases += 1
            failures += header_problems(response, f"GET {path} ({who})", DASHBOARD_POLICY, "DENY")
    cases += 1
    failures += header_problems(
        Client().get("/admin/"), "/admin/ (anonymous)", DASHBOARD_POLICY, "DENY"
    )

    extra = {
        "a 404 page": owner.get("/no-such-page/"),
        "a CSRF refusal": logged_in(world.owner, enforce_csrf_checks=True).post("/keys/"),
        "the API's JSON": owner.get("/api/v1/health"),
        "an API error": Client().post("/api/v1/mail/send", {}),
    }
    for where, response in extra.items():
        cases += 1
        failures += header_problems(response, where, DASHBOARD_POLICY, "DENY")
    cases += 1
    # WhiteNoise answers ahead of the framing middleware: a stylesheet needs no X-Frame-Options.
    static = owner.get("/static/mailpass.css")
    failures += [
        problem
        for problem in header_problems(static, "a static file", DASHBOARD_POLICY, "DENY")
        if "X-Frame-Options" not in problem
    ]
    cases += 1
    docs = Client().get("/api/docs/")
    failures += [
        problem
        for problem in header_problems(docs, "/api/docs/", API_DOCS_POLICY, "DENY")
        # drf-spectacular's Swagger view opens its own window policy, on purpose (OAuth popups).
        if "Cross-Origin-Opener-Policy" not in problem
    ]
    for preview in previews:
        cases += 1
        sandboxed = owner.get(preview)
        if not sandboxed["Content-Security-Policy"].startswith("sandbox;"):
            failures.append(f"{preview}: CSP {sandboxed['Content-Security-Policy']!r}")
        framing = (sandboxed["X-Frame-Options"], sandboxed["X-Content-Type-Options"])
        if framing != ("SAMEORIGIN", "nosniff"):
            failures.append(f"{preview}: framing or sniffing headers")

    figures.check(HEADERS, cases=cases, failures=failures)


def test_an_https_instance_redirects_plain_http_and_asks_for_https_only(world, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000

    plain = Client().get("/accounts/login/?next=/keys/")
    secure = Client().get("/accounts/login/", secure=True)

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/accounts/login/?next=/keys/"
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


# --- check --deploy ------------------------------------------------------------------------


def test_check_deploy_is_clean_with_production_settings():
    result = run_configured(
        PRODUCTION_ENV, "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )

    figures.record(DEPLOY, cases=1, failures=int(result.returncode != 0))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_an_instance_whose_public_url_is_plain_http():
    result = run_configured(
        {**PRODUCTION_ENV, "MAILPASS_PUBLIC_URL": "http://mail.example.com"},
        "manage.py", "check", "--deploy", "--fail-level", "WARNING",
    )  # fmt: skip

    figures.record(DEPLOY, cases=1, failures=int(result.returncode == 0))
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


SHOW_HTTPS = (
    "import django; django.setup(); from django.conf import settings as s; print("
    "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS,"
    " s.SECURE_HSTS_PRELOAD, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
    " getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
)


@pytest.mark.parametrize(
    ("env", "shown"),
    [
        ({}, "True 31536000 True False True True None"),
        (
            {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto", "SECURE_HSTS_SECONDS": "3600"},
            "True 3600 True False True True ('HTTP_X_FORWARDED_PROTO', 'https')",
        ),
        ({"MAILPASS_PUBLIC_URL": "http://127.0.0.1:8000"}, "False 0 True False True True None"),
        ({"DEBUG": "1"}, "False 0 True False False False None"),
    ],
    ids=["https", "behind-a-proxy", "plain-http", "debug"],
)
def test_https_settings_follow_the_public_url_and_debug(env, shown):
    result = run_configured({**PRODUCTION_ENV, **env}, "-c", SHOW_HTTPS)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == shown
