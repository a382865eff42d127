"""Download the media to a local file: streamed, bounded in size and time, and
only from addresses the policy allows (checked on every connection, so
redirects and DNS re-binding cannot reach inside)."""

from __future__ import annotations

import http.cookiejar
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx

from infra.address_policy import Network
from infra.guarded_transport import AddressRefused, GuardedTransport
from processors.errors import (
    FetchError,
    FetchHTTPError,
    FetchRefused,
    FetchTimeout,
    FetchTooLarge,
    FetchUnreachable,
)

MAX_REDIRECTS = 5
CHUNK = 64 * 1024
DRAINED_BODY_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    path: Path
    size: int
    content_type: str | None
    final_url: str
    seconds: float


def _parse(url: str, base: httpx.URL | None = None) -> httpx.URL:
    """The URL (relative to ``base`` for a redirect), or FetchRefused when malformed."""
    try:
        return base.join(url) if base is not None else httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchRefused(f"not a valid URL: {exc}") from exc


def _check_url(url: httpx.URL) -> None:
    if url.scheme not in ("http", "https"):
        raise FetchRefused(f"only http and https URLs are fetched, not {url.scheme}:")
    if url.userinfo:
        raise FetchRefused("URLs with credentials are not fetched")


class _RefuseCookies(http.cookiejar.DefaultCookiePolicy):
    """The client is shared by every analysis: a cookie one media host set must
    never go out with another analysis's download."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False


class MediaFetcher:
    """Downloads media through one HTTP client for the processor's life.

    Its connections stay open between downloads (httpx's pool, keep-alive), so a
    download does not pay for a new client, DNS lookup and handshake each time.
    Every new connection still
    passes the address policy; nothing else is shared between downloads (no
    cookies are kept). ``aclose`` closes the connections; a later download opens
    new ones.
    """

    def __init__(
        self, allowed: Sequence[Network], *, max_bytes: int, timeout_seconds: float
    ) -> None:
        self.allowed = tuple(allowed)
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self._client: httpx.AsyncClient | None = None

    async def fetch(self, url: str, destination: Path) -> FetchedMedia:
        """Download ``url`` to ``destination`` (its folder made when the media
        arrives) or raise a FetchError saying why."""
        started = time.monotonic()
        try:
            with anyio.fail_after(self.timeout_seconds):
                return await self._download(url, destination, started)
        except TimeoutError as exc:
            raise FetchTimeout(f"download took longer than {self.timeout_seconds:g}s") from exc

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=GuardedTransport(self.allowed),
                follow_redirects=False,
                trust_env=False,
                cookies=http.cookiejar.CookieJar(policy=_RefuseCookies()),
                timeout=httpx.Timeout(30.0),
                headers={"User-Agent": "media-analysis/0.1"},
            )
        return self._client

    async def _download(self, url: str, destination: Path, started: float) -> FetchedMedia:
        client = self._http()
        current = _parse(url)
        for _ in range(MAX_REDIRECTS + 1):
            _check_url(current)
            try:
                async with client.stream("GET", current) as response:
                    if response.is_redirect:
                        await _discard_small_body(response)
                        location = response.headers.get("location", "")
                        current = _parse(location, current)
                        continue
                    if response.status_code >= 400:
                        await _discard_small_body(response)
                        raise FetchHTTPError(
                            f"{current.host} answered HTTP {response.status_code}",
                            response.status_code,
                        )
                    return await self._save(response, current, destination, started)
            except httpx.TimeoutException as exc:
                raise FetchTimeout(f"{current.host} did not answer in time") from exc
            except httpx.TransportError as exc:
                if isinstance(exc.__cause__, AddressRefused):
                    raise FetchRefused(f"refused to fetch {current}: {exc.__cause__}") from exc
                reason = str(exc) or type(exc).__name__
                raise FetchUnreachable(f"cannot reach {current.host}: {reason}") from exc
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    async def _save(
        self, response: httpx.Response, url: httpx.URL, destination: Path, started: float
    ) -> FetchedMedia:
        declared = int(response.headers.get("content-length") or 0)
        if declared > self.max_bytes:
            raise FetchTooLarge(f"media is {declared} bytes, over {self.max_bytes}")
        size = 0
        # The folder is made only now: a request that fails before any media
        # arrives (a 404, a refusal) touches no disk.
        destination.parent.mkdir(parents=True, exist_ok=True)
        with destination.open("wb") as out:
            async for chunk in response.aiter_raw(CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise FetchTooLarge(f"media is over {self.max_bytes} bytes")
                out.write(chunk)
        return FetchedMedia(
            path=destination,
            size=size,
            content_type=response.headers.get("content-type"),
            final_url=str(url),
            seconds=time.monotonic() - started,
        )


async def _discard_small_body(response: httpx.Response) -> None:
    """Read a short error or redirect body to its end, so its connection can
    serve the next download; a long or unsized one is left, and its connection
    closes with the response."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) <= DRAINED_BODY_BYTES:
        await response.aread()


async def fetch_media(
    url: str,
    destination: Path,
    *,
    allowed: Sequence[Network],
    max_bytes: int,
    timeout_seconds: float,
) -> FetchedMedia:
    """One download on a fetcher of its own, closed after it."""
    fetcher = MediaFetcher(allowed, max_bytes=max_bytes, timeout_seconds=timeout_seconds)
    try:
        return await fetcher.fetch(url, destination)
    finally:
        await fetcher.aclose()
