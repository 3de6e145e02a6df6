"""The Templates pages: the list, create and edit (a new version per change of content),
the sandboxed preview with the sample variables, versions and roll-back, delete (refused
while scheduled messages use the template), the test email; another account's template is
a 404 everywhere."""

import datetime as dt
import json
import re
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from api.models import Message, Template, TemplateVersion
from api.services import suppression_add, template_create, template_update
from providers.models import Provider
from tests import factories

pytestmark = pytest.mark.django_db

LIST_URL = reverse("dashboard:template-list")
CREATE_URL = reverse("dashboard:template-create")
PREVIEW_URL = reverse("dashboard:template-preview")

FORM = {
    "name": "Order shipped",
    "alias": "order-shipped",
    "subject": "Order {{order_id}} shipped",
    "html": "<p>Hi {{name}}, order {{order_id}} is on its way.</p>",
    "text": "Hi {{name}}, order {{order_id}} is on its way.",
    "defaults": '{"name": "there"}',
    "sample_variables": '{"name": "Ada", "order_id": "A-42"}',
}


def notes(response) -> list[str]:
    return [str(note) for note in get_messages(response.wsgi_request)]


def url(name: str, template: Template, *args: object) -> str:
    return reverse(f"dashboard:template-{name}", args=[template.pk, *args])


def make_template(account, user=None, **fields) -> Template:
    data = {
        "name": "Order shipped",
        "alias": "order-shipped",
        "subject": "Order {{order_id}} shipped",
        "html": "<p>Hi {{name}}, order {{order_id}} is on its way.</p>",
        "text": "Hi {{name}}, order {{order_id}} is on its way.",
        "defaults": {"name": "there"},
    }
    samples = fields.pop("sample_variables", {"name": "Ada", "order_id": "A-42"})
    data.update(fields)
    template = template_create(account=account, data=data, user=user)
    Template.objects.filter(pk=template.pk).update(sample_variables=samples)
    template.refresh_from_db()
    return template


def frame_text(response) -> str:
    """The preview document's text, tags dropped and entities resolved."""
    return unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- the list ---------------------------------------------------------------------------


def test_the_template_pages_send_anonymous_visitors_to_the_login_page(account):
    template = make_template(account)
    pages = [LIST_URL, CREATE_URL, PREVIEW_URL, url("update", template), url("html", template)]
    pages += [url("delete", template), url("version", template, 1)]
    for page in pages:
        response = Client().get(page)

        assert response.status_code == 302, page
        assert response["Location"].startswith(reverse("login"))


def test_templates_is_in_the_main_menu(owner_client):
    html = owner_client.get(LIST_URL).content.decode()

    assert f'<a href="{LIST_URL}" aria-current="page">Templates</a>' in html


def test_the_list_shows_name_alias_latest_version_and_update_time_of_the_accounts_own(
    owner_client, account, outsider_account
):
    mine = make_template(account)
    template_update(template=mine, data={"subject": "Shipped: {{order_id}}"})
    make_template(outsider_account, name="Their secret", alias="their-secret")

    html = owner_client.get(LIST_URL).content.decode()

    assert f'<a href="{url("update", mine)}">Order shipped</a>' in html
    assert "<code>order-shipped</code>" in html
    assert '<td class="num">2</td>' in html
    assert timezone.localtime(mine.updated_at).strftime("%Y") in html
    assert "Their secret" not in html and "their-secret" not in html


def test_an_empty_list_offers_to_write_the_first_template(owner_client):
    html = owner_client.get(LIST_URL).content.decode()

    assert f'href="{CREATE_URL}">write the first one</a>' in html


def test_a_teammate_sees_and_edits_the_accounts_templates(teammate, account):
    template = make_template(account)
    client = Client()
    client.force_login(teammate)

    assert "order-shipped" in client.get(LIST_URL).content.decode()
    response = client.post(url("update", template), {**FORM, "subject": "By a teammate"})

    assert response.status_code == 302
    assert TemplateVersion.objects.get(template=template, number=2).created_by == teammate


