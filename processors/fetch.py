"""Download the media to a local file: streamed, bounded in size and time, and
only from addresses the policy allows (checked on every connection, so
redirects and DNS re-binding cannot reach inside)."""

from __future__ import annotations

import functools
import socket
import ssl
import time
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpcore
import httpx

from processors.address_policy import Network, refusal_reason
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


class _AddressRefused(httpcore.ConnectError):
    """Raised inside httpcore; mapped to FetchRefused by ``fetch_media``."""


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself and connects only to an allowed address."""

    def __init__(self, allowed: Sequence[Network]) -> None:
        self._allowed = tuple(allowed)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            reason = refusal_reason(address, self._allowed)
            if reason is not None:
                raise _AddressRefused(f"{host} resolves to {reason}")
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        return await self._inner.connect_tcp(
            addresses[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise _AddressRefused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every download.

    Building one loads the CA bundle: a profile of the processor showed two per
    download (httpx's own and ours) taking 63 % of its CPU.
    """
    return httpx.create_ssl_context()


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on the guarded backend.

    httpx does not expose httpcore's ``network_backend``; the pool is rebuilt
    with it (tests prove the refusal end to end)."""

    def __init__(self, allowed: Sequence[Network]) -> None:
        context = _ssl_context()
        super().__init__(verify=context, retries=0)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            http1=True,
            http2=False,
            network_backend=GuardedNetworkBackend(allowed),
        )


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


async def fetch_media(
    url: str,
    destination: Path,
    *,
    allowed: Sequence[Network],
    max_bytes: int,
    timeout_seconds: float,
) -> FetchedMedia:
    """Download ``url`` to ``destination`` (its folder made when the media
    arrives) or raise a FetchError saying why."""
    started = time.monotonic()
    try:
        with anyio.fail_after(timeout_seconds):
            return await _download(url, destination, allowed, max_bytes, started)
    except TimeoutError as exc:
        raise FetchTimeout(f"download took longer than {timeout_seconds:g}s") from exc


async def _download(
    url: str, destination: Path, allowed: Sequence[Network], max_bytes: int, started: float
) -> FetchedMedia:
    current = _parse(url)
    async with httpx.AsyncClient(
        transport=GuardedTransport(allowed),
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(30.0),
        headers={"User-Agent": "media-analysis/0.1"},
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            _check_url(current)
            try:
                async with client.stream("GET", current) as response:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        current = _parse(location, current)
                        continue
                    if response.status_code >= 400:
                        raise FetchHTTPError(
                            f"{current.host} answered HTTP {response.status_code}",
                            response.status_code,
                        )
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > max_bytes:
                        raise FetchTooLarge(f"media is {declared} bytes, over {max_bytes}")
                    size = 0
                    # The folder is made only now: a request that fails before
                    # any media arrives (a 404, a refusal) touches no disk.
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with destination.open("wb") as out:
                        async for chunk in response.aiter_raw(CHUNK):
                            size += len(chunk)
                            if size > max_bytes:
                                raise FetchTooLarge(f"media is over {max_bytes} bytes")
                            out.write(chunk)
                    return FetchedMedia(
                        path=destination,
                        size=size,
                        content_type=response.headers.get("content-type"),
                        final_url=str(current),
                        seconds=time.monotonic() - started,
                    )
            except httpx.TimeoutException as exc:
                raise FetchTimeout(f"{current.host} did not answer in time") from exc
            except httpx.TransportError as exc:
                if isinstance(exc.__cause__, _AddressRefused):
                    raise FetchRefused(f"refused to fetch {current}: {exc.__cause__}") from exc
                reason = str(exc) or type(exc).__name__
                raise FetchUnreachable(f"cannot reach {current.host}: {reason}") from exc
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")
