"""/api/v1/templates: create, read, change (versions), delete, render; sending with one."""

import pytest
from rest_framework.test import APIClient

from api.drain import process_due
from api.models import Message, Permission, Template, TemplateVersion
from tests import factories

pytestmark = pytest.mark.django_db

ORDER_SHIPPED = {
    "name": "Order shipped",
    "alias": "order-shipped",
    "subject": "Order {{order_id}} is on its way, {{name}}",
    "html": (
        "<p>Hi {{name}},</p><ul>{{#lines}}<li>{{qty}} x {{sku}}</li>{{/lines}}</ul>"
        "{{^lines}}<p>Nothing to ship.</p>{{/lines}}"
        "{{#coupon}}<p>Your next order: {{code}}</p>{{/coupon}}"
    ),
    "text": "Hi {{name}}, order {{order_id}} shipped.{{#lines}} {{qty}}x{{sku}}{{/lines}}",
    "defaults": {"name": "there"},
}
VARIABLES = {"order_id": "A-17", "name": "Ann", "lines": [{"qty": 2, "sku": "MUG"}]}


def create(api, **changes):
    return api.post("/api/v1/templates", {**ORDER_SHIPPED, **changes}, format="json")


def client_with(account, *permissions):
    _, secret = factories.make_api_key(account, permissions=list(permissions))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def templates_api(account):
    return client_with(account, Permission.TEMPLATES, Permission.MAIL)


def test_creating_a_template_answers_it_at_version_1_with_the_variables_it_needs(templates_api):
    response = create(templates_api)

    assert response.status_code == 201, response.json()
    data = response.json()["data"]
    template = data["template"]
    assert template["alias"] == "order-shipped" and template["name"] == "Order shipped"
    assert template["version"] == template["latest_version"] == 1
    assert template["subject"] == ORDER_SHIPPED["subject"]
    assert template["defaults"] == {"name": "there"}
    # Outside any section: what a request must give. lines and coupon are sections.
    assert template["variables"] == ["name", "order_id"]
    assert [v["version"] for v in data["versions"]] == [1]


def test_a_template_is_read_by_id_or_by_alias(templates_api):
    template_id = create(templates_api).json()["data"]["template"]["id"]

    by_id = templates_api.get(f"/api/v1/templates/{template_id}").json()["data"]
    by_alias = templates_api.get("/api/v1/templates/order-shipped").json()["data"]

    assert by_id == by_alias
    assert by_id["template"]["id"] == template_id


def test_changing_the_content_makes_a_new_version_and_the_old_one_stays_readable(templates_api):
    create(templates_api)

    changed = templates_api.patch(
        "/api/v1/templates/order-shipped", {"subject": "Shipped: {{order_id}}"}, format="json"
    )
    renamed = templates_api.patch(
        "/api/v1/templates/order-shipped", {"name": "Shipping notice"}, format="json"
    )

    assert changed.status_code == 200
    assert changed.json()["data"]["template"]["version"] == 2
    assert [v["version"] for v in changed.json()["data"]["versions"]] == [2, 1]
    # A name (or alias) change is not a new version.
    assert renamed.json()["data"]["template"]["version"] == 2
    assert renamed.json()["data"]["template"]["name"] == "Shipping notice"
    old = templates_api.get("/api/v1/templates/order-shipped?version=1").json()["data"]
    assert old["template"]["subject"] == ORDER_SHIPPED["subject"]
    assert old["template"]["version"] == 1 and old["template"]["latest_version"] == 2
    assert TemplateVersion.objects.count() == 2


def test_saving_the_same_content_again_makes_no_version(templates_api):
    create(templates_api)

    again = templates_api.patch(
        "/api/v1/templates/order-shipped", {"subject": ORDER_SHIPPED["subject"]}, format="json"
    )

    assert again.json()["data"]["template"]["version"] == 1


def test_an_alias_is_unique_in_the_account_but_not_across_accounts(templates_api, outsider_account):
    create(templates_api)
    outsider = client_with(outsider_account, Permission.TEMPLATES)

    twice = create(templates_api, name="Another")
    elsewhere = create(outsider)

    assert twice.status_code == 400
    assert twice.json()["error"]["details"] == {"alias": ["Already used by another template."]}
    assert elsewhere.status_code == 201


