import pytest


@pytest.mark.django_db
def test_send_delivers_through_the_sink(api, provider, sink):
    response = api.post(
        "/api/v1/mail/send", {"to": "a@example.com", "subject": "Hi", "text": "x"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert len(sink.received) == 1
