"""Prometheus metrics of the HTTP API: ``GET /metrics``.

- ``media_analysis_http_requests_total`` and ``..._duration_seconds``: per
  method, route template (never the raw path, so ids do not explode the label
  set) and status.
- ``media_analysis_events_produced_total``: events the command side recorded.
- ``media_analysis_projector_lag_events``: per partition, the log's end offset
  minus the projector's stored position (computed when scraped).

The same middleware writes the access log (``ACCESS_LOG``): method, route
template, status and duration of each request; never the query string or a
header, so no API key reaches the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra import pool_metrics
from infra.database import create_pool
from infra.kafka_security import kafka_connection
from infra.ops_server import OpsEndpoints
from infra.settings import Settings
from read_model.positions import LogEnds
from read_model.watermark import applied_positions

log = logging.getLogger(__name__)
access = logging.getLogger("http_edge.access")

REQUESTS = Counter(
    "media_analysis_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "media_analysis_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PRODUCED = Counter(
    "media_analysis_events_produced_total", "Events recorded in the log by this process.", ["type"]
)
# With several API workers, the worker answering a scrape computes the lag: the
# most recent value set is the one to show.
PROJECTOR_LAG = Gauge(
    "media_analysis_projector_lag_events",
    "Events in the log the projector has not applied yet.",
    ["partition"],
    multiprocess_mode="mostrecent",
)
PROJECTOR_LAG_KNOWN = Gauge(
    "media_analysis_projector_lag_known",
    "1 when the last scrape could compute the lag, else 0.",
    multiprocess_mode="mostrecent",
)

LAG_TIMEOUT_SECONDS = 2.0


class RequestMetrics:
    """ASGI middleware counting, timing and (``access_log``) logging every HTTP request."""

    def __init__(self, app: ASGIApp, access_log: bool = False) -> None:
        self._app = app
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, record_status)
        finally:
            took = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(took)
            if self._access_log:
                ms = round(took * 1000, 2)
                access.info(
                    "%s %s %s %sms",
                    method,
                    route,
                    status,
                    ms,
                    extra={"method": method, "route": route, "status": status, "duration_ms": ms},
                )


class ProjectorLag:
    """End offsets from Kafka minus positions from PostgreSQL, on demand."""

    def __init__(self, pool: asyncpg.Pool, ends: LogEnds) -> None:
        self._pool = pool
        self._ends = ends

    async def refresh(self) -> None:
        try:
            lag = await self.per_partition()
        except Exception as exc:  # a scrape must answer; the gauge says the lag is unknown
            log.warning("projector lag unknown: %s", exc)
            PROJECTOR_LAG_KNOWN.set(0)
            return
        for partition, behind in lag.items():
            PROJECTOR_LAG.labels(str(partition)).set(behind)
        PROJECTOR_LAG_KNOWN.set(1)

    async def per_partition(self) -> dict[int, int]:
        """The lag now, per partition (the operations endpoint shows it); raises
        when Kafka or PostgreSQL does not answer within the timeout."""
        try:
            return await asyncio.wait_for(self._lag(), LAG_TIMEOUT_SECONDS)
        except BaseException:
            await self._ends.close()
            raise

    async def _lag(self) -> dict[int, int]:
        ends = await self._ends.fetch()
        async with self._pool.acquire() as conn:
            applied = await applied_positions(conn)
        return {p: max(0, end - applied.get(p, 0)) for p, end in ends.items()}

    async def close(self) -> None:
        await self._ends.close()
        await self._pool.close()


def _registry(settings: Settings) -> CollectorRegistry:
    """This process's metrics, or with several API workers every worker's, summed
    from the files they share (prometheus-client's multiprocess mode)."""
    if not settings.prometheus_multiproc_dir:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=settings.prometheus_multiproc_dir)  # type: ignore[no-untyped-call]
    return registry


@asynccontextmanager
async def metrics_lifespan(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    lag = ProjectorLag(
        await create_pool(settings, max_size=1),
        LogEnds(kafka_connection(settings), request_timeout_ms=2000),
    )
    app.state.projector_lag = lag
    app.state.metrics_registry = _registry(settings)
    try:
        if settings.prometheus_multiproc_dir:
            async with pool_metrics.sampled_every_second():
                yield
        else:
            yield
    finally:
        await lag.close()


router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    lag: ProjectorLag | None = getattr(request.app.state, "projector_lag", None)
    if lag is not None:
        await lag.refresh()
    # The consumers' figures too when they run in this process (`media-analysis all`).
    ops: OpsEndpoints | None = getattr(request.app.state, "ops", None)
    if ops is not None:
        await ops.before_scrape()
    else:
        pool_metrics.sample()
    registry = getattr(request.app.state, "metrics_registry", REGISTRY)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