# --- create and edit --------------------------------------------------------------------


def test_creating_saves_version_1_by_the_user_with_the_sample_variables_apart(
    owner_client, owner, account
):
    response = owner_client.post(CREATE_URL, FORM)

    template = Template.objects.get(account=account)
    assert response.status_code == 302
    assert response["Location"] == url("update", template)
    assert notes(response) == ["Template Order shipped created."]
    assert (template.name, template.alias, template.latest_version) == (
        "Order shipped",
        "order-shipped",
        1,
    )
    assert template.sample_variables == {"name": "Ada", "order_id": "A-42"}
    version = template.versions.get()
    assert (version.number, version.created_by) == (1, owner)
    assert (version.subject, version.html, version.text) == (
        FORM["subject"],
        FORM["html"],
        FORM["text"],
    )
    assert version.defaults == {"name": "there"}


def test_a_template_may_have_only_html_or_only_text_and_empty_defaults(owner_client, account):
    owner_client.post(CREATE_URL, {**FORM, "html": "", "defaults": "", "sample_variables": ""})

    template = Template.objects.get(account=account)
    assert template.sample_variables == {}
    version = template.versions.get()
    assert (version.html, version.defaults) == ("", {})


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"alias": "Order Shipped"}, "alias", "Use lower-case letters, digits and - _ ."),
        ({"alias": "12345"}, "alias", "with one letter at least"),
        ({"name": ""}, "name", "This field is required."),
        ({"subject": ""}, "subject", "This field is required."),
        ({"html": "", "text": ""}, "html", "Write the HTML, the text, or both."),
        ({"html": "<p>{{> header}}</p>"}, "html", "Partials ({{> header}}) are not supported."),
        ({"text": "{{#items}}no end"}, "text", "{{#items}} is never closed."),
        ({"subject": "Hi {{na me}}"}, "subject", "a name is letters, digits"),
        ({"defaults": "{name: 1}"}, "defaults", "This is not valid JSON."),
        ({"defaults": "[1, 2]"}, "defaults", "Write a JSON object"),
        ({"sample_variables": '"Ada"'}, "sample_variables", "Write a JSON object"),
        (
            {"sample_variables": json.dumps({"big": "x" * 70_000})},
            "sample_variables",
            "At most 65536 bytes as JSON.",
        ),
    ],
)
def test_a_refused_template_is_shown_again_with_the_error_on_its_field(
    owner_client, account, changes, field, error
):
    response = owner_client.post(CREATE_URL, {**FORM, **changes})

    assert response.status_code == 200
    assert not Template.objects.exists()
    errors = response.context["form"].errors
    assert any(error in message for message in errors[field]), errors


def test_an_alias_the_account_already_uses_is_refused_but_another_accounts_is_free(
    owner_client, account, outsider_account
):
    make_template(account)
    make_template(outsider_account, alias="welcome")

    taken = owner_client.post(CREATE_URL, FORM)
    free = owner_client.post(CREATE_URL, {**FORM, "alias": "welcome"})

    assert taken.context["form"].errors["alias"] == [
        "Another template of your account has this alias."
    ]
    assert free.status_code == 302
    assert Template.objects.filter(account=account).count() == 2


def test_the_edit_page_shows_the_latest_version_and_the_sample_variables(owner_client, account):
    template = make_template(account)
    template_update(template=template, data={"text": "Version two {{name}}"})

    response = owner_client.get(url("update", template))

    form = response.context["form"]
    assert form["text"].value() == "Version two {{name}}"
    assert json.loads(form["sample_variables"].value()) == {"name": "Ada", "order_id": "A-42"}
    html = response.content.decode()
    assert "Version two {{name}}</textarea>" in html
    assert "&quot;order_id&quot;: &quot;A-42&quot;" in html  # the sample variables, as JSON


