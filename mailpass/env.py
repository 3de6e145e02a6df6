"""Small, strict readers for configuration that comes from the environment.

Each raises ImproperlyConfigured on a value it cannot understand, so a typo in a
deployment fails at start-up instead of silently falling back to a default.
"""

import base64
import binascii
import ipaddress
import json
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from err
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_map(name: str) -> dict[str, str]:
    """A comma-separated list of KEY=VALUE pairs ("sendgrid=https://proxy/v3/,…")."""
    mapping: dict[str, str] = {}
    for item in env_list(name):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImproperlyConfigured(f"{name} must be KEY=VALUE pairs, got {item!r}")
        mapping[key.strip()] = value.strip()
    return mapping


def env_json_object(name: str) -> dict[str, object] | None:
    """A JSON object ('{"BACKEND": "…", "OPTIONS": {…}}'), or None when unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {err}") from err
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object, got {raw!r}")
    return value


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A comma-separated list of IP addresses or networks ("10.0.0.5, 192.168.0.0/24")."""
    networks = []
    for item in env_list(name):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as err:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks, got {item!r}"
            ) from err
    return networks


def weak_secret(value: str, *, minimum_length: int) -> bool:
    """Whether a key is too weak to sign or hash with: shorter than `minimum_length`, fewer
    than 5 distinct characters (Django's own deploy check), or Django's placeholder."""
    return (
        len(value) < minimum_length or len(set(value)) < 5 or value.startswith("django-insecure-")
    )


def is_fernet_key(value: str) -> bool:
    """Whether `value` is a Fernet key: 32 bytes in url-safe base64."""
    try:
        return len(base64.urlsafe_b64decode(value.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def env_ports(name: str, default: str) -> frozenset[int] | None:
    """A comma-separated list of TCP ports; "*" for any port (None)."""
    raw = os.environ.get(name, default).strip()
    if raw == "*":
        return None
    ports = set()
    for item in raw.split(","):
        if not item.strip().isdecimal() or not 1 <= int(item) <= 65535:
            raise ImproperlyConfigured(f"{name} must list TCP ports or be *, got {raw!r}")
        ports.add(int(item))
    return frozenset(ports)
