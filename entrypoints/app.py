"""The HTTP app on one base URL: command and query routes side by side.

The two sides stay separate packages with separate lifespans; this module only
composes them (``media-analysis api``). ``command-api`` and ``query-api`` run
either side alone, for deployments that scale them apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI

from command_api.bootstrap import command_lifespan
from command_api.routes import ROUTES as COMMAND_ROUTES
from command_api.routes import router as command_router
from http_edge import health, metrics, plain_routes, problems
from http_edge.auth import AUTH_RESPONSES, AUTH_SECURITY, auth_lifespan
from http_edge.load_shedding import InFlightLimit
from infra import tracing
from infra.heap import tune_collector
from infra.ops_server import OpsEndpoints
from infra.settings import Settings, configure_logging
from query_api.artifacts import artifact_router
from query_api.audit import router as audit_router
from query_api.bootstrap import query_lifespan
from query_api.console import console_router
from query_api.contract import router as contract_router
from query_api.deliveries import router as deliveries_router
from query_api.operations import operations_router
from query_api.routes import ROUTES as QUERY_ROUTES
from query_api.routes import router as stream_router

Side = Literal["command", "query"]

_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    """Probes and scrapes make no spans: they say nothing about an analysis."""
    return scope.get("path") in _PROBES


def build_app(
    settings: Settings,
    sides: tuple[Side, ...] = ("command", "query"),
    ops: OpsEndpoints | None = None,
) -> FastAPI:
    """The HTTP app of ``sides``; with ``ops`` (the consumers of the same process,
    ``media-analysis all``), its /readyz and /metrics cover them too."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.readiness_checks = {}
        app.state.ops = ops
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(auth_lifespan(app, settings))
            if "command" in sides:
                await stack.enter_async_context(command_lifespan(app, settings))
            if "query" in sides:
                await stack.enter_async_context(query_lifespan(app, settings))
            await stack.enter_async_context(metrics.metrics_lifespan(app, settings))
            if ops is not None:
                app.state.readiness_checks.update(ops.checks)
                stack.push_async_callback(ops.close)
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
        # With tracing on (infra.tracing), FastAPI's own server span covers every
        # route, the plain ones included; the events a request records carry it.
        telemetry={
            "tracing": tracing.enabled(),
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "auto_configure": False,
            "exclude": _untraced,
        },
    )
    problems.install(app)
    app.add_middleware(problems.BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    if settings.api_max_in_flight:
        # Inside the metrics middleware, so shed requests are counted as 503s.
        app.add_middleware(InFlightLimit, limit=settings.api_max_in_flight)
    app.add_middleware(metrics.RequestMetrics, access_log=settings.access_log)
    # POST analyze, status and history as plain Starlette routes, first in the router.
    plain_routes.mount(
        app,
        [
            *(QUERY_ROUTES if "query" in sides else []),
            *(COMMAND_ROUTES if "command" in sides else []),
        ],
        responses=AUTH_RESPONSES,
        security=AUTH_SECURITY,
    )
    if "command" in sides:
        app.include_router(command_router, responses=AUTH_RESPONSES)
    app.include_router(health.router)
    app.include_router(metrics.router)
    if "query" in sides:
        app.include_router(artifact_router(settings), responses=AUTH_RESPONSES)
        app.include_router(audit_router, responses=AUTH_RESPONSES)
        app.include_router(stream_router, responses=AUTH_RESPONSES)
        app.include_router(deliveries_router, responses=AUTH_RESPONSES)
        app.include_router(contract_router)  # the public event contract stays open
        app.include_router(operations_router(settings), responses=AUTH_RESPONSES)
        # Last in the router: the console's pages are never matched before an API route.
        app.include_router(console_router())
    return app


def _from_environment(sides: tuple[Side, ...]) -> FastAPI:
    settings = Settings()
    configure_logging(settings, SERVICE_NAMES[sides])
    tracing.configure_tracing(settings, "api" if len(sides) == 2 else f"{sides[0]}-api")
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


SERVICE_NAMES: dict[tuple[Side, ...], str] = {
    ("command", "query"): "api",
    ("command",): "command-api",
    ("query",): "query-api",
}
"""The ``service`` of a worker's log records: the command that started it."""

FACTORIES: dict[tuple[Side, ...], str] = {
    ("command", "query"): "entrypoints.app:api_app",
    ("command",): "entrypoints.app:command_api_app",
    ("query",): "entrypoints.app:query_api_app",
}
"""Import strings of the factories, for uvicorn's worker processes."""