def test_saving_a_change_of_content_makes_a_new_version_by_the_user(owner_client, owner, account):
    template = make_template(account)

    response = owner_client.post(url("update", template), {**FORM, "subject": "Shipped!"})

    assert response.status_code == 302
    assert notes(response) == ["Saved as version 2."]
    template.refresh_from_db()
    assert template.latest_version == 2
    new = template.versions.get(number=2)
    assert (new.subject, new.created_by) == ("Shipped!", owner)
    assert template.versions.get(number=1).subject == "Order {{order_id}} shipped"


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Renamed", "alias": "renamed"},
        {"sample_variables": '{"name": "Grace", "order_id": "B-7"}'},
        {},
    ],
    ids=["name and alias", "sample variables", "nothing"],
)
def test_saving_without_a_change_of_content_makes_no_new_version(owner_client, account, changes):
    template = make_template(account)
    before = template.updated_at

    response = owner_client.post(url("update", template), {**FORM, **changes})

    assert notes(response) == [
        "Saved. The subject, the bodies and the defaults are as they were, so there is no "
        "new version."
    ]
    template.refresh_from_db()
    assert template.latest_version == 1
    assert template.name == changes.get("name", "Order shipped")
    assert template.alias == changes.get("alias", "order-shipped")
    if "sample_variables" in changes:
        assert template.sample_variables == {"name": "Grace", "order_id": "B-7"}
    if not changes:
        assert template.updated_at == before


def test_renaming_to_an_alias_another_template_has_is_refused(owner_client, account):
    make_template(account, alias="welcome")
    template = make_template(account)

    response = owner_client.post(url("update", template), {**FORM, "alias": "welcome"})

    assert response.context["form"].errors["alias"] == [
        "Another template of your account has this alias."
    ]
    template.refresh_from_db()
    assert template.alias == "order-shipped"


# --- the preview ------------------------------------------------------------------------


def test_the_preview_fills_the_draft_with_the_sample_variables_in_a_locked_down_frame(
    owner_client, account
):
    response = owner_client.post(PREVIEW_URL, {**FORM, "subject": "Draft {{order_id}}"})

    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp and "script" not in csp
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert '<strong class="mailpass-subject">Draft A-42</strong>' in html
    assert "<p>Hi Ada, order A-42 is on its way.</p>" in html
    assert '<pre class="mailpass-text"' in html
    assert not Template.objects.exists()  # nothing saved


def test_the_preview_escapes_a_variable_in_the_html_and_shows_subject_and_text_as_text(
    owner_client,
):
    hostile = '<script>alert("x")</script>'
    samples = json.dumps({"name": hostile, "order_id": "<b>1</b>"})

    response = owner_client.post(PREVIEW_URL, {**FORM, "sample_variables": samples})

    html = response.content.decode()
    assert "<script>" not in html and "<b>1</b>" not in html
    assert "<p>Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;, order" in html
    # Subject and text take variables as they are; the page escapes them once.
    assert "Order &lt;b&gt;1&lt;/b&gt; shipped" in html
    assert "Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;, order &lt;b&gt;1" in html


def test_the_preview_keeps_raw_variables_raw_only_where_the_template_says_so(owner_client):
    response = owner_client.post(
        PREVIEW_URL,
        {
            **FORM,
            "html": "<div>{{{banner}}}</div>",
            "sample_variables": '{"banner": "<i>x</i>", "order_id": 1}',
        },
    )

    assert "<div><i>x</i></div>" in response.content.decode()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"sample_variables": "{}"}, "Missing: order_id"),  # name has a default
        ({"subject": "{{line}}", "sample_variables": '{"line": "a\\nb", "order_id": 1}'}, "line"),
        ({"html": "<p>{{> header}}</p>"}, "HTML: Partials ({{> header}}) are not supported."),
        ({"defaults": "nope"}, "Default variables: This is not valid JSON."),
        ({"subject": ""}, "Subject: This field is required."),
    ],
    ids=["missing variable", "line break in the subject", "partial", "bad JSON", "no subject"],
)
def test_what_stops_the_preview_is_said_in_the_frame_never_a_server_error(
    owner_client, changes, error
):
    response = owner_client.post(PREVIEW_URL, {**FORM, **changes})

    assert response.status_code == 200
    assert response["Content-Security-Policy"].startswith("sandbox;")
    assert "The template cannot be filled in:" in frame_text(response)
    assert error in frame_text(response)


