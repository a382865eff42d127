"""The fetcher refuses internal targets however the URL spells them, before any
connection: the checks run on the URL and on the resolved address."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from processors.errors import FetchRefused
from processors.fetch import fetch_media
from tests.conftest import free_port

PORT = free_port()  # nothing listens: a connection attempt would fail differently

LOOPBACK_SPELLINGS = [
    f"http://2130706433:{PORT}/a.mp4",  # decimal
    f"http://0x7f000001:{PORT}/a.mp4",  # hex
    f"http://0177.0.0.1:{PORT}/a.mp4",  # octal
    f"http://0x7f.1:{PORT}/a.mp4",  # mixed short form
    f"http://127.1:{PORT}/a.mp4",  # short form
    f"http://localhost:{PORT}/a.mp4",  # a name resolving to loopback
    f"http://[::1]:{PORT}/a.mp4",
    f"http://[::ffff:127.0.0.1]:{PORT}/a.mp4",  # IPv4-mapped IPv6
    f"http://[::ffff:7f00:1]:{PORT}/a.mp4",
    f"http://0.0.0.0:{PORT}/a.mp4",
    f"http://0:{PORT}/a.mp4",
    f"http://127.0.0.1#@example.com:{PORT}/a.mp4",  # fragment hides the real host
]

NOT_HTTP = [
    "file:///etc/passwd",
    "ftp://127.0.0.1/a.mp4",
    "gopher://127.0.0.1:70/_x",
    "data:video/mp4;base64,AAAA",
    "dict://127.0.0.1:11211/",
]

USERINFO_TRICKS = [
    f"http://example.com@127.0.0.1:{PORT}/a.mp4",
    f"http://user:pass@127.0.0.1:{PORT}/a.mp4",
    f"http://127.0.0.1:{PORT}@example.com/a.mp4",
]


async def _fetch(url: str, tmp_path: Path, allowed: str | None = None) -> None:
    networks = [ipaddress.ip_network(allowed)] if allowed else []
    await fetch_media(url, tmp_path / "media", allowed=networks, max_bytes=1024, timeout_seconds=5)


@pytest.mark.parametrize("url", LOOPBACK_SPELLINGS)
async def test_loopback_in_any_spelling_is_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(FetchRefused):
        await _fetch(url, tmp_path)


@pytest.mark.parametrize("url", NOT_HTTP)
async def test_only_http_and_https_are_fetched(url: str, tmp_path: Path) -> None:
    with pytest.raises(FetchRefused, match="only http and https"):
        await _fetch(url, tmp_path)


@pytest.mark.parametrize("url", USERINFO_TRICKS)
async def test_urls_with_credentials_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(FetchRefused, match="credentials"):
        await _fetch(url, tmp_path)


@pytest.mark.parametrize(
    "url",
    [f"http://127.0.0.2:{PORT}/a.mp4", f"http://[::1]:{PORT}/a.mp4", f"http://0.0.0.0:{PORT}/"],
)
async def test_a_narrow_allow_list_keeps_the_rest_of_loopback_out(url: str, tmp_path: Path) -> None:
    with pytest.raises(FetchRefused):
        await _fetch(url, tmp_path, allowed="127.0.0.1/32")
