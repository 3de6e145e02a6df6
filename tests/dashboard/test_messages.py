import datetime as dt
import re
from html import unescape

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone
from django.utils.formats import date_format

from api import selectors
from api.models import Message, MessageEvent
from api.services import template_create
from dashboard.views import messages as message_views
from tests.factories import make_message

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def at(days_ago: float, **fields):
    return {"created_at": NOW - dt.timedelta(days=days_ago), **fields}


def listed(response) -> list[str]:
    """The subjects in the log's table, top to bottom."""
    return [
        unescape(subject)
        for subject in re.findall(
            r'<a href="/messages/\d+/">([^<]*)</a>', response.content.decode()
        )
    ]


def link(response, rel: str) -> str:
    found = re.search(rf'<a href="([^"]*)" rel="{rel}">', response.content.decode())
    assert found, f"no {rel} link"
    return unescape(found.group(1))


# --- the log ---------------------------------------------------------------------------------


def test_the_message_pages_require_a_login(account):
    message = make_message(account)
    for url in ("/messages/", f"/messages/{message.pk}/", f"/messages/{message.pk}/html/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_log_lists_the_accounts_messages_newest_first_and_no_one_elses(
    owner_client, account, outsider_account
):
    make_message(account, subject="Older", **at(2))
    make_message(account, subject="Newer", **at(1))
    make_message(outsider_account, subject="Theirs", **at(1))

    response = owner_client.get("/messages/")

    assert response.status_code == 200
    assert listed(response) == ["Newer", "Older"]


def test_the_log_shows_recipient_status_and_tags(owner_client, account):
    make_message(account, to_email="ada@example.com", status="bounced", tags=["receipt"])

    html = owner_client.get("/messages/").content.decode()

    assert "ada@example.com" in html
    assert '<span class="badge bounced">Bounced</span>' in html
    assert 'href="?tag=receipt"' in html


def test_the_status_filter_shows_only_that_status(owner_client, account):
    make_message(account, subject="Went out", status="sent")
    make_message(account, subject="Refused", status="failed")
    make_message(account, subject="Waiting", status="queued")

    assert listed(owner_client.get("/messages/", {"status": "failed"})) == ["Refused"]
    assert listed(owner_client.get("/messages/", {"status": "queued"})) == ["Waiting"]


def test_the_recipient_filter_matches_the_to_address_whatever_its_case(owner_client, account):
    make_message(account, subject="For Ada", to_email="Ada@Example.com")
    make_message(account, subject="For Bob", to_email="bob@example.com", cc=["ada@example.com"])

    response = owner_client.get("/messages/", {"recipient": " ada@EXAMPLE.com "})

    assert listed(response) == ["For Ada"]


def test_the_tag_filter_matches_whole_tags_only(owner_client, account):
    make_message(account, subject="Receipt", tags=["receipt", "shop"])
    make_message(account, subject="Receipts digest", tags=["receipts"])
    make_message(account, subject="Untagged")

    assert listed(owner_client.get("/messages/", {"tag": "receipt"})) == ["Receipt"]


def test_the_date_filter_includes_both_days(owner_client, account):
    today = timezone.localdate()
    make_message(account, subject="Three days ago", **at(3))
    make_message(account, subject="Yesterday", **at(1))
    make_message(account, subject="Today", **at(0))

    response = owner_client.get(
        "/messages/",
        {"date_from": today - dt.timedelta(days=1), "date_to": today - dt.timedelta(days=1)},
    )
    assert listed(response) == ["Yesterday"]
    assert listed(owner_client.get("/messages/", {"date_from": today - dt.timedelta(days=1)})) == [
        "Today",
        "Yesterday",
    ]


def test_a_date_range_that_ends_before_it_starts_is_an_error_not_a_list(owner_client, account):
    make_message(account, subject="Anything")

    response = owner_client.get("/messages/", {"date_from": "2026-05-02", "date_to": "2026-05-01"})

    assert "The end date is before the start date." in response.content.decode()
    assert listed(response) == []


