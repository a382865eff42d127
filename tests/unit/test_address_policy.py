"""The SSRF guard's address check, on the classic list of internal targets."""

from __future__ import annotations

import ipaddress

import pytest

from infra.address_policy import refusal_reason

REFUSED = [
    "127.0.0.1",
    "127.1.2.3",
    "0.0.0.0",
    "10.0.0.1",
    "172.16.5.4",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:169.254.169.254",
    "::ffff:192.168.0.1",
    "2002:a9fe:a9fe::1",  # 6to4 wrapping 169.254.169.254
    "2002:7f00:1::1",  # 6to4 wrapping 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
    "::127.0.0.1",
    "0.1.2.3",
    "10.255.255.255",
    "172.20.0.1",
    "100.127.255.254",
    "192.0.0.1",
    "198.18.0.1",
    "240.0.0.1",
    "2001:db8::1",
    "fdff:ffff::1",
]
ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "2606:4700:4700::1111",
    "172.32.0.1",  # just outside 172.16/12
    "100.128.0.1",  # just outside 100.64/10
    "2002:5db8:d822::1",  # 6to4 wrapping a public address
]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(address: str) -> None:
    assert refusal_reason(address) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_reason(address) is None


def test_the_operator_can_allow_a_network() -> None:
    loopback = [ipaddress.ip_network("127.0.0.0/8")]
    assert refusal_reason("127.0.0.1", loopback) is None
    assert refusal_reason("::ffff:127.0.0.1", loopback) is None
    assert refusal_reason("10.0.0.1", loopback) is not None
    narrow = [ipaddress.ip_network("127.0.0.1/32")]
    assert refusal_reason("127.0.0.2", narrow) is not None
