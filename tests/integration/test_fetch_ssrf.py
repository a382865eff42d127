"""The fetcher with the allow-list narrowed to 127.0.0.1/32, against real
listeners on other loopback addresses: refused, and nothing reaches them."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from processors.errors import FetchRefused
from processors.fetch import fetch_media
from tests.loopback import BehaviourServer, CountingListener, clip_host

ALLOWED = [ipaddress.ip_network("127.0.0.1/32")]


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BehaviourServer]:
    with clip_host(tmp_path_factory.mktemp("ssrf-host")) as server:
        yield server


@pytest.fixture
def listeners() -> Iterator[dict[str, CountingListener]]:
    made = {
        "127.0.0.2": CountingListener("127.0.0.2"),
        "::1": CountingListener("::1"),
        "127.0.0.1": CountingListener("127.0.0.1"),  # what 0.0.0.0 would reach
    }
    yield made
    for listener in made.values():
        listener.close()


def _targets(listeners: dict[str, CountingListener]) -> list[str]:
    return [
        listeners["127.0.0.2"].url(),
        listeners["::1"].url(),
        f"http://0.0.0.0:{listeners['127.0.0.1'].port}/a.mp4",
    ]


async def _fetch(url: str, tmp_path: Path) -> None:
    await fetch_media(
        url, tmp_path / "media", allowed=ALLOWED, max_bytes=10_000_000, timeout_seconds=10
    )


async def test_the_allowed_host_itself_is_fetched(host: BehaviourServer, tmp_path: Path) -> None:
    await _fetch(host.url("clip.mp4"), tmp_path)
    assert (tmp_path / "media").stat().st_size == host.clip.stat().st_size


async def test_other_loopback_addresses_are_refused_and_never_contacted(
    listeners: dict[str, CountingListener], tmp_path: Path
) -> None:
    for url in _targets(listeners):
        with pytest.raises(FetchRefused):
            await _fetch(url, tmp_path)
    assert {name: item.connections for name, item in listeners.items()} == {
        "127.0.0.2": 0,
        "::1": 0,
        "127.0.0.1": 0,
    }


async def test_a_redirect_from_the_allowed_host_to_them_is_refused(
    host: BehaviourServer, listeners: dict[str, CountingListener], tmp_path: Path
) -> None:
    for target in _targets(listeners):
        redirect = host.url(f"redirect?to={quote(target, safe='')}")
        with pytest.raises(FetchRefused):
            await _fetch(redirect, tmp_path)
    assert host.count("/redirect") == 3  # the allowed host was asked each time
    assert sum(item.connections for item in listeners.values()) == 0
