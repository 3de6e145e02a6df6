"""The Webhooks pages: the list, add (the secret shown once) and edit, enable / disable,
rotate, test event, delete, the delivery log with every attempt, retry; tenant isolation."""

import datetime as dt
import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from api import selectors
from api.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from api.services import webhook_create, webhook_send_test
from providers.crypto import decrypt_json

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hook"  # tests allow private hosts; nothing is sent in these tests


def notes(response) -> list[str]:
    return [str(note) for note in get_messages(response.wsgi_request)]


def make_endpoint(account, **fields) -> WebhookEndpoint:
    endpoint, _secret = webhook_create(account=account, url=URL, **fields)
    return endpoint


def secret_of(endpoint: WebhookEndpoint) -> str:
    endpoint.refresh_from_db()
    return decrypt_json(endpoint.secrets)["current"]


def shown_secret(response) -> str:
    found = re.search(r"whsec_[A-Za-z0-9+/=]+", response.content.decode())
    assert found, "no secret on the page"
    return found.group(0)


def failed_delivery(endpoint: WebhookEndpoint, *, excerpt: str = "") -> WebhookDelivery:
    delivery = webhook_send_test(endpoint=endpoint, test=False)
    start = timezone.now()
    for i, code in enumerate((500, 503)):
        WebhookAttempt.objects.create(
            delivery=delivery,
            attempted_at=start + dt.timedelta(minutes=i),
            response_code=code,
            duration_ms=40 + i,
            error=f"HTTP {code}",
            response_excerpt=excerpt,
        )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.FAILED, attempts=2, response_code=503, error="HTTP 503"
    )
    delivery.refresh_from_db()
    return delivery


# --- pages ------------------------------------------------------------------------------------


def test_the_webhook_pages_send_anonymous_visitors_to_the_login_page(account):
    endpoint = make_endpoint(account)
    for url in (
        "/webhook-endpoints/",
        "/webhook-endpoints/new/",
        f"/webhook-endpoints/{endpoint.pk}/",
    ):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_nav_has_webhooks_and_the_list_shows_the_accounts_endpoints(
    owner_client, account, outsider_account
):
    make_endpoint(account, description="Production app", events=["bounced", "delivered"])
    make_endpoint(outsider_account, description="Their app")

    html = owner_client.get("/webhook-endpoints/").content.decode()

    assert 'href="/webhook-endpoints/"' in html
    assert URL in html and "Production app" in html and "Their app" not in html
    assert ">delivered<" in html and ">bounced<" in html
    assert "enabled" in html


def test_the_list_says_why_an_endpoint_is_disabled_and_since_when_it_fails(owner_client, account):
    make_endpoint(account, description="Mine", enabled=False)
    failing = make_endpoint(account, description="Broken")
    since = timezone.now() - dt.timedelta(days=5)
    WebhookEndpoint.objects.filter(pk=failing.pk).update(
        enabled=False, disabled_reason="failing", failing_since=since
    )

    html = owner_client.get("/webhook-endpoints/").content.decode()

    assert "disabled by you" in html
    assert "disabled after 5 days of failed deliveries" in html
    assert since.strftime("%Y") in html


