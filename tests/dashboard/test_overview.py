import datetime as dt
import re

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from api.models import Message, WebhookEndpoint
from api.services import webhook_create
from dashboard import charts
from providers import domains, limits
from providers.models import SenderDomain
from tests.factories import make_api_key, make_message, make_provider

pytestmark = pytest.mark.django_db


def stat(html: str, label: str) -> str:
    """The figure of the overview tile whose label starts with `label`."""
    found = re.search(rf'<div class="value">([^<]*)</div><div class="label">{label}', html)
    assert found, label
    return found.group(1)


def bars(html: str, series: str) -> int:
    return len(re.findall(rf'<rect class="{series}" ', html))


def test_the_overview_requires_a_login(db):
    response = Client().get("/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_overview_counts_the_last_14_days_of_the_users_account_only(
    owner_client, account, outsider_account
):
    now = timezone.now()
    for status in ("sent", "delivered", "delivered", "failed", "bounced", "suppressed"):
        make_message(account, status=status, created_at=now - dt.timedelta(days=2))
    make_message(account, status="sent", created_at=now - dt.timedelta(days=20))  # too old
    make_message(account, status="queued")
    make_message(account, status="sending")
    for _ in range(5):
        make_message(outsider_account, status="failed")

    html = owner_client.get("/").content.decode()

    assert stat(html, "sent in the last 14 days") == "3"
    assert stat(html, "failed or bounced in the last 14 days") == "2"
    assert stat(html, "not sent: suppressed") == "1"
    assert stat(html, "in the queue now") == "2"
    assert "in the queue now (1 sending)" in html


def test_the_overview_counts_the_scheduled_messages_whenever_they_were_accepted(
    owner_client, account, outsider_account
):
    later = timezone.now() + dt.timedelta(days=3)
    make_message(account, status="scheduled", scheduled_at=later)
    make_message(
        account,
        status="scheduled",
        scheduled_at=later,
        created_at=timezone.now() - dt.timedelta(days=20),
    )
    make_message(account, status="cancelled", scheduled_at=later)
    make_message(account, status="sent", scheduled_at=timezone.now())  # its time came
    make_message(outsider_account, status="scheduled", scheduled_at=later)

    html = owner_client.get("/").content.decode()

    assert stat(html, '<a href="/messages/\\?status=scheduled">scheduled for later') == "2"
    # In the chart, waiting and cancelled messages are among the others.
    assert "Queued, scheduled, sending, suppressed or cancelled" in html


def test_the_overview_shows_only_the_accounts_own_providers_with_their_usage(
    owner_client, account, outsider_account, sink
):
    mine = make_provider(account, port=sink.port, name="Our relay", hourly_limit=10)
    make_provider(account, port=sink.port, name="Spare", is_default=False)
    make_provider(outsider_account, port=sink.port, name="Their secret relay")
    limits.record_usage(provider=mine, count=3)

    html = owner_client.get("/").content.decode()

    assert "Our relay" in html and "Spare" in html
    assert "Their secret relay" not in html
    assert '<span class="badge default">default</span>' in html
    assert '<span style="width:30%"></span>' in html and "3 of 10 this hour" in html
    assert "3 today, no limit" in html


def test_a_provider_at_its_limit_shows_a_full_meter(owner_client, account, sink):
    provider = make_provider(account, port=sink.port, daily_limit=2)
    limits.record_usage(provider=provider, count=5)

    html = owner_client.get("/").content.decode()

    assert (
        '<div class="meter full" aria-hidden="true"><span style="width:100%"></span></div>' in html
    )


def test_the_chart_draws_one_column_per_day_with_the_figures_in_a_table(owner_client, account):
    now = timezone.now()
    make_message(account, status="sent", created_at=now - dt.timedelta(days=1))
    make_message(account, status="failed", created_at=now - dt.timedelta(days=1))
    make_message(account, status="delivered", created_at=now)

    html = owner_client.get("/").content.decode()

    assert '<svg viewBox="0 0 720 240" role="img"' in html
    assert html.count("<g><title>") == 14
    assert bars(html, "sent") == 2 and bars(html, "failed") == 1
    table = html.split('<div class="visually-hidden"><table>')[1].split("</table>")[0]
    assert table.count('<th scope="row">') == 14
    assert "<td>1</td><td>1</td><td>0</td>" in table
    assert "No messages in this period yet." not in html


def test_the_chart_of_an_empty_account_says_so(owner_client):
    html = owner_client.get("/").content.decode()

    assert html.count("<g><title>") == 14
    assert bars(html, "sent") == 0
    assert "No messages in this period yet." in html


def test_the_hour_view_draws_the_last_48_hours(owner_client, account):
    now = timezone.now()
    make_message(account, status="sent", created_at=now - dt.timedelta(hours=3))
    make_message(account, status="sent", created_at=now - dt.timedelta(hours=50))  # too old

    html = owner_client.get("/", {"by": "hour"}).content.decode()

    assert "Messages per hour, last 48 hours" in html
    assert html.count("<g><title>") == 48
    assert bars(html, "sent") == 1
    assert 'href="?"' in html  # back to days


def test_the_chart_numbers_and_dates_follow_the_language(owner_client, account):
    with time_machine.travel(dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)):
        Message.objects.bulk_create(
            Message(
                account=account,
                message_id=f"<{i}@mailpass.test>",
                from_email="a@example.com",
                to_email="b@example.com",
                subject="Hi",
                status="sent",
            )
            for i in range(1234)
        )
        owner_client.cookies["django_language"] = "de"
        html = owner_client.get("/").content.decode()

    assert '<html lang="de">' in html
    assert "1.234" in html  # the sent figure, grouped the German way
    assert "21. November" in html  # the chart's last day


