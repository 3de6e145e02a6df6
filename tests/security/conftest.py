"""Fixtures shared by the security suites."""

import socket

import pytest


@pytest.fixture
def no_outbound(monkeypatch) -> list[object]:
    """Every outgoing connection or name lookup from Python, loopback too, recorded and
    refused: a forged webhook or a tampered token must make the server fetch nothing (an SNS
    subscription confirmation, a click's target). The list is what was tried."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("an outbound connection or name lookup was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts
