"""RFC 9457 problem details for every HTTP error, on both API sides.

Validation errors name the field; malformed JSON, a body that is not an object
and a missing required field are 400, a field present but invalid 422 (PRD 5.1);
nothing answers with an HTML page or a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(status: int, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response with a human-readable ``detail``."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _is_malformed_json(errors: list[dict[str, Any]]) -> bool:
    return any(e.get("type") == "json_invalid" for e in errors)


def _is_malformed(error: dict[str, Any]) -> bool:
    """400 rather than 422 (PRD 5.1): the request's shape is wrong, not a field's value.
    A bad URL or header parameter, a required field (or the whole body) missing, or a
    body that is not a JSON object."""
    loc = tuple(error.get("loc", ()))
    return loc[:1] in (("query",), ("path",), ("header",)) or (
        loc[:1] == ("body",) and (error.get("type") == "missing" or loc == ("body",))
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if _is_malformed_json(errors):
        return problem(400, "Request body is not valid JSON.")
    # A malformed request is 400; a body field present but invalid is 422.
    status = 400 if any(_is_malformed(e) for e in errors) else 422
    fields = [
        {"field": _field_name(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in errors
    ]
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return problem(status, f"Invalid request: {detail}", errors=fields)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    response = problem(exc.status_code, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal error; it has been logged.")


def install(app: FastAPI) -> None:
    """Make every error of ``app`` a problem+json response."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            move_problems_to_problem_json(generate())
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the field, e.g. 'options.extract_frames'.")
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: every error the API answers has this shape."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "No analysis with id 550e8400-e29b-41d4-a716-446655440000.",
                }
            ]
        }
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str = Field(description="Human-readable explanation of this occurrence.")
    errors: list[FieldError] | None = Field(
        default=None, description="Validation errors, one per offending field."
    )
    checks: dict[str, str] | None = Field(
        default=None, description="Readiness: each dependency and 'ok' or why it failed."
    )


def problem_response(description: str, example_detail: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry for a problem+json answer with an example."""
    return {
        "model": ProblemDetails,
        "description": description,
        "content": {PROBLEM_JSON: {"example": {"detail": example_detail}}},
    }


def move_problems_to_problem_json(openapi: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents every response model under the route's media type
    (application/json); error bodies are application/problem+json, so move
    their schema there and complete the examples."""
    for path in openapi.get("paths", {}).values():
        for operation in path.values():
            for code, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if PROBLEM_JSON not in content:
                    continue
                moved = content.pop("application/json", {})
                target = content[PROBLEM_JSON]
                target.setdefault("schema", moved.get("schema", {}))
                example = target.get("example")
                if isinstance(example, dict) and code.isdigit():
                    status = int(code)
                    target["example"] = {
                        "type": "about:blank",
                        "title": _TITLES.get(status, "Error"),
                        "status": status,
                        **example,
                    }
    return openapi


class BodySizeLimit:
    """ASGI middleware: refuse request bodies larger than ``max_bytes`` with 413,
    before the application reads them (declared length or counted stream)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max:
            await self._too_large()(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self._max:
                    # An HTTPException passes the body parser and reaches the handlers.
                    raise StarletteHTTPException(413, self._detail)
            return message

        await self._app(scope, counted, send)

    @property
    def _detail(self) -> str:
        return f"Request body larger than {self._max} bytes."

    def _too_large(self) -> JSONResponse:
        return problem(413, self._detail)