def test_the_preview_frame_of_a_new_template_waits_for_the_button(owner_client):
    response = owner_client.get(PREVIEW_URL)
    page = owner_client.get(CREATE_URL).content.decode()

    assert response.status_code == 200
    assert "Press “Preview”" in frame_text(response)
    assert f'<iframe class="preview" name="template-preview" sandbox="" src="{PREVIEW_URL}"' in page
    assert f'formaction="{PREVIEW_URL}" formtarget="template-preview"' in page


def test_the_edit_page_frames_the_saved_template_filled_with_its_sample_variables(
    owner_client, account
):
    template = make_template(account)
    template_update(template=template, data={"text": "Second {{name}}", "html": ""})

    page = owner_client.get(url("update", template)).content.decode()
    latest = owner_client.get(url("html", template))
    first = owner_client.get(url("html", template) + "?version=1")

    assert f'name="template-preview" sandbox="" src="{url("html", template)}"' in page
    assert latest["Content-Security-Policy"].startswith("sandbox;")
    assert "Second Ada" in frame_text(latest) and "on its way" not in frame_text(latest)
    assert "<p>Hi Ada, order A-42 is on its way.</p>" in first.content.decode()
    assert owner_client.get(url("html", template) + "?version=9").status_code == 404


# --- versions ---------------------------------------------------------------------------


def test_the_versions_list_number_time_and_who_with_view_and_roll_back(
    owner_client, owner, account
):
    template = make_template(account)  # version 1 through the API: nobody
    template_update(template=template, data={"subject": "Two"}, user=owner)

    html = owner_client.get(url("update", template)).content.decode()

    versions = html.split('id="versions"')[1]
    assert versions.index(">2 <span") < versions.index(">1<")  # newest first
    assert "owner" in versions and "the API" in versions
    assert f'href="{url("version", template, 1)}"' in versions
    assert f'href="{url("version", template, 2)}"' in versions
    assert url("roll-back", template, 1) in versions
    assert url("roll-back", template, 2) not in versions  # the latest


def test_a_version_page_shows_that_versions_content_and_preview(owner_client, account):
    template = make_template(account)
    template_update(template=template, data={"subject": "Two"})

    html = owner_client.get(url("version", template, 1)).content.decode()

    assert "<pre>Order {{order_id}} shipped</pre>" in html
    assert "<pre>&lt;p&gt;Hi {{name}}, order {{order_id}} is on its way.&lt;/p&gt;</pre>" in html
    assert f'sandbox="" src="{url("html", template)}?version=1"' in html
    assert url("roll-back", template, 1) in html
    assert owner_client.get(url("version", template, 3)).status_code == 404


def test_rolling_back_makes_a_new_version_with_the_old_content(owner_client, owner, account):
    template = make_template(account)
    template_update(template=template, data={"subject": "Two", "text": "Changed"})

    response = owner_client.post(url("roll-back", template, 1))

    assert response.status_code == 302
    assert notes(response) == ["The content of version 1 is the latest again, as version 3."]
    third = template.versions.get(number=3)
    first = template.versions.get(number=1)
    assert (third.subject, third.text, third.created_by) == (first.subject, first.text, owner)
    assert owner_client.post(url("roll-back", template, 7)).status_code == 404


def test_rolling_back_to_what_the_latest_says_changes_nothing(owner_client, account):
    template = make_template(account)

    response = owner_client.post(url("roll-back", template, 1))

    assert notes(response) == ["Version 1 says what the latest version says: nothing changed."]
    assert template.versions.count() == 1


