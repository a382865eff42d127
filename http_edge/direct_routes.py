"""The hot routes answered without FastAPI's router: an ASGI layer that
recognises them by method and path and calls their endpoints itself.

A profile of a status read in-process (BENCHMARKS.md, "Route costs") put more
than half of its CPU in Starlette's and FastAPI's layers between the last
middleware and the endpoint: matching the path against every route in turn,
the request and exception wrappers, and solving the route's (path parameter)
dependencies. The hot endpoints need none of that: they take the ``Request``
and parse it themselves (:mod:`http_edge.hot_path`). This layer calls
them directly and turns what they raise into the same answers FastAPI would,
with the app's own exception handlers. Everything else, and any request it
does not recognise exactly (another method, HEAD, a trailing slash), goes on
to FastAPI unchanged; the routes stay declared there, so the OpenAPI document,
the route templates in the metrics and the answers do not change.

It refuses at start-up a route it could not call faithfully: one with
dependencies or parameters other than the ``Request`` and ``str`` path
parameters, because skipping FastAPI would skip them. A route that needs them
(the history listing: its tenant, its query parameters) can instead be given a
direct endpoint of its own, which takes the ``Request`` and must answer exactly
as the declared route does (its tests compare the two).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute, APIRouter
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[..., Awaitable[Response]]
Handler = Callable[[Request, Any], Response | Awaitable[Response]]


class DirectRoute:
    """One route template (``/static`` or ``/static/{name}``) and its endpoint:
    the route's own, or ``direct``, which answers for it."""

    def __init__(self, route: APIRoute, method: str, direct: Endpoint | None = None) -> None:
        template = route.path
        prefix, brace, rest = template.partition("{")
        if brace and (not rest.endswith("}") or "/" in rest or "{" in rest):
            raise ValueError(f"{template}: only one trailing path parameter is supported")
        self.route = route
        self.method = method
        self.prefix = prefix
        self.parameter = rest[:-1] if brace else None
        if direct is None:
            _check_callable_directly(route, self.parameter)
            self.endpoint: Endpoint = route.endpoint
        else:
            _check_direct_endpoint(route, direct, self.parameter)
            self.endpoint = direct

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when ``path`` is this route's, else None."""
        if self.parameter is None:
            return {} if path == self.prefix else None
        if not path.startswith(self.prefix):
            return None
        value = path[len(self.prefix) :]
        if not value or "/" in value:
            return None
        return {self.parameter: value}


def _check_callable_directly(route: APIRoute, parameter: str | None) -> None:
    """Refuse a route whose endpoint needs FastAPI to resolve anything but
    ``request`` and an unconstrained ``str`` path parameter (read from FastAPI's
    own analysis of the signature)."""
    needs = route.dependant
    if route.dependencies or needs.dependencies:
        raise ValueError(f"{route.path}: has dependencies, FastAPI must answer it")
    if needs.query_params or needs.header_params or needs.cookie_params or needs.body_params:
        raise ValueError(f"{route.path}: has parameters for FastAPI to parse")
    if needs.request_param_name != "request" or any(
        (
            needs.websocket_param_name,
            needs.http_connection_param_name,
            needs.response_param_name,
            needs.background_tasks_param_name,
            needs.security_scopes_param_name,
        )
    ):
        raise ValueError(f"{route.path}: the endpoint must take only `request` and the path")
    for field in needs.path_params:
        info = field.field_info
        if field.name != parameter or info.annotation is not str or info.metadata:
            raise ValueError(f"{route.path}: path parameter {field.name!r} needs validating")
    if not inspect.iscoroutinefunction(route.endpoint):
        raise ValueError(f"{route.path}: the endpoint must be a coroutine function")


def _check_direct_endpoint(route: APIRoute, direct: Endpoint, parameter: str | None) -> None:
    """A direct endpoint takes ``request`` and the path parameter, nothing else."""
    names = list(inspect.signature(direct).parameters)
    if names != ["request", *([parameter] if parameter else [])]:
        raise ValueError(f"{route.path}: a direct endpoint takes `request` and the path only")
    if not inspect.iscoroutinefunction(direct):
        raise ValueError(f"{route.path}: the direct endpoint must be a coroutine function")


class DirectRoutes:
    """ASGI middleware answering ``routes`` (method, template) of ``routers`` itself.

    ``owner`` is the app: its exception handlers answer what the endpoints raise.
    Add it innermost of the app's own middleware, so those still apply, and
    include ``routers`` in the app without dependencies of their own: their
    routes are read here as declared (FastAPI keeps its included copies private).
    ``routes`` are (method, template) or (method, template, direct endpoint).
    """

    def __init__(
        self,
        app: ASGIApp,
        owner: FastAPI,
        routers: Iterable[APIRouter],
        routes: Iterable[tuple[str, str] | tuple[str, str, Endpoint]],
    ) -> None:
        self._app = app
        self._owner = owner
        declared = {
            (method, route.path): route
            for router in routers
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in route.methods or ()
        }
        self._routes: dict[str, list[DirectRoute]] = {}
        for method, template, *direct in routes:
            if (method, template) not in declared:
                raise ValueError(f"{method} {template}: not a route of the routers given")
            self._routes.setdefault(method, []).append(
                DirectRoute(declared[(method, template)], method, *direct)
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for direct in self._routes.get(scope["method"], ()):
                params = direct.match(_route_path(scope))
                if params is not None:
                    await self._answer(direct, params, scope, receive, send)
                    return
        await self._app(scope, receive, send)

    async def _answer(
        self,
        direct: DirectRoute,
        params: dict[str, str],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        # What Starlette's router records, read by the metrics and by the endpoint.
        scope["route"] = direct.route
        scope["endpoint"] = direct.route.endpoint
        scope["path_params"] = params
        request = Request(scope, receive, send)
        try:
            response = await direct.endpoint(request=request, **params)
            if not isinstance(response, Response):
                # FastAPI would serialise it through the response model; these
                # endpoints promise a finished Response instead.
                raise TypeError(f"{direct.route.path}: the endpoint returned no Response")
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise  # to ServerErrorMiddleware's 500, as from FastAPI's router
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Handler | None:
        """The app's handler for ``exc``, as Starlette's ExceptionMiddleware picks
        it (by status code, then by class, most specific first); the catch-all
        ``Exception`` handler is left to ServerErrorMiddleware, which also logs and
        answers 500."""
        handlers = self._owner.exception_handlers
        if isinstance(exc, HTTPException) and exc.status_code in handlers:
            return handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            if cls in handlers:
                return handlers[cls]
        return None


def _route_path(scope: Scope) -> str:
    """The path without the app's mount point, as Starlette's router matches it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
