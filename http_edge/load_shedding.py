"""Refuse work the process cannot finish in time instead of queueing it.

Past saturation an open-loop client keeps sending; every accepted request then
waits longer (for the event log, for read-your-writes) and holds its memory while
it waits, so latency and RSS grow without bound. A cap on requests in flight turns
that into a fast ``503`` with ``Retry-After``, which clients and load balancers
know how to handle, and keeps the requests already admitted fast.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from http_edge.problems import problem

ALWAYS_ADMITTED = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probes and scrapes must see an overloaded process as alive, not as down."""
STREAM_SUFFIX = "/stream"
"""Status streams last as long as their analysis: they have a cap of their own
(``STREAM_MAX_OPEN``) instead of holding in-flight slots."""


class InFlightLimit:
    """ASGI middleware: at most ``limit`` HTTP requests in progress at once.

    One event loop runs the process, so a plain counter is exact: nothing else
    touches it between the check and the increment.
    """

    def __init__(self, app: ASGIApp, limit: int, retry_after_seconds: int = 1) -> None:
        self._app = app
        self._limit = limit
        self._retry_after = str(retry_after_seconds)
        self.in_flight = 0
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] in ALWAYS_ADMITTED
            or scope["path"].endswith(STREAM_SUFFIX)
        ):
            await self._app(scope, receive, send)
            return
        if self.in_flight >= self._limit:
            self.shed += 1
            response = problem(
                503,
                f"The server is at its limit of {self._limit} requests in progress; "
                f"retry after {self._retry_after} s.",
            )
            response.headers["Retry-After"] = self._retry_after
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self._app(scope, receive, send)
        finally:
            self.in_flight -= 1
