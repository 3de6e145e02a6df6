"""Outbound webhooks: endpoints through the API, events fanned out when things happen to
messages, and the sender posting them to a real HTTP endpoint on loopback, signed,
retried and given up on as documented."""

import datetime as dt
import socket

import psycopg
import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from api import outbox, webhook_sender
from api.drain import process_due
from api.models import (
    Message,
    Permission,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from api.retention import purge
from api.services import (
    suppression_add,
    webhook_create,
    webhook_rotate_secret,
    webhook_send_test,
    webhook_update,
)
from tests import factories
from tests.webhook_receiver import Reply, WebhookReceiver, verify

pytestmark = pytest.mark.django_db

SEND = {
    "to": "user@example.com",
    "from_email": "shop@example.com",
    "subject": "Your order",
    "text": "Thanks!",
    "tags": ["order"],
    "metadata": {"order_id": "1234"},
}


def client_with(account, *permissions, test=False):
    _, secret = factories.make_api_key(account, permissions=list(permissions), test=test)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def hooks_api(account, provider):
    return client_with(account, Permission.MAIL, Permission.WEBHOOKS)


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def suppress(account, email):
    suppression_add(account=account, email=email)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deliver_all(**kwargs):
    return webhook_sender.process_due(threads=4, **kwargs)


# --- Endpoints through the API -------------------------------------------------------------


def test_creating_an_endpoint_answers_it_with_its_secret_once(hooks_api, receiver):
    created = hooks_api.post(
        "/api/v1/webhooks",
        {"url": receiver.url, "description": "App", "events": ["bounced", "delivered"]},
        format="json",
    )

    assert created.status_code == 201, created.json()
    data = created.json()["data"]
    assert data["secret"].startswith("whsec_") and len(data["secret"]) > 40
    webhook = data["webhook"]
    # Kept in the documented order, whatever order they came in.
    assert webhook["events"] == ["delivered", "bounced"]
    assert webhook["enabled"] is True and webhook["disabled_reason"] is None
    fetched = hooks_api.get(f"/api/v1/webhooks/{webhook['id']}").json()["data"]
    assert "secret" not in fetched and data["secret"] not in str(fetched)
    listed = hooks_api.get("/api/v1/webhooks").json()["data"]
    assert listed["total"] == 1 and listed["webhooks"][0]["id"] == webhook["id"]
    # The secret is stored encrypted, never as is.
    assert data["secret"] not in WebhookEndpoint.objects.get().secrets


def test_events_default_to_all_of_them(hooks_api, receiver):
    created = hooks_api.post("/api/v1/webhooks", {"url": receiver.url}, format="json")

    assert created.json()["data"]["webhook"]["events"] == list(outbox.EVENT_NAMES)


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"url": "https://example.com/h", "events": []}, "events", "at least one"),
        ({"url": "https://example.com/h", "events": ["bounce"]}, "events", "Unknown"),
        ({"url": "ftp://example.com/h"}, "url", "https://"),
        ({"url": "https://user:pw@example.com/h"}, "url", "password"),
        ({"url": "https:///nohost"}, "url", "host"),
        ({"url": "https://example.com/h", "colour": "red"}, "colour", ""),
    ],
)
def test_an_unusable_endpoint_is_a_400_naming_the_field(hooks_api, body, field, text):
    response = hooks_api.post("/api/v1/webhooks", body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert text in str(error["details"][field])


def test_plain_http_and_private_hosts_are_refused_in_production(hooks_api, settings):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    for url in ("http://example.com/h", "https://127.0.0.1/h", "https://[::1]:8443/h"):
        response = hooks_api.post("/api/v1/webhooks", {"url": url}, format="json")
        assert response.status_code == 400, url
        assert "url" in response.json()["error"]["details"]


def test_patch_changes_the_endpoint_and_disabling_fails_what_waits_for_it(
    hooks_api, account, receiver
):
    endpoint, _ = webhook_create(account=account, url=receiver.url)
    hooks_api.post("/api/v1/mail/send", SEND, format="json")
    assert WebhookDelivery.objects.filter(status="pending").count() == 1

    changed = hooks_api.patch(
        f"/api/v1/webhooks/{endpoint.pk}",
        {"description": "Billing", "enabled": False, "events": ["sent"]},
        format="json",
    )

    webhook = changed.json()["data"]["webhook"]
    assert webhook["description"] == "Billing" and webhook["events"] == ["sent"]
    assert webhook["enabled"] is False and webhook["disabled_reason"] == "manual"
    assert WebhookDelivery.objects.get().status == "failed"
    enabled = hooks_api.patch(f"/api/v1/webhooks/{endpoint.pk}", {"enabled": True}, format="json")
    assert enabled.json()["data"]["webhook"]["disabled_reason"] is None


def test_delete_takes_the_endpoint_and_its_deliveries(hooks_api, account, receiver):
    endpoint, _ = webhook_create(account=account, url=receiver.url)
    hooks_api.post("/api/v1/mail/send", SEND, format="json")

    deleted = hooks_api.delete(f"/api/v1/webhooks/{endpoint.pk}")

    assert deleted.status_code == 200 and deleted.json()["data"] == {"id": endpoint.pk}
    assert not WebhookDelivery.objects.exists()
    assert hooks_api.get(f"/api/v1/webhooks/{endpoint.pk}").status_code == 404


def test_the_webhooks_permission_is_needed(account, receiver):
    mail_only = client_with(account, Permission.MAIL)

    response = mail_only.get("/api/v1/webhooks")

    assert response.status_code == 403
    assert "'webhooks'" in response.json()["error"]["message"]


def test_unknown_ids_are_json_404s(hooks_api):
    for path in ("/api/v1/webhooks/999", "/api/v1/webhooks/abc", "/api/v1/webhooks/1/deliveries"):
        response = hooks_api.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NOT_FOUND"


# --- Events, signed and delivered -------------------------------------------------------------


def test_a_sent_message_reaches_the_endpoint_signed_per_standard_webhooks(
    hooks_api, account, sink, receiver
):
    endpoint, secret = webhook_create(account=account, url=receiver.url)

    sent = hooks_api.post("/api/v1/mail/send", SEND, format="json").json()["data"]
    stats = deliver_all()

    assert stats.succeeded == 1
    [request] = receiver.requests
    assert verify(request.body, request.headers, secret)
    assert not verify(request.body + b" ", request.headers, secret)
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["content-type"] == "application/json"
    event = request.event
    assert event["type"] == "email.sent" and event["test"] is False
    assert event["created_at"].endswith("Z")
    assert event["data"] == {
        "message_id": sent["message_id"],
        "to": "user@example.com",
        "from": "shop@example.com",
        "subject": "Your order",
        "tags": ["order"],
        "metadata": {"order_id": "1234"},
        "status": "sent",
        "details": {"provider": "Test sink"},
    }
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded" and delivery.attempts == 1
    assert delivery.response_code == 200 and delivery.endpoint == endpoint


def test_an_endpoint_gets_only_the_events_it_asked_for(hooks_api, account, receiver):
    webhook_create(account=account, url=receiver.url, events=["delivered"])

    hooks_api.post("/api/v1/mail/send", SEND, format="json")

    assert not WebhookEvent.objects.exists()


def test_an_account_without_endpoints_makes_no_events(hooks_api, outsider_account, receiver):
    webhook_create(account=outsider_account, url=receiver.url)

    hooks_api.post("/api/v1/mail/send", SEND, format="json")

    assert not WebhookEvent.objects.exists()


def test_queued_mail_fans_out_sent_events_from_the_drain(hooks_api, account, sink, receiver):
    webhook_create(account=account, url=receiver.url, events=["sent"])
    batch = {"messages": [{**SEND, "to": f"user{i}@example.com"} for i in range(5)]}
    hooks_api.post("/api/v1/mail/send-batch", batch, format="json")

    process_due()
    deliver_all()

    assert sorted(r.event["data"]["to"] for r in receiver.requests) == [
        f"user{i}@example.com" for i in range(5)
    ]
    assert {r.event["type"] for r in receiver.requests} == {"email.sent"}


def test_failure_and_suppression_and_scheduling_events_reach_the_endpoint(
    hooks_api, account, receiver
):
    webhook_create(account=account, url=receiver.url)
    suppress(account, "gone@example.com")
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat()

    hooks_api.post("/api/v1/mail/send", {**SEND, "to": "gone@example.com"}, format="json")
    scheduled = hooks_api.post(
        "/api/v1/mail/send", {**SEND, "scheduled_at": later}, format="json"
    ).json()["data"]
    hooks_api.post(f"/api/v1/mail/{scheduled['message_id']}/cancel")
    deliver_all()

    events = {r.event["type"]: r.event["data"] for r in receiver.requests}
    assert events["email.suppressed"]["details"] == {"addresses": ["gone@example.com"]}
    assert events["email.scheduled"]["details"]["scheduled_at"].endswith("Z")
    assert events["email.cancelled"]["status"] == "cancelled"


def test_a_provider_failure_is_a_failed_event_with_its_reason(account, receiver):
    factories.make_provider(account, port=closed_port(), name="Down")
    client = client_with(account, Permission.MAIL)
    webhook_create(account=account, url=receiver.url, events=["failed"])

    client.post("/api/v1/mail/send", SEND, format="json")
    deliver_all()

    [request] = receiver.requests
    assert request.event["type"] == "email.failed"
    assert request.event["data"]["details"]["reason"] == "temporary"


# --- Retries, backoff, disabling ------------------------------------------------------------


def test_a_failing_receiver_is_retried_with_backoff_and_gets_the_event_once(
    hooks_api, account, sink
):
    with WebhookReceiver(script=[500, Reply(status=503, body=b"down")]) as receiver:
        webhook_create(account=account, url=receiver.url, events=["sent"])
        with time_machine.travel(timezone.now(), tick=False) as clock:
            hooks_api.post("/api/v1/mail/send", SEND, format="json")
            deliver_all()
            delivery = WebhookDelivery.objects.get()
            assert delivery.status == "pending" and delivery.response_code == 500
            assert delivery.next_attempt_at - timezone.now() == dt.timedelta(seconds=5)
            assert deliver_all().attempted == 0  # not due yet

            clock.shift(dt.timedelta(seconds=5))
            deliver_all()
            delivery.refresh_from_db()
            assert delivery.next_attempt_at - timezone.now() == dt.timedelta(minutes=5)

            clock.shift(dt.timedelta(minutes=5))
            deliver_all()

    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 3
    assert [r.headers["webhook-id"] for r in receiver.requests] == [
        receiver.requests[0].headers["webhook-id"]
    ] * 3
    attempts = list(WebhookAttempt.objects.order_by("id"))
    assert [a.response_code for a in attempts] == [500, 503, 200]
    assert attempts[1].response_excerpt == "down" and attempts[1].error == "HTTP 503"
    assert WebhookEndpoint.objects.get().failing_since is None


def test_retries_stop_after_about_three_days(hooks_api, account):
    with WebhookReceiver(script=[500] * 50) as receiver:
        webhook_create(account=account, url=receiver.url, events=["suppressed"])
        suppress(account, "user@example.com")
        with time_machine.travel(timezone.now(), tick=False) as clock:
            hooks_api.post("/api/v1/mail/send", SEND, format="json")
            delays = []
            while (delivery := WebhookDelivery.objects.get()).status == "pending":
                deliver_all()
                delivery.refresh_from_db()
                if delivery.next_attempt_at:
                    delays.append(delivery.next_attempt_at - timezone.now())
                    clock.move_to(delivery.next_attempt_at)

    hours = [round(d.total_seconds() / 3600, 3) for d in delays]
    assert hours[:6] == [0.001, 0.083, 0.5, 2.0, 5.0, 10.0]
    assert set(hours[6:]) == {10.0}
    assert delivery.status == "failed" and delivery.attempts == len(receiver.requests)
    assert 66 <= sum(d.total_seconds() for d in delays) / 3600 <= 72


def test_an_endpoint_failing_for_five_days_is_disabled(hooks_api, account):
    with WebhookReceiver(script=[500] * 100) as receiver:
        endpoint, _ = webhook_create(account=account, url=receiver.url, events=["suppressed"])
        suppress(account, "user@example.com")
        with time_machine.travel(timezone.now(), tick=False) as clock:
            for _day in range(6):
                hooks_api.post("/api/v1/mail/send", SEND, format="json")
                deliver_all()
                endpoint.refresh_from_db()
                if not endpoint.enabled:
                    break
                clock.shift(dt.timedelta(days=1))
            assert timezone.now() - endpoint.failing_since >= dt.timedelta(days=5)

    assert endpoint.enabled is False and endpoint.disabled_reason == "failing"
    assert not WebhookDelivery.objects.filter(status="pending").exists()
    # Nothing is posted to it any more, and a test event is refused.
    refused = hooks_api.post(f"/api/v1/webhooks/{endpoint.pk}/test")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "WEBHOOK_DISABLED"


def test_a_success_ends_the_run_of_failures(hooks_api, account):
    with WebhookReceiver(script=[500]) as receiver:
        endpoint, _ = webhook_create(account=account, url=receiver.url, events=["suppressed"])
        suppress(account, "user@example.com")
        hooks_api.post("/api/v1/mail/send", SEND, format="json")
        deliver_all()
        endpoint.refresh_from_db()
        assert endpoint.failing_since is not None
        hooks_api.post("/api/v1/mail/send", SEND, format="json")
        deliver_all()

    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


# --- What counts as a failure ---------------------------------------------------------------


def request_to(url):
    return webhook_sender.Request(1, url, {"webhook-id": "msg_x"}, b"{}")


def test_a_redirect_is_a_failure_and_is_not_followed():
    with WebhookReceiver(
        script=[Reply(status=302, headers={"Location": "http://127.0.0.1:9/elsewhere"})]
    ) as receiver:
        answer = webhook_sender.post(request_to(receiver.url))

    assert not answer.ok and answer.status == 302
    assert "not followed" in answer.error
    assert len(receiver.requests) == 1


def test_a_slow_receiver_times_out():
    with WebhookReceiver(script=[Reply(delay=2.0)]) as receiver:
        answer = webhook_sender.post(request_to(receiver.url), timeout=0.5)

    assert not answer.ok and answer.status is None
    assert "Timed out" in answer.error and answer.duration_ms < 1500


def test_a_tls_error_is_a_failure():
    with WebhookReceiver() as receiver:  # plain HTTP where TLS is expected
        answer = webhook_sender.post(request_to(f"https://127.0.0.1:{receiver.port}/h"))

    assert not answer.ok and answer.error.startswith("TLS")


def test_a_huge_answer_is_read_only_up_to_the_cap():
    with WebhookReceiver(script=[Reply(status=500, body=b"x" * 5_000_000)]) as receiver:
        answer = webhook_sender.post(request_to(receiver.url))

    assert answer.status == 500 and len(answer.excerpt) == webhook_sender.EXCERPT_CHARS


def test_nothing_listening_is_a_connection_failure():
    answer = webhook_sender.post(request_to(f"http://127.0.0.1:{closed_port()}/h"))

    assert not answer.ok and answer.error.startswith("Connection")


# --- Secret rotation ------------------------------------------------------------------------


def test_during_the_overlap_both_secrets_sign_and_afterwards_only_the_new_one(
    hooks_api, account, receiver
):
    endpoint, old = webhook_create(account=account, url=receiver.url, events=["sent"])
    rotated = hooks_api.post(
        f"/api/v1/webhooks/{endpoint.pk}/rotate-secret", {"overlap_hours": 2}, format="json"
    )
    new = rotated.json()["data"]["secret"]
    assert new != old and new.startswith("whsec_")
    assert rotated.json()["data"]["webhook"]["previous_secret_expires_at"] is not None

    hooks_api.post(f"/api/v1/webhooks/{endpoint.pk}/test")
    deliver_all()
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2, seconds=1), tick=False):
        hooks_api.post(f"/api/v1/webhooks/{endpoint.pk}/test")
        deliver_all()
        later = receiver.requests[1]
        assert verify(later.body, later.headers, new)
        assert not verify(later.body, later.headers, old)

    during = receiver.requests[0]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verify(during.body, during.headers, old) and verify(during.body, during.headers, new)
    assert len(later.headers["webhook-signature"].split(" ")) == 1


