"""Suite 2, tenant isolation matrix: every route that takes an id, tried by the outsider
against the owner's objects, answers exactly what it answers for an id nothing has, and
changes nothing in the database; the owner's teammate gets through where the owner does.

The routes come from the URLconf, not from a list: a route with a parameter that is not in
MATRIX (or in NO_TENANT_OBJECT, with its reason) fails the suite until it is added; every
object route of every model in the admin is generated from its registry. Every case is
tried with every HTTP method (the admin's with GET and POST); the methods the route accepts
must answer the case's status (404 for the owner's objects), the others only the same as
for a missing id. Before and after each pair of requests every row of every table is read
(raw SQL) and compared.

A case counts once per method: one request with the owner's object (the request with a
missing id beside it is the control); the teammate's positive control counts once per
method it tries.
"""

import base64
import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient

from accounts.models import Account, Invitation
from accounts.services import account_member_add, invitation_create
from api import tracking, webhooks
from api.emails import new_message_id
from api.models import Message, MessageEvent, Permission, Suppression, Template
from api.services import (
    api_key_create,
    suppression_add,
    template_create,
    webhook_create,
    webhook_send_test,
)
from api.signing import base36
from api.unsubscribe import unsubscribe_token
from providers import domains
from providers.models import Provider, ProviderPace, ProviderSlot, ProviderUsage
from tests import factories
from tests.factories import make_attachment as attach
from tests.security import figures
from tests.security.database import table_rows
from tests.security.urlconf import every_route

pytestmark = pytest.mark.django_db