def test_a_new_account_gets_a_getting_started_checklist(owner_client):
    html = owner_client.get("/").content.decode()

    assert "Getting started" in html
    assert 'href="/providers/new/"' in html
    assert 'href="/keys/"' in html
    assert 'href="/docs/"' in html


def test_the_checklist_goes_away_once_everything_is_done(owner_client, account, provider):
    make_api_key(account)
    make_message(account, status="sent")

    assert "Getting started" not in owner_client.get("/").content.decode()


def test_the_checklist_ticks_off_what_is_done(owner_client, provider):
    html = owner_client.get("/").content.decode()

    assert '<li class="done">A provider is set up.</li>' in html
    assert 'href="/keys/"' in html


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0, 1), (1, 1), (2, 2), (3, 3), (7, 8), (9, 10), (10, 10), (11, 20), (240, 300), (999, 1000)],
)
def test_the_chart_axis_ends_on_a_round_number(value, ceiling):
    assert charts.nice_ceiling(value) == ceiling


def test_stacked_bars_stack_the_series_from_the_baseline_up():
    chart = charts.stacked_bars(
        [charts.Bucket({"sent": 6, "failed": 2}, "a"), charts.Bucket({}, "b")],
        series=["sent", "failed"],
    )

    first, second = chart.columns
    sent, failed = first.segments
    assert sent.y + sent.height == pytest.approx(chart.baseline)
    assert failed.y + failed.height == pytest.approx(sent.y)
    assert sent.height == pytest.approx(3 * failed.height)
    assert second.segments == []
    assert [line.label for line in chart.gridlines] == ["4", "8"]


def test_past_days_are_counted_once_for_a_few_minutes_and_today_on_every_view(
    owner_client, account
):
    yesterday = timezone.now() - dt.timedelta(days=1)
    make_message(account, status="sent", created_at=yesterday)
    assert stat(owner_client.get("/").content.decode(), "sent in the last 14 days") == "1"

    make_message(account, status="sent", created_at=yesterday)
    make_message(account, status="sent")
    assert stat(owner_client.get("/").content.decode(), "sent in the last 14 days") == "2"

    with time_machine.travel(timezone.now() + dt.timedelta(minutes=6)):
        assert stat(owner_client.get("/").content.decode(), "sent in the last 14 days") == "3"


def test_the_overview_counts_live_messages_only(owner_client, account):
    now = timezone.now()
    make_message(account, status="delivered", created_at=now - dt.timedelta(days=1))
    for status in ("delivered", "failed", "suppressed", "queued", "sending"):
        make_message(account, status=status, test=True, created_at=now - dt.timedelta(days=1))
    make_message(account, status="scheduled", test=True, scheduled_at=now + dt.timedelta(days=1))

    for by in ("", "?by=hour"):
        html = owner_client.get("/" + by).content.decode()

        assert stat(html, "sent in the last 14 days") == "1"
        assert stat(html, "failed or bounced in the last 14 days") == "0"
        assert stat(html, "not sent: suppressed") == "0"
        assert stat(html, "in the queue now") == "0"
        assert bars(html, "failed") == 0


def test_the_overview_warns_of_endpoints_disabled_for_failing_only(
    owner_client, account, outsider_account
):
    def endpoint(owner_account, description, **fields):
        created, _secret = webhook_create(
            account=owner_account, url="http://127.0.0.1:9/hook", description=description
        )
        WebhookEndpoint.objects.filter(pk=created.pk).update(**fields)
        return created

    assert "webhook endpoint" not in owner_client.get("/").content.decode()
    failing = endpoint(
        account,
        "Broken app",
        enabled=False,
        disabled_reason="failing",
        failing_since=timezone.now(),
    )
    endpoint(account, "Paused app", enabled=False, disabled_reason="manual")
    endpoint(account, "Healthy app")
    endpoint(outsider_account, "Their app", enabled=False, disabled_reason="failing")

    html = owner_client.get("/").content.decode()

    assert "A webhook endpoint is disabled: its deliveries failed for 5 days." in html
    assert f'href="/webhook-endpoints/{failing.pk}/"' in html and "Broken app" in html
    assert "Paused app" not in html and "Healthy app" not in html and "Their app" not in html


def test_the_overview_warns_of_failed_domains_only_and_links_to_each(
    owner_client, account, outsider_account
):
    def domain(owner_account, name, status):
        created = domains.domain_create(account=owner_account, name=name)
        SenderDomain.objects.filter(pk=created.pk).update(status=status, verified_at=timezone.now())
        return created

    assert "sender domain" not in owner_client.get("/").content.decode()
    failed = domain(account, "broken.example", "failed")
    domain(account, "fine.example", "verified")
    domain(account, "new.example", "pending")
    domain(outsider_account, "theirs.example", "failed")

    html = owner_client.get("/").content.decode()

    assert "A sender domain failed its last DNS check." in html
    assert f'<a href="/domains/{failed.pk}/">broken.example</a>' in html
    assert "fine.example" not in html and "new.example" not in html
    assert "theirs.example" not in html


def test_the_checklist_asks_for_a_verified_domain_until_there_is_one(owner_client, account):
    html = owner_client.get("/").content.decode()
    assert '<a href="/domains/">Add and verify a sending domain</a>' in html

    added = domains.domain_create(account=account, name="shop.example")
    assert 'href="/domains/">Add and verify' in owner_client.get("/").content.decode()

    SenderDomain.objects.filter(pk=added.pk).update(status="verified")
    html = owner_client.get("/").content.decode()
    assert '<li class="done">A sending domain is verified.</li>' in html
    assert "Add and verify a sending domain" not in html
