"""The operations endpoint of a consumer process (processor, projector, notifier):
``/metrics`` (Prometheus), ``/healthz`` (the process answers) and ``/readyz``
(its checks pass) on a port of its own.

A service's composition root adds its readiness checks and the refreshes its
gauges need before a scrape to an :class:`OpsEndpoints`; the entry point then
serves it with :func:`serve_ops`, or hands it to the HTTP API's app when one
process runs everything (``media-analysis all``). It lives in ``infra`` rather
than ``http_edge`` because the consumers may not import the HTTP edge: this is
three plain Starlette routes, with none of the APIs' auth, limits or problems.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from infra import pool_metrics
from infra.readiness import Check, run_checks

if TYPE_CHECKING:
    from starlette.applications import Starlette

# Starlette and uvicorn are imported when an endpoint is served: a consumer
# without an ops port, or an admin command, loads neither.

log = logging.getLogger(__name__)

ScrapeHook = Callable[[], Awaitable[None]]
"""Refreshes gauges that are read on demand (consumer lag) before a scrape."""

SCRAPE_HOOK_TIMEOUT_SECONDS = 2.0


@dataclass
class OpsEndpoints:
    """What a process's ``/readyz`` checks and what its ``/metrics`` refreshes first."""

    checks: dict[str, Check] = field(default_factory=dict)
    scrape_hooks: list[ScrapeHook] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def add_check(self, name: str, check: Check) -> None:
        if name in self.checks:
            raise ValueError(f"a readiness check named {name!r} exists already")
        self.checks[name] = check

    def on_scrape(self, hook: ScrapeHook) -> None:
        self.scrape_hooks.append(hook)

    def on_close(self, close: Callable[[], Awaitable[None]]) -> None:
        """Release what a check holds (a Kafka admin client) when serving ends."""
        self.closers.append(close)

    def include(self, prefix: str, other: OpsEndpoints) -> None:
        """Add ``other``'s checks (named ``prefix.name``) and hooks: several
        services in one process (``media-analysis all``) answer on one endpoint."""
        for name, check in other.checks.items():
            self.add_check(f"{prefix}.{name}", check)
        self.scrape_hooks.extend(other.scrape_hooks)
        self.closers.extend(other.closers)

    async def close(self) -> None:
        for close in self.closers:
            await close()

    async def before_scrape(self) -> None:
        """Run every hook; one that fails leaves its gauges as they were."""
        pool_metrics.sample()
        for hook in self.scrape_hooks:
            try:
                await asyncio.wait_for(hook(), SCRAPE_HOOK_TIMEOUT_SECONDS)
            except Exception as exc:  # a scrape must answer; the stale gauge stays
                log.warning("metrics not refreshed: %r", exc)


async def readiness(checks: dict[str, Check]) -> tuple[int, dict[str, object]]:
    """The status and body of ``/readyz``: 200 when every check passes, else 503
    with a problem document naming the failed checks."""
    results = await run_checks(checks)
    down = sorted(name for name, why in results.items() if why != "ok")
    if not down:
        return 200, {"status": "ready", "checks": results}
    return 503, {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": f"Not ready: {', '.join(down)}.",
        "checks": results,
    }


def ops_app(endpoints: OpsEndpoints) -> Starlette:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        status, body = await readiness(endpoints.checks)
        media_type = "application/json" if status == 200 else "application/problem+json"
        return JSONResponse(body, status_code=status, media_type=media_type)

    async def metrics(request: Request) -> Response:
        await endpoints.before_scrape()
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )


@contextlib.asynccontextmanager
async def serve_ops(endpoints: OpsEndpoints, host: str, port: int) -> AsyncIterator[None]:
    """Serve ``endpoints`` on ``host:port`` inside the block; raises OSError when
    the port cannot be bound."""
    import uvicorn

    class EmbeddedServer(uvicorn.Server):
        """uvicorn on the process's loop; the entry point keeps the signal handlers."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        ops_app(endpoints),
        host=host,
        port=port,
        log_config=None,
        access_log=False,  # scrapes and probes every few seconds are not news
        lifespan="off",
    )
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve(), name="ops-endpoint")
    while not server.started:
        if task.done():
            task.result()  # uvicorn logged why; a bind failure exits the task
            raise OSError(f"cannot serve the ops endpoint on {host}:{port}")
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        await task
        await endpoints.close()
