"""RFC 9457 problem details for every HTTP error, on both API sides.

Validation errors name the field; malformed JSON is 400, invalid fields 422;
nothing answers with an HTML page or a stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if _is_malformed_json(errors):
        return problem(400, "Request body is not valid JSON.")
    # A bad query or path parameter is a malformed request (400); a bad body field is 422.
    in_url = any(e.get("loc", ("",))[0] in ("query", "path") for e in errors)
    status = 400 if in_url else 422
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
