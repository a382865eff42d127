"""Request parsing and answers for the hot routes, without FastAPI's per-request
dependency machinery.

A profile of the API under load (BENCHMARKS.md) showed FastAPI 0.16x spending
more CPU solving a route's dependencies, reading its body and serialising its
response model than the route spent on its own work. The hot routes (POST
analyze, GET status, and the history listing as DirectRoutes calls it) therefore
take only the ``Request`` and use these helpers,
which give the same answers as FastAPI would: the same validation errors
(``RequestValidationError`` with the same locations, so ``problems`` turns them
into the same problem+json), the same 400 for unparseable bodies, and JSON
bodies serialised by pydantic. Their OpenAPI entries are declared explicitly
(``openapi_body``), so the documented contract does not change either.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

JSON = "application/json"


async def json_body(request: Request, model: type[M]) -> M:
    """The request body validated as ``model``, or the error FastAPI would raise."""
    raw = await request.body()
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}]
        ) from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise HTTPException(400, "There was an error parsing the body") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc


def query_model(request: Request, model: type[M]) -> M:
    """The query string validated as ``model``, or the error FastAPI raises for the
    same model declared as ``Annotated[model, Query()]``: each scalar field takes
    the parameter's last value, unknown parameters are ignored, and errors are
    located at ``("query", field)``."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc


def header(request: Request, name: str, *, max_length: int) -> str | None:
    """An optional header of 1 to ``max_length`` characters (400 otherwise)."""
    value = request.headers.get(name)
    if value is None:
        return None
    if not value:
        raise RequestValidationError(
            [
                {
                    "type": "string_too_short",
                    "loc": ("header", name),
                    "msg": "String should have at least 1 character",
                }
            ]
        )
    if len(value) > max_length:
        raise RequestValidationError(
            [
                {
                    "type": "string_too_long",
                    "loc": ("header", name),
                    "msg": f"String should have at most {max_length} characters",
                }
            ]
        )
    return value


def json_response(
    body: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """``body`` serialised by pydantic, as FastAPI's response model would be."""
    return Response(
        body.model_dump_json(), status_code=status_code, headers=headers, media_type=JSON
    )


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting ``model`` as the required JSON body (the schema
    itself is added to the components by :func:`document_bodies`)."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {JSON: {"schema": ref}}}}


def document_bodies(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Put the JSON Schemas of ``models`` (and of the models they use) in the
    OpenAPI components, where :func:`openapi_body` refers to them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