# --- delete -----------------------------------------------------------------------------


def test_deleting_asks_first_and_then_deletes_the_template_and_its_versions(owner_client, account):
    template = make_template(account)
    template_update(template=template, data={"subject": "Two"})

    confirm = owner_client.get(url("delete", template))
    response = owner_client.post(url("delete", template))

    assert confirm.status_code == 200 and "Delete Order shipped" in confirm.content.decode()
    assert response["Location"] == LIST_URL
    assert notes(response) == ["Template Order shipped deleted."]
    assert not Template.objects.exists() and not TemplateVersion.objects.exists()


def test_deleting_is_refused_while_a_scheduled_message_uses_the_template(
    owner_client, account, api, provider
):
    template = make_template(account)
    later = (timezone.now() + dt.timedelta(days=2)).isoformat()
    reference = {"alias": "order-shipped", "variables": {"order_id": "A-1"}}
    sent = api.post(
        "/api/v1/mail/send",
        {"to": "a@example.com", "template": reference, "scheduled_at": later},
        format="json",
    )
    assert sent.json()["data"]["status"] == "scheduled"

    response = owner_client.post(url("delete", template))

    assert response["Location"] == url("update", template)
    assert notes(response) == [
        "1 scheduled message uses this template: cancel it, or wait until it is sent, before "
        "you delete the template."
    ]
    assert Template.objects.filter(pk=template.pk).exists()


# --- the test email ---------------------------------------------------------------------


def test_a_test_email_sends_the_latest_version_with_the_sample_variables_and_is_logged(
    owner_client, account, provider, sink
):
    template = make_template(account)
    template_update(template=template, data={"subject": "v2: order {{order_id}}"})

    response = owner_client.post(url("test-email", template), {"to_email": "me@example.com"})

    assert response["Location"] == url("update", template)
    assert notes(response) == [
        "Test sink accepted the test email to me@example.com. It is in the message log."
    ]
    [received] = sink.received
    assert received.rcpt_tos == ["me@example.com"]
    assert received.message["Subject"] == "v2: order A-42"
    assert (
        "Hi Ada, order A-42 is on its way." in received.message.get_body(("plain",)).get_content()
    )
    message = Message.objects.get(account=account)
    assert (message.status, message.tags, message.provider) == ("sent", ["test"], provider)
    assert message.template_version == template.versions.get(number=2)


def test_a_test_email_that_does_not_render_is_not_sent(owner_client, account, provider, sink):
    template = make_template(account, sample_variables={})

    response = owner_client.post(url("test-email", template), {"to_email": "me@example.com"})

    assert notes(response) == ["The test email was not sent: Missing: order_id"]
    assert sink.received == [] and not Message.objects.exists()


def test_a_test_email_needs_a_default_provider(owner_client, account):
    template = make_template(account)

    response = owner_client.post(url("test-email", template), {"to_email": "me@example.com"})

    assert notes(response) == [
        "Your account has no default provider, so no test email was sent. Add one under SMTP "
        "settings."
    ]


def test_a_test_email_reports_the_providers_own_words(owner_client, account, provider, sink):
    template = make_template(account)
    sink.fail_rcpt("nobody@example.com", "550 5.1.1 No such user here")

    response = owner_client.post(url("test-email", template), {"to_email": "nobody@example.com"})

    [note] = get_messages(response.wsgi_request)
    assert note.level_tag == "error"
    assert note.message.startswith("The test email to nobody@example.com failed: ")
    assert "550 5.1.1 No such user here" in note.message


def test_a_test_email_to_a_suppressed_address_is_not_sent(owner_client, account, provider, sink):
    template = make_template(account)
    suppression_add(account=account, email="gone@example.com")

    response = owner_client.post(url("test-email", template), {"to_email": "gone@example.com"})

    assert notes(response) == [
        "gone@example.com is on your suppression list, so no test email was sent to it."
    ]
    assert sink.received == []


