"""The OpenAPI schema describes every endpoint; its docs page needs no CDN."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_lists_the_three_mail_endpoints(schema):
    assert set(schema["paths"]) >= {
        "/api/v1/health",
        "/api/v1/mail/send",
        "/api/v1/mail/send-batch",
        "/api/v1/mail/status/{message_id}",
    }


def test_every_operation_documents_bearer_auth_and_its_error_envelopes(schema):
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    public = {"/api/v1/health"}
    for path, operations in schema["paths"].items():
        if path in public:
            continue
        for method, operation in operations.items():
            assert operation["security"] == [{"ApiKey": []}], (path, method)
            assert {"401", "403"} <= set(operation["responses"]), (path, method)
    send = schema["paths"]["/api/v1/mail/send"]["post"]["responses"]
    assert {"200", "400", "422", "429", "500"} <= set(send)
    assert send["422"]["description"].startswith("NO_SMTP_PROVIDER")


def test_the_send_request_schema_has_the_seeds_fields(schema):
    request = schema["components"]["schemas"]["MessageInputRequest"]
    assert set(request["properties"]) == {
        "to",
        "subject",
        "html",
        "text",
        "from_email",
        "from_name",
        "reply_to",
        "cc",
        "bcc",
        "tags",
        "metadata",
        "track_opens",  # ours, beyond the seed: per-message tracking
        "track_clicks",
        "attachments",  # ours, beyond the seed: files, headers and one-click unsubscribe
        "headers",
        "unsubscribe",
        "template",  # ours: templates and scheduled sending
        "scheduled_at",
    }
    # subject is required unless template is given: the serializer checks that.
    assert set(request["required"]) == {"to"}


def test_the_docs_page_loads_its_assets_from_our_own_static_files(settings):
    html = Client().get("/api/docs/").content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    assert all(not a.startswith(("http:", "https:", "//")) for a in assets), assets
    assert any("swagger-ui" in a for a in assets)
    for asset in assets:
        if asset.startswith("/static/"):
            assert Client().get(asset).status_code == 200, asset


def test_request_bodies_say_what_the_serializers_refuse(schema):
    components = schema["components"]["schemas"]
    message = components["MessageInputRequest"]
    batch = components["BatchInputRequest"]

    assert message["additionalProperties"] is False  # unknown fields are a 400
    assert batch["additionalProperties"] is False
    assert message["anyOf"] == [
        {"required": ["html"], "properties": {"html": {"type": "string", "minLength": 1}}},
        {"required": ["text"], "properties": {"text": {"type": "string", "minLength": 1}}},
    ]
    assert message["properties"]["subject"]["not"] == {
        "type": "string",
        "pattern": "[\\x00-\\x08\\x0a-\\x1f\\x7f\\x85\\u2028\\u2029]",
    }
    assert message["properties"]["metadata"]["maxProperties"] == 50
    assert batch["properties"]["messages"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/MessageInputRequest"},
        "description": "1 to 100 messages, each shaped like a /send request.",
        "minItems": 1,
        "maxItems": 100,
    }


def test_the_answers_headers_are_documented(schema):
    send = schema["paths"]["/api/v1/mail/send"]["post"]["responses"]
    listing = schema["paths"]["/api/v1/suppressions"]["get"]["responses"]

    assert send["429"]["headers"]["Retry-After"]["required"] is True
    assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
        listing["200"]["headers"]
    )
    for status in ("200", "422", "500"):
        assert "Idempotent-Replayed" in send[status]["headers"], status


def test_a_list_answer_is_one_envelope_not_an_array(schema):
    listing = schema["paths"]["/api/v1/suppressions"]["get"]["responses"]["200"]

    assert listing["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SuppressionListResponse"
    }