def test_rotating_without_overlap_stops_the_old_secret_at_once(account, receiver):
    endpoint, old = webhook_create(account=account, url=receiver.url)

    new = webhook_rotate_secret(endpoint=endpoint, overlap=dt.timedelta(0))

    header = webhook_sender.signature_header(endpoint, "msg_1", timezone.now(), "{}")
    assert len(header.split(" ")) == 1 and new != old


def test_overlap_is_bounded(hooks_api, account, receiver):
    endpoint, _ = webhook_create(account=account, url=receiver.url)

    response = hooks_api.post(
        f"/api/v1/webhooks/{endpoint.pk}/rotate-secret", {"overlap_hours": 169}, format="json"
    )

    assert response.status_code == 400
    assert "overlap_hours" in response.json()["error"]["details"]


# --- Test events, the delivery log, manual retry ---------------------------------------------


def test_a_test_event_is_queued_signed_and_logged(hooks_api, account, receiver):
    endpoint, secret = webhook_create(account=account, url=receiver.url, events=["sent"])

    queued = hooks_api.post(f"/api/v1/webhooks/{endpoint.pk}/test")

    assert queued.status_code == 202
    delivery = queued.json()["data"]["delivery"]
    assert delivery["type"] == "webhook.test" and delivery["status"] == "pending"
    deliver_all()
    [request] = receiver.requests
    assert verify(request.body, request.headers, secret)
    assert request.event["data"]["webhook_id"] == endpoint.pk
    log = hooks_api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()["data"]
    assert log["total"] == 1
    logged = log["deliveries"][0]
    assert logged["status"] == "succeeded" and logged["response_code"] == 200
    assert logged["event_id"] == request.headers["webhook-id"]
    assert logged["duration_ms"] is not None and logged["attempts"] == 1


