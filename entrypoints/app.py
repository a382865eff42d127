"""The HTTP app on one base URL: command and query routes side by side.

The two sides stay separate packages with separate lifespans; this module only
composes them (``media-analysis api``). ``command-api`` and ``query-api`` run
either side alone, for deployments that scale them apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Literal

from fastapi import FastAPI

from command_api.bootstrap import command_lifespan
from command_api.routes import router as command_router
from command_api.schemas import AnalyzeRequest
from http_edge import health, hot_path, metrics, problems
from http_edge.auth import AUTH_RESPONSES, auth_lifespan
from http_edge.direct_routes import DirectRoutes, Endpoint
from http_edge.load_shedding import InFlightLimit
from infra.heap import tune_collector
from infra.settings import Settings, configure_logging
from query_api.artifacts import artifact_router
from query_api.audit import router as audit_router
from query_api.bootstrap import query_lifespan
from query_api.contract import router as contract_router
from query_api.routes import history_direct
from query_api.routes import router as query_router

Side = Literal["command", "query"]

HOT_ROUTES: dict[Side, tuple[tuple[str, str] | tuple[str, str, Endpoint], ...]] = {
    "command": (("POST", "/api/media/analyze"),),
    "query": (
        ("GET", "/api/media/status/{analysis_id}"),
        ("GET", "/api/media/history", history_direct),
    ),
}
"""Answered by :class:`DirectRoutes`, past FastAPI's router, on each side (the
history by its direct endpoint)."""


def build_app(settings: Settings, sides: tuple[Side, ...] = ("command", "query")) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.readiness_checks = {}
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(auth_lifespan(app, settings))
            if "command" in sides:
                await stack.enter_async_context(command_lifespan(app, settings))
            if "query" in sides:
                await stack.enter_async_context(query_lifespan(app, settings))
            await stack.enter_async_context(metrics.metrics_lifespan(app, settings))
            tune_collector()
            yield

    app = FastAPI(
        title="Media Analysis API",
        version="0.1.0",
        description=(
            "Submit media with a prompt, poll its analysis, list history. Writes are "
            "recorded as events in Kafka; reads come from the PostgreSQL projection."
        ),
        lifespan=lifespan,
        # Our own Prometheus metrics cover requests; FastAPI's OpenTelemetry hooks
        # otherwise probe for a provider on every request (seen in the API profile).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    problems.install(app)
    hot_path.document_bodies(app, [AnalyzeRequest] if "command" in sides else [])
    # Innermost, so the body limit, the in-flight cap and the metrics still apply.
    app.add_middleware(
        DirectRoutes,
        owner=app,
        routers=[{"command": command_router, "query": query_router}[side] for side in sides],
        routes=[route for side in sides for route in HOT_ROUTES[side]],
    )
    app.add_middleware(problems.BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    if settings.api_max_in_flight:
        # Inside the metrics middleware, so shed requests are counted as 503s.
        app.add_middleware(InFlightLimit, limit=settings.api_max_in_flight)
    app.add_middleware(metrics.RequestMetrics)
    # The hot routes first: a request is matched against the routes in order, and
    # in FastAPI 0.16x each route tried costs several microseconds.
    # No dependencies on these two includes: DirectRoutes answers their hot routes
    # as declared.
    if "query" in sides:
        app.include_router(query_router, responses=AUTH_RESPONSES)
    if "command" in sides:
        app.include_router(command_router, responses=AUTH_RESPONSES)
    app.include_router(health.router)
    app.include_router(metrics.router)
    if "query" in sides:
        app.include_router(artifact_router(settings), responses=AUTH_RESPONSES)
        app.include_router(audit_router, responses=AUTH_RESPONSES)
        app.include_router(contract_router)  # the public event contract stays open
    return app


def _from_environment(sides: tuple[Side, ...]) -> FastAPI:
    settings = Settings()
    configure_logging(settings)
    return build_app(settings, sides)


def api_app() -> FastAPI:
    """App factory of one API worker (``API_WORKERS`` > 1): both sides."""
    return _from_environment(("command", "query"))


def command_api_app() -> FastAPI:
    """App factory of one command-side worker."""
    return _from_environment(("command",))


def query_api_app() -> FastAPI:
    """App factory of one query-side worker."""
    return _from_environment(("query",))


FACTORIES: dict[tuple[Side, ...], str] = {
    ("command", "query"): "entrypoints.app:api_app",
    ("command",): "entrypoints.app:command_api_app",
    ("query",): "entrypoints.app:query_api_app",
}
"""Import strings of the factories, for uvicorn's worker processes."""