SUITE = "02 tenant isolation matrix"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MISSING_PK = 987_654_321  # no table here gets near it
CSRF_FIELD = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]*(")')
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


# --- the routes ---------------------------------------------------------------------------


def routes_with_parameters() -> set[str]:
    return {route.route for route in every_route() if route.parameters}


# Routes with a parameter that names no tenant object, and why.
NO_TENANT_OBJECT = {
    # The admin's index of one app, and its catch-all: staff only, no object.
    r"admin/^(?P<app_label>": "an app label, staff only",
    "admin/(?P<url>.*)$": "the admin's catch-all, staff only",
    # Random single-use tokens mailed to one address, stored as digests: no id in them to
    # re-point at another account's object (tests/security/test_open_relay.py covers them).
    "signup/confirm/<str:token>/": "a random token mailed to whoever signed up",
    "invitation/<str:token>/": "a random token mailed to whoever was invited",
}


def fill(route: str, value: str) -> str:
    """The path of `route` with its one parameter set to `value`."""
    path, count = PARAMETER.subn(lambda _: value, route)
    assert count == 1, route
    return "/" + path


# --- the world ----------------------------------------------------------------------------


@dataclass
class World:
    owner: Any
    teammate: Any
    outsider: Any
    account: Account
    outsider_account: Account
    sink_port: int
    outsider_message: Message
    outsider_hook: Provider  # the outsider's Postmark provider, with its webhook secret
    serial: Iterator[int] = field(default_factory=itertools.count)

    def n(self) -> int:
        return next(self.serial)


@dataclass(frozen=True)
class Target:
    owner: str  # the owner's object as it goes into the URL or the form
    missing: str  # the same for an object nothing has


def owner_message(w: World, **fields: Any) -> Message:
    message = factories.make_message(
        w.account,
        status=Message.Status.SENT,
        html='<p>Hi <a href="https://example.com/owner">there</a></p>',
        track_opens=True,
        track_clicks=True,
        provider_message_id=f"owner-esp-{w.n()}",
        **fields,
    )
    MessageEvent.objects.create(
        account=w.account, message=message, event_type=MessageEvent.Type.DELIVERED
    )
    return message


def owner_provider(w: World) -> Provider:
    return factories.make_provider(
        w.account, port=w.sink_port, name=f"Owner relay {w.n()}", is_default=False
    )


def smtp_form(w: World) -> dict[str, str]:
    return {
        "name": "Renamed by someone",
        "host": "127.0.0.1",
        "port": str(w.sink_port),
        "security": "none",
        "timeout": "5",
        "from_email": "renamed@example.com",
    }


def message_pk(w: World) -> Target:
    return Target(str(owner_message(w).pk), str(MISSING_PK))


def message_with_file(w: World) -> Target:
    """The owner's message with a file at position 0 (the outsider's has one there too)."""
    message = owner_message(w)
    attach(message, filename=f"owner-{w.n()}.pdf", data=b"%PDF-1.7 owner's invoice")
    return Target(str(message.pk), str(MISSING_PK))


def attachment_path(w: World, value: str) -> str:
    return f"/messages/{value}/attachments/0/"


def provider_pk(w: World) -> Target:
    return Target(str(owner_provider(w).pk), str(MISSING_PK))


def key_pk(w: World) -> Target:
    return Target(str(factories.make_api_key(w.account)[0].pk), str(MISSING_PK))


def suppressed(w: World) -> Target:
    n = w.n()
    suppression_add(account=w.account, email=f"listed{n}@example.com", reason="manual")
    # The same length: a page that repeats the address must not differ in Content-Length.
    return Target(f"listed{n}@example.com", f"absent{n}@example.com")


def message_id(w: World, *, brackets: bool) -> Target:
    owner, missing = owner_message(w).message_id, new_message_id()
    if brackets:
        return Target(quote(owner, safe=""), quote(missing, safe=""))
    return Target(owner.strip("<>"), missing.strip("<>"))


def repointed(w: World, own_token: str) -> Target:
    """The outsider's own signed message token with the pk swapped for the owner's message."""
    signed_part = own_token.split(".", 1)[1]
    return Target(
        f"{base36(owner_message(w).pk)}.{signed_part}", f"{base36(MISSING_PK)}.{signed_part}"
    )


def forged_tracking(w: World, kind: str) -> Target:
    own = w.outsider_message.pk
    return repointed(w, tracking.open_token(own) if kind == "o" else tracking.click_token(own, 0))


def forged_unsubscribe(w: World) -> Target:
    return repointed(w, unsubscribe_token(w.outsider_message.pk))


def forged_webhook(w: World) -> Target:
    signed_part = webhooks.webhook_token(w.outsider_hook).split(".", 1)[1]
    hook = esp_provider(w.account, f"owner-hook-{w.n()}:pw")
    return Target(f"{base36(hook.pk)}.{signed_part}", f"{base36(MISSING_PK)}.{signed_part}")


def esp_ids(w: World) -> Target:
    esp_id = owner_message(w).provider_message_id
    return Target(esp_id, f"never-sent-{w.n()}")


def esp_provider(account: Account, webhook_secret: str) -> Provider:
    return factories.make_esp_provider(
        account,
        Provider.Kind.POSTMARK,
        key="pm-token",
        name="Postmark",
        credentials={"webhook_secret": webhook_secret},
        from_email="esp@example.com",
    )


def postmark_delivery(esp_id: str) -> str:
    return json.dumps(
        {
            "RecordType": "Delivery",
            "ServerID": 1,
            "MessageID": esp_id,
            "Recipient": "rcpt@example.com",
            "DeliveredAt": "2026-11-21T12:00:00Z",
            "Details": "250 OK",
            "Tag": "",
            "Metadata": {},
        }
    )


def owner_template(w: World) -> Template:
    n = w.n()
    return template_create(
        account=w.account,
        data={
            "name": f"Owner template {n}",
            "alias": f"owner-tpl-{n:04d}",
            "subject": "Hi {{name}}",
            "text": "Hello {{name}}",
            "defaults": {"name": "there"},
        },
    )


def template_pk(w: World) -> Target:
    return Target(str(owner_template(w).pk), str(MISSING_PK))


def template_alias(w: World) -> Target:
    """The owner's alias, and one nothing has of the same length."""
    alias = owner_template(w).alias
    return Target(alias, "absent-tp-" + alias.rsplit("-", 1)[1])


def template_form(w: World, value: str) -> dict[str, str]:
    return {
        "name": "Renamed by someone",
        "alias": f"renamed-{value}",
        "subject": "Taken over {{name}}",
        "text": "Taken over",
        "defaults": "",
        "sample_variables": "",
    }


def owner_endpoint(w: World) -> Any:
    endpoint, _ = webhook_create(account=w.account, url=f"https://hooks{w.n()}.example.com/in")
    return endpoint


def endpoint_pk(w: World) -> Target:
    return Target(str(owner_endpoint(w).pk), str(MISSING_PK))


def owner_domain(w: World) -> Any:
    return domains.domain_create(account=w.account, name=f"owner{w.n()}.example")


def domain_pk(w: World) -> Target:
    return Target(str(owner_domain(w).pk), str(MISSING_PK))


def domain_name(w: World) -> Target:
    return Target(owner_domain(w).name, "missing.example")


def owner_delivery(w: World) -> Target:
    """The owner's endpoint and one of its deliveries, as "<endpoint>/<delivery>"."""
    endpoint = owner_endpoint(w)
    delivery = webhook_send_test(endpoint=endpoint, test=False)
    return Target(f"{endpoint.pk}/{delivery.pk}", f"{endpoint.pk}/{MISSING_PK}")


def own_endpoint_owner_delivery(w: World) -> Target:
    """The outsider's own endpoint with the owner's delivery: the pair must belong together."""
    theirs, _ = webhook_create(account=w.outsider_account, url="https://outsider.example.com/in")
    owner, missing = vars(owner_delivery(w)).values()
    return Target(f"{theirs.pk}/{owner.split('/')[1]}", f"{theirs.pk}/{missing.split('/')[1]}")


def retry_path(w: World, value: str) -> str:
    return f"/api/v1/webhooks/{value.split('/')[0]}/deliveries/{value.split('/')[1]}/retry"


def dashboard_delivery_path(suffix: str) -> Callable[[World, str], str]:
    """The dashboard's URL of a delivery ("<endpoint>/<delivery>"), then `suffix`."""

    def path(w: World, value: str) -> str:
        endpoint, delivery = value.split("/")
        return f"/webhook-endpoints/{endpoint}/deliveries/{delivery}/{suffix}"

    return path


def webhook_form(w: World, value: str) -> dict[str, Any]:
    return {"url": f"https://taken-over{value}.example.com/in", "events": ["sent"], "enabled": "on"}


def later() -> str:
    """A time two days ahead, as the API takes it."""
    return (timezone.now() + dt.timedelta(days=2)).isoformat()


def scheduled_message(w: World) -> Message:
    return factories.make_message(
        w.account,
        status=Message.Status.SCHEDULED,
        scheduled_at=timezone.now() + dt.timedelta(days=1),
    )


def scheduled_pk(w: World) -> Target:
    return Target(str(scheduled_message(w).pk), str(MISSING_PK))


def scheduled_id(w: World, *, brackets: bool) -> Target:
    owner, missing = scheduled_message(w).message_id, new_message_id()
    if brackets:
        return Target(quote(owner, safe=""), quote(missing, safe=""))
    return Target(owner.strip("<>"), missing.strip("<>"))


def invitation_pk(w: World) -> Target:
    invitation, _ = invitation_create(
        account=w.account, email=f"invitee{w.n()}@example.com", invited_by=w.owner
    )
    return Target(str(invitation.pk), str(MISSING_PK))


def membership_pk(w: World) -> Target:
    member = factories.make_user(f"member{w.n()}")
    membership = account_member_add(account=w.account, user=member)
    return Target(str(membership.pk), str(MISSING_PK))


def reset_link(w: World) -> Target:
    token = default_token_generator.make_token(w.outsider)  # valid, for someone else
    owner_uid = urlsafe_base64_encode(force_bytes(w.owner.pk))
    # No user has it, and it is as long as the owner's (the page repeats the path).
    missing_uid = urlsafe_base64_encode(b"x" * len(str(w.owner.pk)))
    return Target(f"{owner_uid}/{token}", f"{missing_uid}/{token}")


# --- the matrix ---------------------------------------------------------------------------

NOT_FOUND_ON = {"GET": 404, "POST": 404}
SAFE_404 = {"GET": 404, "HEAD": 404}


@dataclass(frozen=True)
class Case:
    route: str  # as the URLconf writes it: the key that ties the case to the route
    variant: str
    # Whose credentials: "api" (the outsider's Bearer key), "session" (the outsider logged in
    # to the dashboard, CSRF token included), "hook" (the outsider's webhook basic auth) or
    # "anonymous".
    who: str
    target: Callable[[World], Target]
    accepted: dict[str, int]  # method -> what the outsider must get for the owner's object
    teammate: dict[str, int] | None = None  # method -> what the owner and teammate get
    path: Callable[[World, str], str] | None = None  # the URL for a value; None: the route's
    body: Callable[[World, str], Any] | None = None  # POST data for a value
    content_type: str | None = None
    echoes: str = ""  # "path": the answer may repeat the URL; "value": the value itself
    follow: bool = False
    methods: tuple[str, ...] = METHODS  # what to try

    @property
    def label(self) -> str:
        return f"{self.route} [{self.variant}]"

    def url(self, world: World, value: str) -> str:
        return self.path(world, value) if self.path else fill(self.route, value)


def dashboard(
    route: str,
    target: Callable[[World], Target],
    accepted: dict[str, int],
    teammate: dict[str, int],
    **kwargs: Any,
) -> Case:
    return Case(route, "session", "session", target, accepted, teammate, **kwargs)


MATRIX: list[Case] = [
    # The API: the outsider's own valid key.
    Case(
        "api/v1/mail/status/<str:message_id>",
        "bare id",
        "api",
        lambda w: message_id(w, brackets=False),
        {"GET": 404, "HEAD": 404},
        {"GET": 200},
    ),
    Case(
        "api/v1/mail/status/<str:message_id>",
        "url-encoded <id>",
        "api",
        lambda w: message_id(w, brackets=True),
        {"GET": 404},
        {"GET": 200},
    ),
    Case(
        "api/v1/mail/<message_id:message_id>/cancel",
        "bare id",
        "api",
        lambda w: scheduled_id(w, brackets=False),
        {"POST": 404},
        {"POST": 200},
    ),
    Case(
        "api/v1/mail/<message_id:message_id>/cancel",
        "url-encoded <id>",
        "api",
        lambda w: scheduled_id(w, brackets=True),
        {"POST": 404},
        {"POST": 200},
    ),
    Case(
        "api/v1/mail/<message_id:message_id>",
        "bare id",
        "api",
        lambda w: scheduled_id(w, brackets=False),
        {"PATCH": 404},
        {"PATCH": 200},
        body=lambda w, _: {"scheduled_at": later()},
    ),
    Case(
        "api/v1/mail/<message_id:message_id>",
        "url-encoded <id>",
        "api",
        lambda w: scheduled_id(w, brackets=True),
        {"PATCH": 404},
        {"PATCH": 200},
        body=lambda w, _: {"scheduled_at": later()},
    ),
    Case(
        "api/v1/templates/<str:reference>",
        "id",
        "api",
        template_pk,
        {"GET": 404, "HEAD": 404, "PATCH": 404, "DELETE": 404},
        {"GET": 200, "PATCH": 200, "DELETE": 200},
        body=lambda w, _: {"name": "Renamed by someone", "subject": "Taken over"},
    ),
    Case(
        "api/v1/templates/<str:reference>",
        "alias",
        "api",
        template_alias,
        {"GET": 404, "PATCH": 404, "DELETE": 404},
        {"GET": 200, "PATCH": 200, "DELETE": 200},
        body=lambda w, _: {"name": "Renamed by someone", "subject": "Taken over"},
    ),
    Case(
        "api/v1/templates/<str:reference>/render",
        "id",
        "api",
        template_pk,
        {"POST": 404},
        {"POST": 200},
        body=lambda w, _: {"variables": {"name": "Ada"}},
    ),
    Case(
        "api/v1/templates/<str:reference>/render",
        "alias",
        "api",
        template_alias,
        {"POST": 404},
        {"POST": 200},
        body=lambda w, _: {"variables": {"name": "Ada"}},
    ),
    Case(
        "api/v1/suppressions/<path:email>",
        "as listed",
        "api",
        suppressed,
        {"DELETE": 404},
        {"DELETE": 200},
    ),
    Case(
        "api/v1/suppressions/<path:email>",
        "upper-case",
        "api",
        lambda w: Target(*(value.upper() for value in vars(suppressed(w)).values())),
        {"DELETE": 404},
        {"DELETE": 200},
    ),
    Case(
        "api/v1/suppressions/<path:email>",
        "url-encoded",
        "api",
        lambda w: Target(*(quote(value, safe="") for value in vars(suppressed(w)).values())),
        {"DELETE": 404},
        {"DELETE": 200},
    ),
    Case(
        "api/v1/webhooks/<str:id>",
        "id",
        "api",
        endpoint_pk,
        {"GET": 404, "HEAD": 404, "PATCH": 404, "DELETE": 404},
        {"GET": 200, "PATCH": 200, "DELETE": 200},
        body=lambda w, _: {"description": "Renamed by someone", "enabled": False},
    ),
    Case(
        "api/v1/domains/<str:id>",
        "id",
        "api",
        domain_pk,
        {"GET": 404, "HEAD": 404, "DELETE": 404},
        {"GET": 200, "DELETE": 200},
    ),
    Case(
        "api/v1/domains/<str:id>",
        "name",
        "api",
        domain_name,
        {"GET": 404, "HEAD": 404, "DELETE": 404},
        {"GET": 200, "DELETE": 200},
    ),
    Case("api/v1/domains/<str:id>/verify", "id", "api", domain_pk, {"POST": 404}, {"POST": 200}),
    Case(
        "api/v1/domains/<str:id>/verify", "name", "api", domain_name, {"POST": 404}, {"POST": 200}
    ),
    Case("api/v1/domains/<str:id>/rotate", "id", "api", domain_pk, {"POST": 404}, {"POST": 200}),
    Case(
        "api/v1/webhooks/<str:id>/rotate-secret",
        "id",
        "api",
        endpoint_pk,
        {"POST": 404},
        {"POST": 200},
        body=lambda w, _: {"overlap_hours": 1},
    ),
    Case("api/v1/webhooks/<str:id>/test", "id", "api", endpoint_pk, {"POST": 404}, {"POST": 202}),
    Case(
        "api/v1/webhooks/<str:id>/deliveries",
        "id",
        "api",
        endpoint_pk,
        {"GET": 404, "HEAD": 404},
        {"GET": 200},
    ),
    Case(
        "api/v1/webhooks/<str:id>/deliveries/<str:delivery_id>/retry",
        "owner's endpoint and delivery",
        "api",
        owner_delivery,
        {"POST": 404},
        {"POST": 202},
        path=retry_path,
    ),
    Case(
        "api/v1/webhooks/<str:id>/deliveries/<str:delivery_id>/retry",
        "own endpoint, owner's delivery",
        "api",
        own_endpoint_owner_delivery,
        {"POST": 404},
        path=retry_path,
    ),
    # The dashboard: the outsider logged in, with a valid CSRF token.
    dashboard("keys/<int:pk>/revoke/", key_pk, NOT_FOUND_ON, {"GET": 200, "POST": 302}),
    dashboard(
        "providers/<int:pk>/edit/",
        provider_pk,
        NOT_FOUND_ON,
        {"GET": 200, "POST": 302},
        body=lambda w, _: smtp_form(w),
    ),
    dashboard("providers/<int:pk>/delete/", provider_pk, NOT_FOUND_ON, {"GET": 200, "POST": 302}),
    dashboard("providers/<int:pk>/default/", provider_pk, {"POST": 404}, {"POST": 302}),
    dashboard(
        "providers/<int:pk>/test-email/",
        provider_pk,
        {"POST": 404},
        {"POST": 302},
        body=lambda w, _: {"to_email": "probe@example.com"},
    ),
    dashboard("providers/<int:pk>/test-connection/", provider_pk, {"POST": 404}, {"POST": 302}),
    dashboard("messages/<int:pk>/", message_pk, {"GET": 404, "POST": 404}, {"GET": 200}),
    dashboard("team/invitations/<int:pk>/withdraw/", invitation_pk, {"POST": 404}, {"POST": 302}),
    dashboard("team/members/<int:pk>/remove/", membership_pk, {"POST": 404}, {"POST": 302}),
    dashboard("messages/<int:pk>/html/", message_pk, {"GET": 404}, {"GET": 200}),
    dashboard("messages/<int:pk>/cancel/", scheduled_pk, {"POST": 404}, {"POST": 302}),
    dashboard(
        "messages/<int:pk>/reschedule/",
        scheduled_pk,
        {"POST": 404},
        {"POST": 302},
        body=lambda w, _: {"scheduled_at": later()[:16]},
    ),
    dashboard(
        "templates/<int:pk>/",
        template_pk,
        NOT_FOUND_ON,
        {"GET": 200, "POST": 302},
        body=template_form,
    ),
    dashboard("templates/<int:pk>/html/", template_pk, {"GET": 404, "HEAD": 404}, {"GET": 200}),
    dashboard("templates/<int:pk>/delete/", template_pk, NOT_FOUND_ON, {"GET": 200, "POST": 302}),
    dashboard(
        "templates/<int:pk>/test-email/",
        template_pk,
        {"POST": 404},
        {"POST": 302},
        body=lambda w, _: {"to_email": "probe@example.com"},
    ),
    dashboard(
        "templates/<int:pk>/versions/<int:number>/",
        template_pk,
        {"GET": 404, "HEAD": 404},
        {"GET": 200},
        path=lambda w, value: f"/templates/{value}/versions/1/",
    ),
    dashboard(
        "templates/<int:pk>/versions/<int:number>/roll-back/",
        template_pk,
        {"POST": 404},
        {"POST": 302},
        path=lambda w, value: f"/templates/{value}/versions/1/roll-back/",
    ),
    dashboard("webhook-endpoints/<int:pk>/", endpoint_pk, SAFE_404, {"GET": 200}),
    dashboard(
        "webhook-endpoints/<int:pk>/edit/",
        endpoint_pk,
        NOT_FOUND_ON,
        {"GET": 200, "POST": 302},
        body=webhook_form,
    ),
    dashboard("webhook-endpoints/<int:pk>/enable/", endpoint_pk, {"POST": 404}, {"POST": 302}),
    dashboard("webhook-endpoints/<int:pk>/disable/", endpoint_pk, {"POST": 404}, {"POST": 302}),
    dashboard(
        "webhook-endpoints/<int:pk>/rotate-secret/",
        endpoint_pk,
        {"POST": 404},
        {"POST": 200},
        body=lambda w, _: {"overlap_hours": "24"},
    ),
    dashboard("webhook-endpoints/<int:pk>/test/", endpoint_pk, {"POST": 404}, {"POST": 302}),
    dashboard(
        "webhook-endpoints/<int:pk>/delete/", endpoint_pk, NOT_FOUND_ON, {"GET": 200, "POST": 302}
    ),
    dashboard("domains/<int:pk>/", domain_pk, SAFE_404, {"GET": 200}),
    dashboard("domains/<int:pk>/verify/", domain_pk, {"POST": 404}, {"POST": 302}),
    dashboard("domains/<int:pk>/rotate/", domain_pk, {"POST": 404}, {"POST": 302}),
    dashboard("domains/<int:pk>/delete/", domain_pk, NOT_FOUND_ON, {"GET": 200, "POST": 302}),
    dashboard(
        "webhook-endpoints/<int:pk>/deliveries/<int:delivery_pk>/",
        owner_delivery,
        SAFE_404,
        {"GET": 200},
        path=dashboard_delivery_path(""),
    ),
    Case(
        "webhook-endpoints/<int:pk>/deliveries/<int:delivery_pk>/",
        "own endpoint, owner's delivery",
        "session",
        own_endpoint_owner_delivery,
        SAFE_404,
        path=dashboard_delivery_path(""),
    ),
    dashboard(
        "webhook-endpoints/<int:pk>/deliveries/<int:delivery_pk>/retry/",
        owner_delivery,
        {"POST": 404},
        {"POST": 302},
        path=dashboard_delivery_path("retry/"),
    ),
    Case(
        "webhook-endpoints/<int:pk>/deliveries/<int:delivery_pk>/retry/",
        "own endpoint, owner's delivery",
        "session",
        own_endpoint_owner_delivery,
        {"POST": 404},
        path=dashboard_delivery_path("retry/"),
    ),
    dashboard(
        "messages/<int:pk>/attachments/<int:position>/",
        message_with_file,
        {"GET": 404, "HEAD": 404},
        {"GET": 200},
        path=attachment_path,
    ),
    # Not a URL parameter, but an address in the form: the owner's listed address must read
    # exactly like one that is on no list (the page repeats the address the user typed).
    dashboard(
        "suppressions/delete/",
        suppressed,
        {"POST": 200},
        {"POST": 302},
        path=lambda w, _: "/suppressions/delete/",
        body=lambda w, value: {"email": value},
        echoes="value",
        follow=True,
    ),
    # Public routes whose token is the credential: the outsider's own token, re-pointed.
    Case("t/o/<str:token>", "forged", "anonymous", lambda w: forged_tracking(w, "o"), SAFE_404),
    Case("t/c/<str:token>", "forged", "anonymous", lambda w: forged_tracking(w, "c"), SAFE_404),
    Case(
        "u/<str:token>",
        "forged",
        "anonymous",
        forged_unsubscribe,
        {"GET": 404, "HEAD": 404, "POST": 404},
    ),
    Case(
        "webhooks/<str:token>",
        "forged token",
        "anonymous",
        forged_webhook,
        dict.fromkeys(METHODS, 404),
    ),
    Case(
        "webhooks/<str:token>",
        "own token, owner's ESP message id",
        "hook",
        esp_ids,
        {"POST": 200},
        path=lambda w, _: "/webhooks/" + webhooks.webhook_token(w.outsider_hook),
        body=lambda w, value: postmark_delivery(value),
        content_type="application/json",
    ),
    Case(
        "accounts/reset/<uidb64>/<token>/",
        "the outsider's token, the owner's uid",
        "session",
        reset_link,
        {"GET": 200, "POST": 200},
        path=lambda w, value: f"/accounts/reset/{value}/",
        body=lambda w, _: {"new_password1": "Taken-over-1!", "new_password2": "Taken-over-1!"},
        echoes="path",  # the page's language menu returns to it
    ),
]


ADMIN_OBJECTS: dict[str, Callable[[World], Any]] = {
    "accounts.Account": lambda w: w.account,
    "accounts.Membership": lambda w: w.account.memberships.first(),
    "accounts.Invitation": lambda w: Invitation.objects.get(pk=invitation_pk(w).owner),
    "api.ApiKey": lambda w: factories.make_api_key(w.account)[0],
    "api.Message": owner_message,
    "api.MessageEvent": lambda w: owner_message(w).events.first(),
    "api.Suppression": lambda w: Suppression.objects.create(
        account=w.account, email=f"admin{w.n()}@example.com"
    ),
    "providers.Provider": owner_provider,
    "providers.ProviderUsage": lambda w: ProviderUsage.objects.create(
        provider=owner_provider(w), window_start=timezone.now()
    ),
    "providers.ProviderSlot": lambda w: ProviderSlot.objects.create(
        provider=owner_provider(w), number=0
    ),
    "providers.ProviderPace": lambda w: ProviderPace.objects.create(
        provider=owner_provider(w), next_at=timezone.now()
    ),
    "auth.Group": lambda w: Group.objects.get_or_create(name="operators")[0],
    "auth.User": lambda w: w.owner,
}


def admin_object(w: World, model: type) -> Any:
    """An object of the owner's account (or the owner) for each model the admin shows."""
    label = model._meta.label
    assert label in ADMIN_OBJECTS, f"teach ADMIN_OBJECTS which of the owner's {label} to try"
    return ADMIN_OBJECTS[label](w)


# Every admin view answers every method alike (login first); GET and POST are what it uses.
ADMIN_ACCEPTS = {"GET": 302, "POST": 302}


def admin_cases() -> list[Case]:
    """Every object route of every model in the admin: the outsider is not staff, so each
    is the same redirect to the admin's login as for a missing object."""
    cases = []
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        for pattern in model_admin.urls:
            if not PARAMETER.search(str(pattern.pattern)):
                continue
            cases.append(
                Case(
                    prefix + str(pattern.pattern),
                    model.__name__,
                    "session",
                    lambda w, model=model: Target(str(admin_object(w, model).pk), str(MISSING_PK)),
                    ADMIN_ACCEPTS,
                    echoes="path",
                    methods=tuple(ADMIN_ACCEPTS),
                )
            )
    cases.append(
        Case(
            "admin/r/<path:content_type_id>/<path:object_id>/",
            "Message",
            "session",
            lambda w: Target(str(owner_message(w).pk), str(MISSING_PK)),
            ADMIN_ACCEPTS,
            path=lambda w, value: (
                f"/admin/r/{ContentType.objects.get_for_model(Message).pk}/{value}/"
            ),
            echoes="path",
            methods=tuple(ADMIN_ACCEPTS),
        )
    )
    return cases


def all_cases() -> list[Case]:
    return MATRIX + admin_cases()


# --- requests and comparisons --------------------------------------------------------------


def changed_tables(before: dict, after: dict) -> list[str]:
    return [table for table in before if before[table] != after.get(table)]


@dataclass
class Clients:
    api: APIClient
    session: Client
    anonymous: Client
    hook: Client
    csrf: str

    def request(self, case: Case, method: str, path: str, data: Any) -> Any:
        client = getattr(self, case.who)
        extra: dict[str, Any] = {"follow": case.follow}
        if case.who == "session":
            extra["HTTP_X_CSRFTOKEN"] = self.csrf
        if case.who == "hook":
            extra["HTTP_AUTHORIZATION"] = HOOK_AUTH
        if case.who == "api" and method in ("POST", "PATCH") and data is not None:
            return client.generic(
                method, path, json.dumps(data), content_type="application/json", **extra
            )
        if method == "POST" and data is not None:
            if case.content_type:
                return client.post(path, data, content_type=case.content_type, **extra)
            return client.post(path, {**data, "csrfmiddlewaretoken": self.csrf}, **extra)
        return client.generic(method, path, **extra)


HOOK_SECRET = "outsider-hook:s3cret"
HOOK_AUTH = "Basic " + base64.b64encode(HOOK_SECRET.encode()).decode()


def session_client(user: Any) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/keys/")  # a page with a form sets the CSRF cookie
    return client, client.cookies["csrftoken"].value


def api_client(account: Account, user: Any) -> APIClient:
    """A client with a key of every permission: what stops it must be the tenant's wall."""
    _, secret = api_key_create(
        account=account, name="probe", created_by=user, permissions=list(Permission.values)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def normalized(response: Any, case: Case, path: str, value: str) -> tuple:
    """What must be byte-identical between the owner's object and a missing one: status,
    headers, cookies, redirects and body, with the masked CSRF token and the X-Request-ID
    (new in every answer by design) and, where the case allows an echo, the path or value
    replaced."""
    replacements = []
    if case.echoes == "path":
        replacements = [path, quote(path, safe="/")]
    elif case.echoes == "value":
        replacements = [value, quote(value, safe="@")]

    def clean(data: bytes) -> bytes:
        data = CSRF_FIELD.sub(rb"\1{csrf}\2", data)
        for text in replacements:
            data = data.replace(text.encode(), b"{echo}")
        return data

    headers = sorted(
        (name, b"{request-id}" if name == "X-Request-ID" else clean(str(val).encode()))
        for name, val in response.items()
    )
    cookies = clean(response.cookies.output().encode())
    chain = [
        (clean(url.encode()), status) for url, status in getattr(response, "redirect_chain", [])
    ]
    return response.status_code, headers, cookies, chain, clean(response.content)


def difference(own: tuple, missing: tuple) -> list[str]:
    """The parts of two normalized answers that differ, for the failure message."""
    lines = []
    for part, mine, theirs in zip(ANSWER_PARTS, own, missing, strict=True):
        if mine == theirs:
            continue
        if part == "headers":
            mine, theirs = set(mine) - set(theirs), set(theirs) - set(mine)
        elif part == "body":
            at = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b), 0)
            mine, theirs = mine[max(at - 80, 0) : at + 120], theirs[max(at - 80, 0) : at + 120]
        lines.append(f"    {part}: owner's {mine!r} / missing {theirs!r}")
    return lines


