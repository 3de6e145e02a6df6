"""providers.hosts.assert_host_allowed: tenant SMTP hosts may not point inside our network.

Only literal addresses and "localhost" (from /etc/hosts) are resolved here: getaddrinfo on a
literal never touches the network, and nothing in this module connects anywhere.
"""

import pytest

from providers.hosts import HostNotAllowedError, assert_host_allowed

REFUSED = [
    pytest.param("127.0.0.1", id="ipv4-loopback"),
    pytest.param("127.1", id="ipv4-loopback-short-form"),
    pytest.param("2130706433", id="ipv4-loopback-as-integer"),
    pytest.param("0.0.0.0", id="unspecified"),
    pytest.param("10.1.2.3", id="private-10"),
    pytest.param("172.16.0.1", id="private-172"),
    pytest.param("192.168.0.1", id="private-192"),
    pytest.param("100.64.0.1", id="carrier-grade-nat"),
    pytest.param("169.254.169.254", id="link-local-cloud-metadata"),
    pytest.param("224.0.0.1", id="ipv4-multicast"),
    pytest.param("::1", id="ipv6-loopback"),
    pytest.param("::ffff:127.0.0.1", id="ipv4-mapped-ipv6-loopback"),
    pytest.param("::ffff:10.1.2.3", id="ipv4-mapped-ipv6-private"),
    pytest.param("fe80::1", id="ipv6-link-local"),
    pytest.param("fc00::1", id="ipv6-unique-local"),
    pytest.param("ff02::1", id="ipv6-multicast"),
    pytest.param("localhost", id="localhost-name"),
]

ALLOWED = [
    pytest.param("93.184.216.34", id="public-ipv4"),
    pytest.param("8.8.8.8", id="public-ipv4-dns"),
    pytest.param("2606:4700:4700::1111", id="public-ipv6"),
]


@pytest.fixture
def strict(settings):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = False
    return settings


@pytest.mark.parametrize("host", REFUSED)
def test_assert_host_allowed_refuses_private_and_reserved_addresses(strict, host):
    with pytest.raises(HostNotAllowedError, match="private or reserved address"):
        assert_host_allowed(host, 587)


@pytest.mark.parametrize("host", ALLOWED)
def test_assert_host_allowed_accepts_public_addresses(strict, host):
    assert_host_allowed(host, 587)


def test_refusal_names_the_host_and_the_blocked_address(strict):
    with pytest.raises(HostNotAllowedError) as excinfo:
        assert_host_allowed("localhost", 25)

    assert "'localhost'" in str(excinfo.value)
    assert "127.0.0.1" in str(excinfo.value)


def test_assert_host_allowed_refuses_a_name_that_is_not_a_valid_host_name(strict):
    with pytest.raises(HostNotAllowedError, match="not a valid host name"):
        assert_host_allowed("x" * 64 + ".example", 25)


@pytest.mark.parametrize("host", [*REFUSED, *ALLOWED, "x" * 64 + ".example"])
def test_assert_host_allowed_allows_everything_when_private_hosts_are_allowed(settings, host):
    settings.MAILPASS_ALLOW_PRIVATE_SMTP_HOSTS = True

    assert_host_allowed(host, 25)
