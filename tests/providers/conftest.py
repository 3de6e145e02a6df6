"""Fixtures for provider kinds: a loopback fake of each ESP's API, wired in by settings."""

from collections.abc import Callable, Iterator

import pytest

from tests.providers.esp_servers import EspServer


@pytest.fixture
def esp_server(settings) -> Iterator[Callable[[str], EspServer]]:
    """start(kind) → a running fake of that ESP; MAILPASS_ESP_API_URLS points the kind at it."""
    servers: list[EspServer] = []

    def start(kind: str) -> EspServer:
        server = EspServer(kind).start()
        servers.append(server)
        settings.MAILPASS_ESP_API_URLS = {**settings.MAILPASS_ESP_API_URLS, kind: server.url}
        return server

    settings.MAILPASS_ESP_API_URLS = {}
    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def relay_settings(settings, relay_is_sink, relay_allowed):
    """The instance relay (kind mailpass) configured to be the loopback SMTP sink, and the
    account allowed to use it."""
    settings.EMAIL_TIMEOUT = 5
    return settings