ANSWER_PARTS = ("status", "headers", "cookies", "redirects", "body")


def attempt(clients: Clients, world: World, case: Case, method: str, target: Target) -> list[str]:
    """One request with the owner's object and one with a missing one; what went wrong."""
    own_path = case.url(world, target.owner)
    missing_path = case.url(world, target.missing)
    own_data = case.body(world, target.owner) if case.body else {}
    missing_data = case.body(world, target.missing) if case.body else {}

    before = table_rows()
    cache.clear()  # the key's rate-limit counter (RateLimit-Remaining) starts equal for both
    own = clients.request(case, method, own_path, own_data)
    cache.clear()
    missing = clients.request(case, method, missing_path, missing_data)
    after = table_rows()

    problems = []
    where = f"{method} {case.label}"
    expected = case.accepted.get(method)
    if expected is not None and own.status_code != expected:
        problems.append(f"{where}: {own.status_code}, expected {expected}")
    if expected is None and own.status_code >= 500:
        problems.append(f"{where}: {own.status_code}")
    own_answer = normalized(own, case, own_path, target.owner)
    missing_answer = normalized(missing, case, missing_path, target.missing)
    if own_answer != missing_answer:
        problems.append(f"{where}: answers differently for the owner's object and a missing one")
        problems.extend(difference(own_answer, missing_answer))
    if changed := changed_tables(before, after):
        problems.append(f"{where}: changed {', '.join(changed)}")
    return problems