def test_adding_an_endpoint_shows_its_secret_once(owner_client, account):
    form = owner_client.get("/webhook-endpoints/new/").content.decode()
    assert 'value="clicked"' in form and 'name="enabled"' in form

    response = owner_client.post(
        "/webhook-endpoints/new/",
        {"url": URL, "description": "App", "events": ["delivered", "bounced"], "enabled": "on"},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get(account=account)
    assert endpoint.events == ["delivered", "bounced"] and endpoint.enabled
    secret = shown_secret(response)
    assert secret == secret_of(endpoint)
    assert 'data-copy="#webhook-secret"' in response.content.decode()
    for page in (
        "/webhook-endpoints/",
        f"/webhook-endpoints/{endpoint.pk}/",
        f"/webhook-endpoints/{endpoint.pk}/edit/",
    ):
        assert secret not in owner_client.get(page).content.decode()


def test_a_url_the_service_refuses_is_an_error_on_the_url_field(owner_client, account, settings):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False

    response = owner_client.post(
        "/webhook-endpoints/new/",
        {"url": "http://127.0.0.1/hook", "events": ["sent"], "enabled": "on"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["url"] == ["Use an https:// URL."]
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_needs_at_least_one_event(owner_client, account):
    response = owner_client.post("/webhook-endpoints/new/", {"url": URL, "enabled": "on"})

    assert "Choose at least one event type." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_editing_changes_the_endpoint_and_keeps_its_secret(owner_client, account):
    endpoint = make_endpoint(account)
    secret = secret_of(endpoint)

    response = owner_client.post(
        f"/webhook-endpoints/{endpoint.pk}/edit/",
        {"url": URL + "2", "description": "Renamed", "events": ["opened"], "enabled": "on"},
    )

    assert (
        response.status_code == 302 and response["Location"] == f"/webhook-endpoints/{endpoint.pk}/"
    )
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description, endpoint.events) == (
        URL + "2",
        "Renamed",
        ["opened"],
    )
    assert secret_of(endpoint) == secret


def test_disabling_and_enabling_an_endpoint(owner_client, account):
    endpoint = make_endpoint(account)

    owner_client.post(f"/webhook-endpoints/{endpoint.pk}/disable/")
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "manual"
    assert (
        "disabled by you" in owner_client.get(f"/webhook-endpoints/{endpoint.pk}/").content.decode()
    )

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        disabled_reason="failing", failing_since=timezone.now()
    )
    owner_client.post(f"/webhook-endpoints/{endpoint.pk}/enable/")
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason is None and endpoint.failing_since is None


def test_the_actions_take_posts_only(owner_client, account):
    endpoint = make_endpoint(account)
    for action in ("disable", "enable", "rotate-secret", "test"):
        assert owner_client.get(f"/webhook-endpoints/{endpoint.pk}/{action}/").status_code == 405


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_for_the_overlap(
    owner_client, account
):
    endpoint = make_endpoint(account)
    old = secret_of(endpoint)

    response = owner_client.post(
        f"/webhook-endpoints/{endpoint.pk}/rotate-secret/", {"overlap_hours": 6}
    )

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    new = shown_secret(response)
    assert new != old and new == secret_of(endpoint)
    assert decrypt_json(endpoint.secrets)["previous"] == old
    overlap = endpoint.previous_secret_expires_at - endpoint.secret_rotated_at
    assert overlap == dt.timedelta(hours=6)
    assert new not in owner_client.get(f"/webhook-endpoints/{endpoint.pk}/").content.decode()


def test_the_rotate_form_offers_24_hours_and_refuses_more_than_a_week(owner_client, account):
    endpoint = make_endpoint(account)
    old = secret_of(endpoint)
    assert 'value="24"' in owner_client.get(f"/webhook-endpoints/{endpoint.pk}/").content.decode()

    response = owner_client.post(
        f"/webhook-endpoints/{endpoint.pk}/rotate-secret/", {"overlap_hours": 200}
    )

    assert response.status_code == 302
    assert notes(response)
    assert secret_of(endpoint) == old


def test_a_test_event_is_queued_and_appears_in_the_log(owner_client, account):
    endpoint = make_endpoint(account)

    response = owner_client.post(f"/webhook-endpoints/{endpoint.pk}/test/")

    assert response.status_code == 302
    assert any("within seconds" in note for note in notes(response))
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event.type == "webhook.test" and delivery.status == "pending"
    log = owner_client.get(f"/webhook-endpoints/{endpoint.pk}/").content.decode()
    assert "webhook.test" in log and delivery.event.event_id in log


def test_a_disabled_endpoint_gets_no_test_event(owner_client, account):
    endpoint = make_endpoint(account, enabled=False)

    response = owner_client.post(f"/webhook-endpoints/{endpoint.pk}/test/")

    assert response.status_code == 302
    assert notes(response) == ["This webhook endpoint is disabled; enable it first."]
    assert not WebhookDelivery.objects.exists()


def test_deleting_asks_first_then_deletes_the_endpoint_and_its_deliveries(owner_client, account):
    endpoint = make_endpoint(account)
    webhook_send_test(endpoint=endpoint, test=False)

    confirm = owner_client.get(f"/webhook-endpoints/{endpoint.pk}/delete/")
    assert confirm.status_code == 200 and URL in confirm.content.decode()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()

    response = owner_client.post(f"/webhook-endpoints/{endpoint.pk}/delete/")

    assert response["Location"] == "/webhook-endpoints/"
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.exists()


# --- the delivery log -------------------------------------------------------------------------


def test_the_log_shows_type_event_id_status_attempts_and_last_response(owner_client, account):
    endpoint = make_endpoint(account)
    delivery = failed_delivery(endpoint)

    html = owner_client.get(f"/webhook-endpoints/{endpoint.pk}/").content.decode()

    assert delivery.event.event_id in html
    assert '<span class="badge failed">Failed</span>' in html
    assert ">503<" in html
    assert f"/webhook-endpoints/{endpoint.pk}/deliveries/{delivery.pk}/" in html


def test_the_log_is_newest_first_paged_and_filtered_by_status_and_mode(
    owner_client, account, monkeypatch
):
    monkeypatch.setattr("dashboard.views.webhooks.DELIVERIES_PER_PAGE", 2)
    endpoint = make_endpoint(account)
    live = [webhook_send_test(endpoint=endpoint, test=False) for _ in range(3)]
    test = webhook_send_test(endpoint=endpoint, test=True)
    failed = failed_delivery(endpoint)

    def shown(query: str) -> list[str]:
        html = owner_client.get(f"/webhook-endpoints/{endpoint.pk}/{query}").content.decode()
        return re.findall(r"<code class=\"small\">(msg_[^<]+)</code>", html)

    ids = [d.event.event_id for d in (failed, *reversed(live))]
    assert shown("") == ids[:2]
    assert shown("?page=2") == ids[2:4]
    html = owner_client.get(f"/webhook-endpoints/{endpoint.pk}/?status=pending").content.decode()
    assert "?status=pending&amp;page=2" in html  # the pager keeps the filter
    assert shown("?status=failed") == [failed.event.event_id]
    assert shown("?mode=test") == [test.event.event_id]


def test_a_deliverys_page_lists_every_attempt_with_the_body_excerpt_escaped(owner_client, account):
    endpoint = make_endpoint(account)
    delivery = failed_delivery(endpoint, excerpt='<script>alert("x")</script><b>oops</b>')

    response = owner_client.get(f"/webhook-endpoints/{endpoint.pk}/deliveries/{delivery.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "HTTP 500" in html and "HTTP 503" in html
    assert "40 ms" in html and "41 ms" in html
    assert "<script>alert" not in html and "<b>oops</b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;oops&lt;/b&gt;" in html
    assert html.index("HTTP 500") < html.index("HTTP 503")  # oldest first
    assert "Retry now" in html


def test_retry_now_queues_the_delivery_again(owner_client, account):
    endpoint = make_endpoint(account)
    delivery = failed_delivery(endpoint)

    response = owner_client.post(
        f"/webhook-endpoints/{endpoint.pk}/deliveries/{delivery.pk}/retry/"
    )

    assert response["Location"] == f"/webhook-endpoints/{endpoint.pk}/deliveries/{delivery.pk}/"
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at <= timezone.now()


def test_retrying_for_a_disabled_endpoint_is_a_message_not_an_error(owner_client, account):
    endpoint = make_endpoint(account)
    delivery = failed_delivery(endpoint)
    owner_client.post(f"/webhook-endpoints/{endpoint.pk}/disable/")

    response = owner_client.post(
        f"/webhook-endpoints/{endpoint.pk}/deliveries/{delivery.pk}/retry/", follow=True
    )

    assert response.status_code == 200
    assert "This webhook endpoint is disabled; enable it first." in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "failed"


def test_a_test_delivery_has_its_page_too(owner_client, account):
    endpoint = make_endpoint(account)
    delivery = webhook_send_test(endpoint=endpoint, test=True)

    response = owner_client.get(f"/webhook-endpoints/{endpoint.pk}/deliveries/{delivery.pk}/")

    assert response.status_code == 200 and 'class="badge test"' in response.content.decode()


# --- tenants ----------------------------------------------------------------------------------


def test_another_accounts_endpoint_and_delivery_are_404_on_every_route(
    owner_client, account, outsider_account
):
    theirs = make_endpoint(outsider_account)
    their_delivery = failed_delivery(theirs)
    mine = make_endpoint(account)
    w, d = theirs.pk, their_delivery.pk
    gets = [
        f"/webhook-endpoints/{w}/",
        f"/webhook-endpoints/{w}/edit/",
        f"/webhook-endpoints/{w}/delete/",
    ]
    gets += [
        f"/webhook-endpoints/{w}/deliveries/{d}/",
        f"/webhook-endpoints/{mine.pk}/deliveries/{d}/",
    ]
    posts = [
        f"/webhook-endpoints/{w}/{action}/" for action in ("enable", "disable", "test", "delete")
    ]
    posts += [f"/webhook-endpoints/{w}/rotate-secret/", f"/webhook-endpoints/{w}/edit/"]
    posts += [
        f"/webhook-endpoints/{w}/deliveries/{d}/retry/",
        f"/webhook-endpoints/{mine.pk}/deliveries/{d}/retry/",
    ]
    secret = secret_of(theirs)

    for url in gets:
        assert owner_client.get(url).status_code == 404, url
    for url in posts:
        assert owner_client.post(url, {"url": URL, "events": ["sent"]}).status_code == 404, url

    theirs.refresh_from_db()
    assert theirs.enabled and secret_of(theirs) == secret
    assert WebhookDelivery.objects.filter(endpoint=theirs).count() == 1
    assert selectors.webhook_list(account=account).get() == mine


def test_a_teammate_manages_the_accounts_endpoints(teammate, account):
    endpoint = make_endpoint(account, description="Shared")
    client = Client()
    client.force_login(teammate)

    assert "Shared" in client.get("/webhook-endpoints/").content.decode()
    assert client.post(f"/webhook-endpoints/{endpoint.pk}/disable/").status_code == 302