def test_a_manual_retry_sends_the_same_event_again(hooks_api, account):
    with WebhookReceiver(script=[500]) as receiver:
        endpoint, _ = webhook_create(account=account, url=receiver.url)
        hooks_api.post(f"/api/v1/webhooks/{endpoint.pk}/test")
        deliver_all()
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "pending" and delivery.next_attempt_at > timezone.now()

        retried = hooks_api.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/retry")
        assert retried.status_code == 202
        assert retried.json()["data"]["delivery"]["status"] == "pending"
        deliver_all()

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    failed_only = hooks_api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries?status=failed")
    assert failed_only.json()["data"]["total"] == 0
    bad = hooks_api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries?status=nope")
    assert bad.status_code == 400


def test_a_delivery_is_claimed_by_one_sender_only(hooks_api, account, receiver):
    endpoint, _ = webhook_create(account=account, url=receiver.url)
    hooks_api.post(f"/api/v1/webhooks/{endpoint.pk}/test")

    first = webhook_sender.claim_due(batch_size=10)
    second = webhook_sender.claim_due(batch_size=10)

    assert len(first) == 1 and second == []
    # A sender that died: the lease runs out and the delivery is due again.
    with time_machine.travel(timezone.now() + webhook_sender.LEASE + dt.timedelta(seconds=1)):
        assert len(webhook_sender.claim_due(batch_size=10)) == 1