@pytest.fixture
def world(owner, teammate, outsider, account, outsider_account, sink, dns_server) -> World:
    outsider_message = factories.make_message(
        outsider_account, status=Message.Status.SENT, html="<p>x</p>", track_opens=True
    )
    attach(outsider_message, filename="outsider.pdf", data=b"%PDF-1.7 outsider's own")
    return World(
        owner=owner,
        teammate=teammate,
        outsider=outsider,
        account=account,
        outsider_account=outsider_account,
        sink_port=sink.port,
        outsider_message=outsider_message,
        outsider_hook=esp_provider(outsider_account, HOOK_SECRET),
    )


# --- the tests ----------------------------------------------------------------------------


def test_every_route_with_a_parameter_is_in_the_matrix():
    covered = {case.route for case in all_cases()}
    with_parameters = routes_with_parameters()
    exempt = {route for route in with_parameters if route.startswith(tuple(NO_TENANT_OBJECT))}
    missing = with_parameters - covered - exempt
    stale = covered - {route.route for route in every_route()}

    figures.record(SUITE, cases=0, failures=len(missing) + len(stale))
    assert missing == set(), f"routes with an id that the isolation matrix does not try: {missing}"
    assert stale == set(), f"matrix rows for routes that no longer exist: {stale}"


def test_the_outsider_gets_the_missing_object_answer_and_changes_nothing(world):
    session, csrf = session_client(world.outsider)
    clients = Clients(
        api=api_client(world.outsider_account, world.outsider),
        session=session,
        anonymous=Client(),
        hook=Client(),
        csrf=csrf,
    )
    cases = all_cases()
    targets = [case.target(world) for case in cases]
    clients.api.get("/api/v1/suppressions")  # the key's first use stamps last_used_at

    failures, tried = [], 0
    # Frozen: last_used_at and the like must not move just because a minute went by.
    with time_machine.travel(timezone.now(), tick=False):
        for case, target in zip(cases, targets, strict=True):
            for method in case.methods:
                problems = attempt(clients, world, case, method, target)
                tried += 1
                if problems:
                    failures.append("\n".join(problems))

    figures.check(SUITE, cases=tried, failures=failures)


