"""One fetcher for many downloads: its connections are reused, and nothing else
passes from one download to the next."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from processors.errors import FetchHTTPError, FetchRefused
from processors.fetch import MediaFetcher
from tests.loopback import BehaviourServer, CountingListener, clip_host

ALLOWED = [ipaddress.ip_network("127.0.0.1/32")]


@pytest.fixture
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BehaviourServer]:
    with clip_host(tmp_path_factory.mktemp("reuse-host")) as server:
        yield server


@pytest.fixture
async def fetcher() -> MediaFetcher:
    return MediaFetcher(ALLOWED, max_bytes=10_000_000, timeout_seconds=10)


async def test_downloads_missing_files_and_redirects_share_one_connection(
    host: BehaviourServer, tmp_path: Path, fetcher: MediaFetcher
) -> None:
    try:
        await fetcher.fetch(host.url("clip.mp4"), tmp_path / "a" / "media")
        with pytest.raises(FetchHTTPError):
            await fetcher.fetch(host.url("missing.mp4"), tmp_path / "b" / "media")
        await fetcher.fetch(
            host.url(f"redirect?to={quote(host.url('clip.mp4'), safe='')}"),
            tmp_path / "c" / "media",
        )
    finally:
        await fetcher.aclose()
    assert (tmp_path / "c" / "media").read_bytes() == host.clip.read_bytes()
    assert host.count("/clip.mp4") == 2
    assert host.count("", "connection") == 1


async def test_after_closing_the_fetcher_downloads_again_on_a_new_connection(
    host: BehaviourServer, tmp_path: Path, fetcher: MediaFetcher
) -> None:
    await fetcher.fetch(host.url("clip.mp4"), tmp_path / "a" / "media")
    await fetcher.aclose()
    try:
        await fetcher.fetch(host.url("clip.mp4"), tmp_path / "b" / "media")
    finally:
        await fetcher.aclose()
    assert (tmp_path / "b" / "media").stat().st_size == host.clip.stat().st_size
    assert host.count("", "connection") == 2


async def test_a_cookie_set_for_one_download_is_never_sent_with_another(
    host: BehaviourServer, tmp_path: Path, fetcher: MediaFetcher
) -> None:
    try:
        with pytest.raises(FetchHTTPError):
            await fetcher.fetch(host.url("cookie"), tmp_path / "a" / "media")
        await fetcher.fetch(host.url("clip.mp4"), tmp_path / "b" / "media")
    finally:
        await fetcher.aclose()
    assert host.count("/clip.mp4") == 1
    assert host.count("/clip.mp4", "cookie") == 0


async def test_a_kept_connection_does_not_open_the_way_to_a_refused_address(
    host: BehaviourServer, tmp_path: Path, fetcher: MediaFetcher
) -> None:
    refused = CountingListener("127.0.0.2")
    try:
        await fetcher.fetch(host.url("clip.mp4"), tmp_path / "a" / "media")
        with pytest.raises(FetchRefused):
            await fetcher.fetch(refused.url(), tmp_path / "b" / "media")
        redirect = host.url(f"redirect?to={quote(refused.url(), safe='')}")
        with pytest.raises(FetchRefused):
            await fetcher.fetch(redirect, tmp_path / "c" / "media")
    finally:
        await fetcher.aclose()
        refused.close()
    assert refused.connections == 0