def test_renaming_onto_a_taken_alias_is_a_400(templates_api):
    create(templates_api)
    create(templates_api, alias="welcome")

    response = templates_api.patch(
        "/api/v1/templates/welcome", {"alias": "order-shipped"}, format="json"
    )

    assert response.status_code == 400
    assert "alias" in response.json()["error"]["details"]


@pytest.mark.parametrize(
    "alias", ["Order", "12", "order shipped", "-order", "order--", "é", "a" * 101, ""]
)
def test_an_alias_that_could_read_as_an_id_or_is_not_a_plain_word_is_a_400(templates_api, alias):
    response = create(templates_api, alias=alias)

    assert response.status_code == 400
    assert "alias" in response.json()["error"]["details"]


@pytest.mark.parametrize(
    ("field", "source"),
    [
        ("html", "{{> header}}"),
        ("html", "{{=<% %>=}}<% name %>"),
        ("html", "{{#lines}}no end"),
        ("text", "{{/lines}}"),
        ("html", "{{#a}}{{/b}}"),
        ("html", "{{name.__class__ }} {{ bad name }}"),
        ("subject", "Line\r\nBcc: x@example.com"),
    ],
)
def test_a_template_outside_the_supported_subset_is_a_400_naming_the_field(
    templates_api, field, source
):
    response = create(templates_api, **{field: source})

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert not Template.objects.exists()


def test_a_template_needs_html_or_text(templates_api):
    response = create(templates_api, html="", text="")
    create(templates_api, alias="other")
    emptied = templates_api.patch(
        "/api/v1/templates/other", {"html": "", "text": ""}, format="json"
    )

    assert response.status_code == 400 and "html" in response.json()["error"]["details"]
    assert emptied.status_code == 400 and "html" in emptied.json()["error"]["details"]


def test_render_fills_the_variables_escaping_them_in_html_only(templates_api):
    create(templates_api)
    hostile = {**VARIABLES, "name": '<script>alert("x")</script> & Co'}

    response = templates_api.post(
        "/api/v1/templates/order-shipped/render", {"variables": hostile}, format="json"
    )

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert data["version"] == 1
    assert data["subject"] == 'Order A-17 is on its way, <script>alert("x")</script> & Co'
    assert "<script>" not in data["html"]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in data["html"]
    assert "<li>2 x MUG</li>" in data["html"] and "Nothing to ship" not in data["html"]
    assert data["text"] == 'Hi <script>alert("x")</script> & Co, order A-17 shipped. 2xMUG'


def test_render_takes_defaults_for_variables_the_request_leaves_out(templates_api):
    create(templates_api)

    data = templates_api.post(
        "/api/v1/templates/order-shipped/render",
        {"variables": {"order_id": "B-2", "lines": []}},
        format="json",
    ).json()["data"]

    assert data["subject"] == "Order B-2 is on its way, there"
    assert "Nothing to ship." in data["html"]  # the inverted section, for an empty list


def test_render_lists_every_missing_variable_in_one_400(templates_api):
    create(templates_api, defaults={})

    response = templates_api.post("/api/v1/templates/order-shipped/render", {}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"variables": ["Missing: name, order_id"]}