def test_the_subject_search_is_case_insensitive_and_finds_parts_of_words(owner_client, account):
    make_message(account, subject="Your Receipt for order #1")
    make_message(account, subject="Reset your password")

    assert listed(owner_client.get("/messages/", {"q": "RECEIPT"})) == ["Your Receipt for order #1"]
    assert listed(owner_client.get("/messages/", {"q": "pass"})) == ["Reset your password"]


def test_filters_combine(owner_client, account):
    make_message(account, subject="Receipt A", status="sent", tags=["receipt"])
    make_message(account, subject="Receipt B", status="failed", tags=["receipt"])
    make_message(account, subject="Other B", status="failed", tags=["other"])

    response = owner_client.get(
        "/messages/", {"status": "failed", "tag": "receipt", "q": "receipt"}
    )

    assert listed(response) == ["Receipt B"]


def test_pages_go_back_with_a_cursor_and_forward_again(owner_client, account, monkeypatch):
    monkeypatch.setattr(message_views, "MESSAGES_PER_PAGE", 2)
    for i in range(5):
        make_message(account, subject=f"M{i}", **at(10 - i))  # M4 is the newest

    first = owner_client.get("/messages/")
    assert listed(first) == ["M4", "M3"]
    assert 'rel="prev"' not in first.content.decode()
    second = owner_client.get("/messages/" + link(first, "next"))
    assert listed(second) == ["M2", "M1"]
    third = owner_client.get("/messages/" + link(second, "next"))
    assert listed(third) == ["M0"]
    assert 'rel="next"' not in third.content.decode()

    back = owner_client.get("/messages/" + link(third, "prev"))
    assert listed(back) == ["M2", "M1"]
    top = owner_client.get("/messages/" + link(back, "prev"))
    assert listed(top) == ["M4", "M3"]
    assert 'rel="prev"' not in top.content.decode()


def test_messages_created_in_the_same_microsecond_are_neither_lost_nor_repeated(
    owner_client, account, monkeypatch
):
    monkeypatch.setattr(message_views, "MESSAGES_PER_PAGE", 2)
    for i in range(5):
        make_message(account, subject=f"M{i}", created_at=NOW)

    seen, url = [], "/messages/"
    while url:
        response = owner_client.get(url)
        seen += listed(response)
        url = (
            "/messages/" + link(response, "next")
            if 'rel="next"' in response.content.decode()
            else ""
        )

    assert sorted(seen) == ["M0", "M1", "M2", "M3", "M4"]


def test_the_page_links_keep_the_filters(owner_client, account, monkeypatch):
    monkeypatch.setattr(message_views, "MESSAGES_PER_PAGE", 1)
    make_message(account, subject="A", status="failed", **at(2))
    make_message(account, subject="B", status="sent", **at(1.5))
    make_message(account, subject="C", status="failed", **at(1))

    first = owner_client.get("/messages/", {"status": "failed"})
    older = link(first, "next")

    assert "status=failed" in older
    assert listed(owner_client.get("/messages/" + older)) == ["A"]


def test_a_cursor_that_is_not_one_shows_the_newest_page(owner_client, account):
    make_message(account, subject="Hello")

    for junk in ("x", "1.2.3", "-.5", "99999999999999999999999999.1", "1." + "9" * 50):
        assert listed(owner_client.get("/messages/", {"before": junk})) == ["Hello"]


def test_a_subject_search_looks_at_a_bounded_window_and_says_where_it_stopped(
    owner_client, account, monkeypatch
):
    monkeypatch.setattr(selectors, "MESSAGE_SCAN_WINDOW", 3)
    make_message(account, subject="Security alert", **at(9))
    for i in range(5):
        make_message(account, subject=f"Receipt {i}", **at(5 - i))

    first = owner_client.get("/messages/", {"q": "alert"})
    assert listed(first) == []
    assert "look at 3 messages per page" in first.content.decode()

    second = owner_client.get("/messages/" + link(first, "next"))
    assert listed(second) == ["Security alert"]
    assert "look at 3 messages per page" not in second.content.decode()