def test_the_teammate_gets_through_where_the_owner_does(world):
    owner_session, owner_csrf = session_client(world.owner)
    team_session, team_csrf = session_client(world.teammate)
    as_owner = Clients(
        api=api_client(world.account, world.owner),
        session=owner_session,
        anonymous=Client(),
        hook=Client(),
        csrf=owner_csrf,
    )
    as_teammate = Clients(
        api=api_client(world.account, world.teammate),
        session=team_session,
        anonymous=Client(),
        hook=Client(),
        csrf=team_csrf,
    )

    failures, tried = [], 0
    for case in MATRIX:
        for method, expected in (case.teammate or {}).items():
            case_now = replace(case, follow=False)
            for who, clients in (("owner", as_owner), ("teammate", as_teammate)):
                target = case.target(world)  # a fresh object: the request may change it
                data = case.body(world, target.owner) if case.body else {}
                response = clients.request(case_now, method, case.url(world, target.owner), data)
                tried += who == "teammate"
                if response.status_code != expected:
                    failures.append(
                        f"{who}: {method} {case.label}: {response.status_code}, expected "
                        f"{expected}: {response.content[:200]!r}"
                    )

    figures.check(SUITE, cases=tried, failures=failures)


def test_the_outsider_removing_their_own_entry_for_an_address_leaves_the_owners(
    world, outsider_api
):
    suppression_add(account=world.account, email="shared@example.com", reason="manual")
    suppression_add(account=world.outsider_account, email="shared@example.com", reason="manual")

    response = outsider_api.delete("/api/v1/suppressions/shared@example.com")

    figures.record(SUITE, cases=1, failures=int(response.status_code != 200))
    assert response.status_code == 200
    assert list(Suppression.objects.values_list("account", "email")) == [
        (world.account.pk, "shared@example.com")
    ]