def test_an_event_recorded_with_a_message_is_rolled_back_with_it(account, receiver):
    webhook_create(account=account, url=receiver.url)
    message = factories.make_message(account)

    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.emit([outbox.Happening(message, "delivered", {"description": ""})])
        raise RuntimeError("the write it belongs to failed")

    assert not WebhookEvent.objects.exists()
    assert Message.objects.filter(pk=message.pk).exists()


def test_the_daily_purge_deletes_old_events_unless_a_delivery_still_waits(hooks_api, account):
    endpoint, _ = webhook_create(account=account, url="https://hooks.example.com/in")
    old, retried = (webhook_send_test(endpoint=endpoint, test=False) for _ in range(2))
    WebhookDelivery.objects.filter(pk=old.pk).update(status="succeeded")
    WebhookEvent.objects.update(created_at=timezone.now() - dt.timedelta(days=31))
    fresh = webhook_send_test(endpoint=endpoint, test=False)

    purged = purge(retention_days=30)

    assert purged.webhook_events == 1
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {retried.pk, fresh.pk}


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_claim_does_not_skip_deliveries_whose_endpoint_row_is_locked(account, test_database_url):
    endpoint, _ = webhook_create(account=account, url="https://hooks.example.com/in")
    deliveries = [webhook_send_test(endpoint=endpoint, test=False) for _ in range(5)]
    libpq = test_database_url.replace("postgres://", "postgresql://", 1)
    # Another transaction holds the endpoint's row (a sender recording a failure, a PATCH,
    # or a claim that locked the joined row too): its deliveries must stay claimable.
    with psycopg.connect(libpq) as other:
        other.execute("SELECT id FROM api_webhookendpoint WHERE id = %s FOR UPDATE", [endpoint.pk])
        claimed = webhook_sender.claim_due(batch_size=10)

    assert sorted(d.pk for d in claimed) == sorted(d.pk for d in deliveries)


def test_a_retry_leaves_a_delivery_being_attempted_to_its_sender(hooks_api, account, receiver):
    endpoint, _ = webhook_create(account=account, url=receiver.url)
    hooks_api.post(f"/api/v1/webhooks/{endpoint.pk}/test")
    [claimed] = webhook_sender.claim_due(batch_size=1)

    retried = hooks_api.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{claimed.pk}/retry")
    webhook_sender.record(claimed, webhook_sender.post(webhook_sender.prepare(claimed)))

    assert retried.status_code == 202
    claimed.refresh_from_db()
    assert claimed.status == "succeeded" and claimed.attempts == 1  # its attempt was kept
    assert len(receiver.requests) == 1


def test_an_edit_does_not_undo_a_disable_made_meanwhile(account, receiver):
    endpoint, _ = webhook_create(account=account, url=receiver.url)
    stale = WebhookEndpoint.objects.get(pk=endpoint.pk)
    webhook_sender.disable(endpoint, reason=WebhookEndpoint.DisabledReason.FAILING)

    webhook_update(endpoint=stale, description="Billing")

    endpoint.refresh_from_db()
    assert endpoint.description == "Billing"
    assert endpoint.enabled is False and endpoint.disabled_reason == "failing"