def test_the_window_covers_the_filtered_range_only(account, monkeypatch):
    monkeypatch.setattr(selectors, "MESSAGE_SCAN_WINDOW", 2)
    make_message(account, subject="Alert", status="failed", **at(9))
    for i in range(5):
        make_message(account, subject=f"Receipt {i}", status="sent", **at(5 - i))

    page = selectors.message_list_for_account(account=account, status="failed", subject="alert")

    assert [m.subject for m in page.messages] == ["Alert"]
    assert page.scanned_to is None and page.older is None


def test_an_empty_log_points_to_the_api_docs(owner_client):
    assert 'href="/docs/"' in owner_client.get("/messages/").content.decode()


# --- retrying failed messages ----------------------------------------------------------------


def test_the_retry_button_appears_only_when_something_failed(owner_client, account):
    make_message(account, status="sent")
    assert "Retry" not in owner_client.get("/messages/").content.decode()

    make_message(account, status="failed")
    assert "Retry 1 failed message" in owner_client.get("/messages/").content.decode()


def test_retrying_requeues_only_the_users_failed_messages(owner_client, account, outsider_account):
    mine = make_message(account, status="failed", error_message="550 no")
    theirs = make_message(outsider_account, status="failed")

    response = owner_client.post("/messages/requeue-failed/", follow=True)

    assert "1 failed message is back in the queue." in response.content.decode()
    assert Message.objects.get(pk=mine.pk).status == "queued"
    assert Message.objects.get(pk=theirs.pk).status == "failed"


def test_retrying_needs_a_post_with_a_csrf_token(owner, account):
    make_message(account, status="failed")
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    assert client.get("/messages/requeue-failed/").status_code == 405
    assert client.post("/messages/requeue-failed/").status_code == 403
    assert Message.objects.get().status == "failed"


# --- one message -----------------------------------------------------------------------------


def test_another_accounts_message_is_a_404_on_the_detail_and_html_routes(
    owner_client, outsider_account
):
    theirs = make_message(outsider_account, html="<p>secret</p>")

    assert owner_client.get(f"/messages/{theirs.pk}/").status_code == 404
    assert owner_client.get(f"/messages/{theirs.pk}/html/").status_code == 404
    assert owner_client.get("/messages/999999/").status_code == 404


def test_the_detail_page_shows_the_facts_of_the_message(owner_client, account, provider):
    message = make_message(
        account,
        provider=provider,
        subject="Your receipt",
        from_name="Shop",
        to_email="ada@example.com",
        cc=["cc@example.com"],
        bcc=["bcc@example.com"],
        reply_to="help@example.com",
        status="failed",
        failure_reason="rejected",
        error_message="550 5.1.1 mailbox unavailable",
        attempts=2,
        tags=["receipt"],
        metadata={"order_id": "48213", "items": [1, 2]},
    )

    html = owner_client.get(f"/messages/{message.pk}/").content.decode()

    for text in (
        message.message_id.replace("<", "&lt;").replace(">", "&gt;"),
        "ada@example.com",
        "cc@example.com",
        "bcc@example.com",
        "help@example.com",
        "Shop &lt;sender@example.com&gt;",
        "Your receipt",
        provider.name,
        "Rejected by the provider",
        "550 5.1.1 mailbox unavailable",
        '<span class="badge failed">Failed</span>',
        "<code>order_id</code></td><td>48213</td>",
        "[1, 2]",
        'href="/messages/?tag=receipt"',
    ):
        assert text in html, text


def test_the_detail_page_shows_the_headers_as_sent(owner_client, account):
    message = make_message(account, subject="Grüße", cc=["cc@example.com"], bcc=["b@example.com"])

    html = unescape(owner_client.get(f"/messages/{message.pk}/").content.decode())
    headers = html.split("<h2>Headers</h2>")[1]

    assert f"Message-ID: {message.message_id}" in headers
    assert "Cc: cc@example.com" in headers
    assert "Subject: =?utf-8?" in headers  # encoded as it goes on the wire
    assert "MIME-Version: 1.0" in headers
    assert "b@example.com" not in headers  # Bcc never appears in the headers