def test_a_test_email_at_the_providers_limit_is_not_sent(owner_client, account, sink):
    factories.make_provider(account, port=sink.port, hourly_limit=1)
    template = make_template(account)
    owner_client.post(url("test-email", template), {"to_email": "me@example.com"})

    response = owner_client.post(url("test-email", template), {"to_email": "me@example.com"})

    assert notes(response)[-1] == (
        "A sending limit is reached: no test email was sent. Try again later."
    )
    assert len(sink.received) == 1


def test_a_test_email_needs_a_valid_address(owner_client, account, provider, sink):
    template = make_template(account)

    response = owner_client.post(url("test-email", template), {"to_email": "not-an-address"})

    assert notes(response) == ["Enter a valid email address."]
    assert sink.received == []


def test_test_emails_share_the_accounts_hourly_budget_of_tests(
    owner_client, account, provider, sink, settings
):
    settings.MAILPASS_PROVIDER_TEST_LIMIT = 2
    template = make_template(account)
    owner_client.post(reverse("dashboard:provider-test-connection", args=[provider.pk]))
    owner_client.post(url("test-email", template), {"to_email": "me@example.com"})

    response = owner_client.post(url("test-email", template), {"to_email": "me@example.com"})

    assert notes(response)[-1] == (
        "Too many tests in the last hour: wait a while before the next one."
    )
    assert len(sink.received) == 1


# --- ownership, methods, CSRF -----------------------------------------------------------

ROUTES = [
    ("update", "get", ()),
    ("update", "post", ()),
    ("html", "get", ()),
    ("delete", "get", ()),
    ("delete", "post", ()),
    ("test-email", "post", ()),
    ("version", "get", (1,)),
    ("roll-back", "post", (1,)),
]


@pytest.mark.parametrize(("route", "method", "args"), ROUTES)
def test_another_accounts_template_is_a_404_on_every_route(
    owner_client, outsider_account, sink, route, method, args
):
    theirs = make_template(outsider_account)
    factories.make_provider(outsider_account, port=sink.port)

    response = getattr(owner_client, method)(
        url(route, theirs, *args), {**FORM, "name": "Taken", "to_email": "me@example.com"}
    )

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.latest_version) == ("Order shipped", 1)
    assert sink.received == []


@pytest.mark.parametrize("route", ["test-email", "roll-back"])
def test_the_action_routes_refuse_get(owner_client, account, route):
    template = make_template(account)
    args = (1,) if route == "roll-back" else ()

    assert owner_client.get(url(route, template, *args)).status_code == 405


def test_every_change_needs_the_csrf_token(owner, account, provider, sink):
    template = make_template(account)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)

    assert client.post(CREATE_URL, {**FORM, "alias": "new-one"}).status_code == 403
    assert client.post(PREVIEW_URL, FORM).status_code == 403
    for route, args in (("update", ()), ("delete", ()), ("test-email", ()), ("roll-back", (1,))):
        response = client.post(url(route, template, *args), {**FORM, "to_email": "me@example.com"})
        assert response.status_code == 403, route
    assert Template.objects.get().name == "Order shipped"
    assert sink.received == []


def test_the_provider_kind_of_the_default_does_not_matter_to_the_page(owner_client, account):
    """The page works without any provider: only the test email needs one."""
    template = make_template(account)

    assert not Provider.objects.exists()
    assert owner_client.get(url("update", template)).status_code == 200


def test_a_test_email_from_an_unverified_domain_is_refused_with_a_note(
    owner_client, account, provider, sink
):
    template = make_template(account)
    Account.objects.filter(pk=account.pk).update(verified_domains_only=True)

    response = owner_client.post(url("test-email", template), {"to_email": "me@example.com"})

    assert notes(response)[0].startswith(
        "No test email was sent: example.com is not a verified domain of your account"
    )
    assert sink.received == [] and not Message.objects.exists()
