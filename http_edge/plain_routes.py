"""The busiest routes (POST analyze, GET status, GET history) as plain Starlette
routes beside FastAPI's, declared once with the models that validate them and
document them.

FastAPI solves a route's dependencies and parameters on every request, and for
these routes that cost more than their own work: twice the CPU of the route
with FastAPI taken away, past what the status and POST saturation goals allow
(docs/performance-notes.md). A :class:`PlainRoute` takes the ``Request``,
validates it with the same pydantic models FastAPI would use and raises
FastAPI's own ``RequestValidationError`` / ``HTTPException``, so the app's
problem+json handlers answer its errors. :func:`mount` puts the routes in
front of the app's router and adds their OpenAPI operations, generated from
those models, to the app's document. Every other route is plain FastAPI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import JsonSchemaMode
from starlette.routing import Match, Route
from starlette.types import Scope

from http_edge.problems import PROBLEM_JSON, ProblemDetails, move_problems_to_problem_json

M = TypeVar("M", bound=BaseModel)
JSON = "application/json"
SCHEMAS = "#/components/schemas/"

Endpoint = Callable[[Request], Awaitable[Response]]


class PlainRoute(Route):
    """A Starlette route with what its OpenAPI operation needs: the models of its
    body, query and answer, its path and header parameters and its documented
    error answers (``problem_response`` entries)."""

    def __init__(
        self,
        method: str,
        path: str,
        endpoint: Endpoint,
        *,
        summary: str,
        tags: Sequence[str],
        response_model: type[BaseModel],
        status_code: int = 200,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        parameters: Sequence[dict[str, Any]] = (),
        responses: dict[int | str, dict[str, Any]] | None = None,
        response_headers: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(path, endpoint, methods=[method], name=endpoint.__name__)
        self.method = method
        self.summary = summary
        self.tags = list(tags)
        self.response_model = response_model
        self.status_code = status_code
        self.body = body
        self.query = query
        self.parameters = list(parameters)
        self.responses = dict(responses or {})
        self.response_headers = dict(response_headers or {})

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match != Match.NONE:
            # FastAPI's router records only its own routes; the metrics read this.
            child_scope["route"] = self
        return match, child_scope


async def json_body(request: Request, model: type[M]) -> M:
    """The body validated as ``model``; errors located at ``("body", ...)`` as
    FastAPI locates them (``problems`` turns them into problem+json)."""
    raw = await request.body()
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required"}]
        )
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}]
        ) from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise HTTPException(400, "There was an error parsing the body") from exc
    return _validated(model, data, "body")


def query_model(request: Request, model: type[M]) -> M:
    """The query string validated as ``model``: the last value of each parameter,
    unknown parameters ignored, errors located at ``("query", field)``."""
    return _validated(model, dict(request.query_params), "query")


def _validated(model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": (where, *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc


def header(request: Request, name: str, *, max_length: int) -> str | None:
    """An optional header of 1 to ``max_length`` characters (400 otherwise)."""
    value = request.headers.get(name)
    if value is None or 1 <= len(value) <= max_length:
        return value
    error = (
        {"type": "string_too_short", "msg": "String should have at least 1 character"}
        if not value
        else {
            "type": "string_too_long",
            "msg": f"String should have at most {max_length} characters",
        }
    )
    raise RequestValidationError([{**error, "loc": ("header", name)}])


def json_response(
    body: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """``body`` serialised by pydantic."""
    return Response(
        body.model_dump_json(), status_code=status_code, headers=headers, media_type=JSON
    )


def mount(
    app: FastAPI,
    routes: Sequence[PlainRoute],
    *,
    responses: dict[int | str, dict[str, Any]] | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> None:
    """Put ``routes`` first in ``app``'s router and their operations in its OpenAPI
    document; ``responses`` and ``security`` apply to each (as FastAPI's
    ``include_router(..., responses=...)`` and security dependencies would)."""
    app.router.routes[:0] = routes
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for route in routes:
                operation = _operation(route, schemas, {**(responses or {}), **route.responses})
                if security:
                    operation["security"] = security
                document["paths"].setdefault(route.path, {})[route.method.lower()] = operation
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def _operation(
    route: PlainRoute, schemas: dict[str, Any], responses: dict[int | str, dict[str, Any]]
) -> dict[str, Any]:
    def ref(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, str]:
        schema = model.model_json_schema(ref_template=SCHEMAS + "{model}", mode=mode)
        schemas.update(schema.pop("$defs", {}))
        schemas.setdefault(model.__name__, schema)
        return {"$ref": SCHEMAS + model.__name__}

    parameters = [*route.parameters]
    if route.query is not None:
        query = route.query.model_json_schema(mode="validation")
        for name, schema in query["properties"].items():
            description = schema.get("description")
            parameters.append(
                {"name": name, "in": "query", "required": False, "schema": schema}
                | ({"description": description} if description else {})
            )
    answers: dict[str, Any] = {
        str(route.status_code): {
            "description": "Successful Response",
            "content": {JSON: {"schema": ref(route.response_model, "serialization")}},
        }
        | ({"headers": route.response_headers} if route.response_headers else {})
    }
    problem = ref(ProblemDetails, "serialization")
    for code, entry in sorted(responses.items(), key=lambda item: str(item[0])):
        answers[str(code)] = {
            "description": entry["description"],
            "content": {
                JSON: {"schema": problem},
                PROBLEM_JSON: dict(entry["content"][PROBLEM_JSON]),
            },
        }
    operation: dict[str, Any] = {
        "tags": route.tags,
        "summary": route.summary,
        "description": (route.endpoint.__doc__ or "").strip(),
        "operationId": re.sub(r"\W", "_", f"{route.name}{route.path}") + f"_{route.method.lower()}",
        "parameters": parameters,
        "responses": answers,
    }
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": ref(route.body, "validation")}},
        }
    if not parameters:
        del operation["parameters"]
    # The problem answers' schema under problem+json and their examples completed,
    # as for FastAPI's own routes.
    move_problems_to_problem_json({"paths": {route.path: {route.method.lower(): operation}}})
    return operation