def test_the_detail_page_shows_the_event_timeline(owner_client, account):
    message = make_message(account, status="delivered")
    MessageEvent.objects.create(
        account=account, message=message, event_type="delivered", description="250 OK"
    )
    MessageEvent.objects.create(
        account=account,
        message=message,
        event_type="click",
        url="https://shop.example.com/orders/1",
        ip_address="203.0.113.9",
        user_agent="Mail/1.0",
    )

    html = owner_client.get(f"/messages/{message.pk}/").content.decode()

    timeline = html.split("<h2>Events</h2>")[1]
    assert timeline.index("Delivered") < timeline.index("Clicked")
    assert "250 OK" in timeline
    assert "https://shop.example.com/orders/1" in timeline
    assert "203.0.113.9" in timeline and "Mail/1.0" in timeline


def test_the_html_part_is_shown_in_a_sandboxed_iframe_and_the_text_part_as_text(
    owner_client, account
):
    message = make_message(account, html="<p>Hi</p>", text="Hi <there>")

    html = owner_client.get(f"/messages/{message.pk}/").content.decode()

    assert f'<iframe class="preview" sandbox="" src="/messages/{message.pk}/html/"' in html
    assert "<pre>Hi &lt;there&gt;</pre>" in html


def test_a_message_without_html_has_no_preview(owner_client, account):
    message = make_message(account, html="", text="Plain")

    assert "<iframe" not in owner_client.get(f"/messages/{message.pk}/").content.decode()


def test_the_html_route_serves_the_stored_html_locked_down(owner_client, account):
    body = '<p>Hi</p><img src="https://tracker.example/x.gif"><script>alert(1)</script>'
    message = make_message(account, html=body)

    response = owner_client.get(f"/messages/{message.pk}/html/")

    assert response.status_code == 200
    assert response.content.decode() == body
    assert response["Content-Type"] == "text/html; charset=utf-8"
    csp = response["Content-Security-Policy"]
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp
    assert "img-src data:" in csp and "script" not in csp
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "no-store" in response["Cache-Control"]


def test_other_pages_still_refuse_to_be_framed(owner_client, account):
    message = make_message(account)

    assert owner_client.get(f"/messages/{message.pk}/")["X-Frame-Options"] == "DENY"


def test_a_teammate_sees_the_accounts_messages(teammate, account):
    message = make_message(account, subject="Shared")
    client = Client()
    client.force_login(teammate)

    assert client.get(f"/messages/{message.pk}/").status_code == 200


# --- scheduled messages ----------------------------------------------------------------


def notes(response) -> list[str]:
    return [str(note) for note in get_messages(response.wsgi_request)]


def scheduled(account, **fields):
    later = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(days=2)
    return make_message(account, status="scheduled", scheduled_at=later, **fields)