def test_a_variable_missing_inside_a_section_is_a_400_not_an_empty_string(templates_api):
    create(templates_api)
    lines = [{"qty": 1}]  # no sku

    response = templates_api.post(
        "/api/v1/templates/order-shipped/render",
        {"variables": {**VARIABLES, "lines": lines}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"variables": ["Missing: sku"]}


def test_a_variable_that_brings_a_line_break_into_the_subject_is_a_400(templates_api):
    create(templates_api)

    response = templates_api.post(
        "/api/v1/templates/order-shipped/render",
        {"variables": {**VARIABLES, "name": "Ann\r\nBcc: victim@example.com"}},
        format="json",
    )

    assert response.status_code == 400
    assert "subject" in response.json()["error"]["details"]


def test_render_of_an_unknown_version_is_a_400_and_of_an_unknown_template_a_404(templates_api):
    create(templates_api)

    version = templates_api.post(
        "/api/v1/templates/order-shipped/render",
        {"variables": VARIABLES, "version": 9},
        format="json",
    )
    unknown = templates_api.post("/api/v1/templates/nope/render", {}, format="json")

    assert version.status_code == 400 and "version" in version.json()["error"]["details"]
    assert unknown.status_code == 404


def test_the_list_shows_each_template_at_its_latest_version_newest_first(templates_api):
    create(templates_api)
    create(templates_api, alias="welcome", name="Welcome")
    templates_api.patch("/api/v1/templates/order-shipped", {"text": "v2 {{name}}"}, format="json")

    data = templates_api.get("/api/v1/templates").json()["data"]

    assert (data["total"], data["page"], data["pages"]) == (2, 1, 1)
    assert [(t["alias"], t["version"]) for t in data["templates"]] == [
        ("welcome", 1),
        ("order-shipped", 2),
    ]
    assert templates_api.get("/api/v1/templates?page=2").status_code == 400


def test_deleting_a_template_deletes_its_versions_and_sent_messages_keep_their_content(
    templates_api, provider, sink
):
    create(templates_api)
    sent = templates_api.post(
        "/api/v1/mail/send",
        {"to": "a@example.com", "template": {"alias": "order-shipped", "variables": VARIABLES}},
        format="json",
    )

    response = templates_api.delete("/api/v1/templates/order-shipped")

    assert response.status_code == 200
    assert response.json()["data"]["alias"] == "order-shipped"
    assert not Template.objects.exists() and not TemplateVersion.objects.exists()
    message = Message.objects.get(message_id=sent.json()["data"]["message_id"])
    assert message.subject == "Order A-17 is on its way, Ann"
    assert message.template_version is None
    assert templates_api.get("/api/v1/templates/order-shipped").status_code == 404


def test_a_mail_key_reads_and_renders_templates_but_only_a_templates_key_changes_them(
    account, templates_api
):
    create(templates_api)
    mail_only = client_with(account, Permission.MAIL)
    templates_only = client_with(account, Permission.TEMPLATES)

    assert mail_only.get("/api/v1/templates").status_code == 200
    assert mail_only.get("/api/v1/templates/order-shipped").status_code == 200
    rendered = mail_only.post(
        "/api/v1/templates/order-shipped/render", {"variables": VARIABLES}, format="json"
    )
    assert rendered.status_code == 200
    for response in (
        create(mail_only, alias="other"),
        mail_only.patch("/api/v1/templates/order-shipped", {"name": "x"}, format="json"),
        mail_only.delete("/api/v1/templates/order-shipped"),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "FORBIDDEN"
        assert "'templates'" in response.json()["error"]["message"]
    assert (
        templates_only.patch(
            "/api/v1/templates/order-shipped", {"name": "x"}, format="json"
        ).status_code
        == 200
    )
    # Sending is mail's: a templates-only key cannot send.
    send = templates_only.post(
        "/api/v1/mail/send",
        {"to": "a@example.com", "template": {"alias": "order-shipped"}},
        format="json",
    )
    assert send.status_code == 403


def test_another_accounts_template_is_a_404_by_id_and_by_alias(templates_api, outsider_account):
    template_id = create(templates_api).json()["data"]["template"]["id"]
    outsider = client_with(outsider_account, Permission.TEMPLATES, Permission.MAIL)

    for path in (f"/api/v1/templates/{template_id}", "/api/v1/templates/order-shipped"):
        assert outsider.get(path).status_code == 404
        assert outsider.patch(path, {"name": "x"}, format="json").status_code == 404
        assert outsider.delete(path).status_code == 404
        assert outsider.post(f"{path}/render", {}, format="json").status_code == 404
    assert outsider.get("/api/v1/templates").json()["data"]["total"] == 0
    assert Template.objects.get().name == "Order shipped"


# --- sending with a template ---------------------------------------------------------


def test_send_with_a_template_renders_it_and_records_the_version(templates_api, provider, sink):
    create(templates_api)

    response = templates_api.post(
        "/api/v1/mail/send",
        {"to": "ann@example.com", "template": {"alias": "order-shipped", "variables": VARIABLES}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    [received] = sink.received
    assert received.message["Subject"] == "Order A-17 is on its way, Ann"
    html = received.message.get_body(("html",)).get_content()
    assert "<li>2 x MUG</li>" in html
    status = templates_api.get(
        f"/api/v1/mail/status/{response.json()['data']['message_id']}"
    ).json()["data"]["message"]
    template_id = Template.objects.get().pk
    assert status["template"] == {"id": template_id, "alias": "order-shipped", "version": 1}


def test_send_can_name_the_template_by_id_and_an_older_version(templates_api, provider, sink):
    template_id = create(templates_api).json()["data"]["template"]["id"]
    templates_api.patch(
        "/api/v1/templates/order-shipped", {"subject": "New {{order_id}}"}, format="json"
    )

    templates_api.post(
        "/api/v1/mail/send",
        {
            "to": "ann@example.com",
            "template": {"id": template_id, "version": 1, "variables": VARIABLES},
        },
        format="json",
    )

    assert sink.received[0].message["Subject"] == "Order A-17 is on its way, Ann"


@pytest.mark.parametrize(
    ("template", "details"),
    [
        ({"alias": "nope"}, {"template": ["No template with this alias."]}),
        ({"id": 987654}, {"template": ["No template with this id."]}),
        (
            {"alias": "order-shipped", "version": 5, "variables": VARIABLES},
            {"template": ["The template has no version 5."]},
        ),
        ({"alias": "order-shipped"}, {"template": {"variables": ["Missing: order_id"]}}),
        ({}, {"template": {"alias": ["Give either alias or id."]}}),
        (
            {"alias": "order-shipped", "id": 1},
            {"template": {"alias": ["Give either alias or id."]}},
        ),
    ],
)
def test_send_with_a_template_it_cannot_render_is_a_400_and_records_nothing(
    templates_api, provider, sink, template, details
):
    create(templates_api)

    response = templates_api.post(
        "/api/v1/mail/send", {"to": "ann@example.com", "template": template}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == details
    assert not Message.objects.exists() and sink.received == []


@pytest.mark.parametrize("field", ["subject", "html", "text"])
def test_send_with_a_template_and_its_own_content_is_a_400(templates_api, provider, field):
    create(templates_api)

    response = templates_api.post(
        "/api/v1/mail/send",
        {"to": "a@example.com", field: "x", "template": {"alias": "order-shipped"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "template": ["Give either template or subject/html/text, not both."]
    }


def test_send_without_template_still_requires_a_subject(api, provider):
    response = api.post("/api/v1/mail/send", {"to": "a@example.com", "text": "x"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"subject": ["This field is required."]}


@pytest.mark.django_db(transaction=True)  # the queue's sending threads must see the rows
def test_a_batch_renders_the_template_per_item_and_reports_bad_items_alone(
    templates_api, provider, sink
):
    create(templates_api)
    items = [
        {
            "to": f"r{i}@example.com",
            "template": {"alias": "order-shipped", "variables": {**VARIABLES, "name": f"R{i}"}},
        }
        for i in range(3)
    ]
    items.append({"to": "bad@example.com", "template": {"alias": "order-shipped"}})

    data = templates_api.post("/api/v1/mail/send-batch", {"messages": items}, format="json").json()[
        "data"
    ]
    process_due()

    assert (data["total"], data["queued"], data["failed"]) == (4, 3, 1)
    assert data["messages"][3]["error"]["details"] == {
        "template": {"variables": ["Missing: order_id"]}
    }
    subjects = sorted(received.message["Subject"] for received in sink.received)
    assert subjects == [f"Order A-17 is on its way, R{i}" for i in range(3)]


def test_a_batch_of_100_with_one_template_looks_it_up_once(
    templates_api, provider, django_assert_max_num_queries
):
    create(templates_api)
    items = [
        {"to": f"r{i}@example.com", "template": {"alias": "order-shipped", "variables": VARIABLES}}
        for i in range(100)
    ]

    # Authentication, the lookups, the quota, the insert: a handful, not one per item.
    with django_assert_max_num_queries(25):
        response = templates_api.post("/api/v1/mail/send-batch", {"messages": items}, format="json")

    assert response.json()["data"]["queued"] == 100
    assert Message.objects.filter(template_version__number=1).count() == 100
