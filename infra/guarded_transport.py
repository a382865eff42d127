"""httpx's transport on a network backend that resolves every host itself and
connects only to the addresses the policy allows (``infra.address_policy``),
so neither a redirect nor DNS re-binding can reach inside."""

from __future__ import annotations

import functools
import socket
import ssl
import typing
from collections.abc import Sequence

import anyio
import httpcore
import httpx

from infra.address_policy import Network, refusal_reason


class AddressRefused(httpcore.ConnectError):
    """Raised inside httpcore; the media fetcher and the notifier map it to their own refusal."""


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
                raise AddressRefused(f"{host} resolves to {reason}")
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
        raise AddressRefused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every download.

    Building one loads the CA bundle, which is costly; once per process is enough.
    """
    return httpx.create_ssl_context()


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on the guarded backend.

    httpx does not expose httpcore's ``network_backend``; the pool is rebuilt
    with it (tests prove the refusal end to end)."""

    def __init__(self, allowed: Sequence[Network], max_connections: int = 10) -> None:
        context = _ssl_context()
        super().__init__(verify=context, retries=0)
        # httpcore's default is 10 connections; the notifier asks for one per send slot.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            http1=True,
            http2=False,
            network_backend=GuardedNetworkBackend(allowed),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
        )