def minute(moment: dt.datetime) -> str:
    """`moment` as a datetime-local input writes it, in the current time zone (UTC)."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_scheduled_and_cancelled_are_status_filters(owner_client, account):
    scheduled(account, subject="Later")
    make_message(account, subject="Dropped", status="cancelled")
    make_message(account, subject="Now", status="sent")

    response = owner_client.get("/messages/")

    html = response.content.decode()
    assert '<option value="scheduled">Scheduled</option>' in html
    assert '<option value="cancelled">Cancelled</option>' in html
    assert '<span class="badge scheduled">Scheduled</span>' in html
    assert listed(owner_client.get("/messages/", {"status": "scheduled"})) == ["Later"]
    assert listed(owner_client.get("/messages/", {"status": "cancelled"})) == ["Dropped"]


def test_a_scheduled_message_shows_its_time_its_template_and_how_to_move_or_cancel_it(
    owner_client, account, api, provider
):
    template = template_create(
        account=account,
        data={"name": "Welcome", "alias": "welcome", "subject": "Hi {{name}}", "text": "Hello"},
    )
    later = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    answer = api.post(
        "/api/v1/mail/send",
        {
            "to": "ada@example.com",
            "template": {"alias": "welcome", "variables": {"name": "Ada"}},
            "scheduled_at": later.isoformat(),
        },
        format="json",
    ).json()
    message = Message.objects.get(message_id=answer["data"]["message_id"])

    html = owner_client.get(f"/messages/{message.pk}/").content.decode()

    shown = date_format(timezone.localtime(later), "DATETIME_FORMAT")
    assert f"<dt>Scheduled for</dt><dd>{shown}</dd>" in html
    assert (
        f'<dt>Template</dt><dd><a href="/templates/{template.pk}/versions/1/"><code>welcome</code>'
        '</a> <span class="muted">version 1</span></dd>'
    ) in html
    assert f'action="/messages/{message.pk}/cancel/"' in html
    assert f'action="/messages/{message.pk}/reschedule/"' in html
    assert f'type="datetime-local" name="scheduled_at" value="{minute(later)}"' in html
    assert "In UTC, like every time on these pages." in html
    assert '<span class="badge scheduled">Scheduled</span>' in html  # the event
    assert "Scheduled for " + later.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") in html


@pytest.mark.parametrize("status", ["sent", "queued", "cancelled"])
def test_a_message_that_is_not_scheduled_offers_no_cancel_or_reschedule(
    owner_client, account, status
):
    message = make_message(account, status=status, scheduled_at=NOW)

    html = owner_client.get(f"/messages/{message.pk}/").content.decode()

    assert "/cancel/" not in html and "/reschedule/" not in html
    assert "<dt>Scheduled for</dt>" in html  # kept after its time


def test_cancelling_a_scheduled_message_cancels_it_once_and_again_changes_nothing(
    owner_client, account
):
    message = scheduled(account)

    first = owner_client.post(f"/messages/{message.pk}/cancel/")
    again = owner_client.post(f"/messages/{message.pk}/cancel/")

    assert first["Location"] == f"/messages/{message.pk}/"
    assert notes(first) == ["The message is cancelled: it will not be sent."]
    assert notes(again)[-1] == "The message is cancelled: it will not be sent."
    message.refresh_from_db()
    assert message.status == "cancelled"
    assert list(message.events.values_list("event_type", flat=True)) == ["cancelled"]


def test_a_message_no_longer_scheduled_cannot_be_cancelled_or_moved(owner_client, account):
    message = make_message(account, status="sent")

    cancel = owner_client.post(f"/messages/{message.pk}/cancel/")
    move = owner_client.post(
        f"/messages/{message.pk}/reschedule/",
        {"scheduled_at": minute(timezone.now() + dt.timedelta(days=1))},
    )

    expected = (
        "This message is no longer scheduled (it is Sent now): it cannot be cancelled or moved."
    )
    assert notes(cancel) == [expected]
    assert notes(move)[-1] == expected
    message.refresh_from_db()
    assert (message.status, message.scheduled_at) == ("sent", None)


def test_rescheduling_moves_the_message_to_the_time_typed_in_utc(owner_client, account):
    message = scheduled(account)
    new = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(days=5, hours=3)

    response = owner_client.post(
        f"/messages/{message.pk}/reschedule/", {"scheduled_at": minute(new)}
    )

    assert response["Location"] == f"/messages/{message.pk}/"
    shown = date_format(timezone.localtime(new), "DATETIME_FORMAT")
    assert notes(response) == [f"The message now waits until {shown}."]
    message.refresh_from_db()
    assert (message.status, message.scheduled_at) == ("scheduled", new)
    [event] = message.events.all()
    assert event.event_type == "scheduled" and event.description.startswith("Moved to ")


@pytest.mark.parametrize(
    ("value", "note"),
    [
        (
            lambda: minute(timezone.now() - dt.timedelta(hours=1)),
            "The new time was refused: Must not be in the past.",
        ),
        (
            lambda: minute(timezone.now() + dt.timedelta(days=31)),
            "The new time was refused: At most 30 days ahead.",
        ),
        (lambda: "next tuesday", "Enter a valid date/time."),
        (lambda: "", "This field is required."),
    ],
    ids=["past", "too far", "not a time", "empty"],
)
def test_a_refused_new_time_says_why_and_moves_nothing(owner_client, account, value, note):
    message = scheduled(account)
    before = message.scheduled_at

    response = owner_client.post(f"/messages/{message.pk}/reschedule/", {"scheduled_at": value()})

    assert notes(response) == [note]
    message.refresh_from_db()
    assert (message.status, message.scheduled_at) == ("scheduled", before)


def test_the_reschedule_input_is_bounded_like_the_service(owner_client, account):
    message = scheduled(account)
    now = timezone.now().replace(hour=12, minute=0, second=30) + dt.timedelta(days=1)

    with time_machine.travel(now, tick=False):
        form = owner_client.get(f"/messages/{message.pk}/").context["reschedule_form"]

    attrs = form.fields["scheduled_at"].widget.attrs
    soon, horizon = now + dt.timedelta(seconds=30), now + dt.timedelta(days=30)
    assert (attrs["min"], attrs["max"]) == (minute(soon), minute(horizon))


def test_another_accounts_message_cannot_be_cancelled_or_moved(owner_client, outsider_account):
    theirs = scheduled(outsider_account)

    cancel = owner_client.post(f"/messages/{theirs.pk}/cancel/")
    move = owner_client.post(
        f"/messages/{theirs.pk}/reschedule/",
        {"scheduled_at": minute(timezone.now() + dt.timedelta(days=1))},
    )

    assert (cancel.status_code, move.status_code) == (404, 404)
    theirs.refresh_from_db()
    assert theirs.status == "scheduled"


def test_cancel_and_reschedule_need_a_post_with_a_csrf_token(owner, account):
    message = scheduled(account)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    for action in ("cancel", "reschedule"):
        assert client.get(f"/messages/{message.pk}/{action}/").status_code == 405
        assert client.post(f"/messages/{message.pk}/{action}/").status_code == 403
    message.refresh_from_db()
    assert message.status == "scheduled"


# --- live and test messages ------------------------------------------------------------------


def test_the_log_shows_live_messages_only_by_default_and_test_ones_with_the_switch(
    owner_client, account
):
    make_message(account, subject="Live one", **at(1))
    make_message(account, subject="Test one", test=True, **at(1))

    live = owner_client.get("/messages/")
    test = owner_client.get("/messages/", {"mode": "test"})

    assert listed(live) == ["Live one"]
    assert 'class="badge test"' not in live.content.decode()
    assert listed(test) == ["Test one"]
    assert 'class="badge test"' in test.content.decode()
    assert 'name="mode" value="test"' in test.content.decode()  # kept when filtering


def test_the_status_filter_works_within_test_messages(owner_client, account):
    make_message(account, subject="Test bounced", test=True, status="bounced", **at(1))
    make_message(account, subject="Test queued", test=True, **at(1))
    make_message(account, subject="Live bounced", status="bounced", **at(1))

    response = owner_client.get("/messages/", {"mode": "test", "status": "bounced"})

    assert listed(response) == ["Test bounced"]


def test_a_test_message_is_marked_test_on_its_page(owner_client, account):
    test_message = make_message(account, subject="Sandbox", test=True)
    live_message = make_message(account, subject="Real")

    test_html = owner_client.get(f"/messages/{test_message.pk}/").content.decode()
    live_html = owner_client.get(f"/messages/{live_message.pk}/").content.decode()

    assert 'class="badge test"' in test_html
    assert 'class="badge test"' not in live_html


def test_the_failed_count_counts_live_messages_only(owner_client, account):
    make_message(account, status="failed", test=True)

    assert "failed message" not in owner_client.get("/messages/").content.decode()
