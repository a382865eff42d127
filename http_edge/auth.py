"""Access control for the HTTP API: who is calling, and may they, right now?

With ``API_AUTH_REQUIRED`` off (local use) every caller is anonymous and sees
everything, as before. With it on, every ``/api/media`` request needs an API key
(``Authorization: Bearer <key>`` or ``X-API-Key: <key>``); the key's tenant
scopes what the request can see and do, and a per-key token bucket answers 429
with ``Retry-After`` past ``API_RATE_LIMIT_PER_MINUTE``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from http_edge.api_keys import KeyResolver, KeyStoreUnavailable, key_hash
from http_edge.problems import problem_response
from http_edge.rate_limit import TokenBuckets
from infra.database import create_pool
from infra.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


@dataclass
class AccessControl:
    resolver: KeyResolver | None
    buckets: TokenBuckets | None


@asynccontextmanager
async def auth_lifespan(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    if not settings.api_auth_required:
        app.state.access = AccessControl(None, None)
        yield
        return
    pool = await create_pool(settings, max_size=2, name="api_keys")
    buckets = TokenBuckets(settings.api_rate_limit_per_minute)
    app.state.access = AccessControl(
        KeyResolver(pool, settings.api_key_cache_seconds),
        buckets if settings.api_rate_limit_per_minute else None,
    )
    try:
        yield
    finally:
        await pool.close()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def tenant_of(request: Request) -> UUID | None:
    """The caller's tenant; None when access control is off. Raises the 401, 429
    or 503 to answer. The plain routes call it directly (no dependency)."""
    access: AccessControl = request.app.state.access
    if access.resolver is None:
        return None
    key = _presented_key(request)
    if not key:
        raise _unauthorized("An API key is required: Authorization: Bearer <key> or X-API-Key.")
    try:
        tenant = await access.resolver.tenant_of(key)
    except KeyStoreUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    if tenant is None:
        raise _unauthorized("The API key is not valid (unknown or revoked).")
    if access.buckets is not None:
        wait = access.buckets.take(key_hash(key))
        if wait:
            retry = TokenBuckets.retry_after(wait)
            raise HTTPException(
                429,
                f"Rate limit of this API key exceeded; retry after {retry} s.",
                headers={"Retry-After": retry},
            )
    return tenant


def _presented_key(request: Request) -> str | None:
    """``Authorization: Bearer <key>`` first, else ``X-API-Key`` (as the schemes read them)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials
    return request.headers.get("x-api-key") or None


async def caller_tenant(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_header)],
) -> UUID | None:
    """The caller's tenant as a dependency (the two schemes document the API keys)."""
    return await tenant_of(request)


Tenant = Annotated[UUID | None, Depends(caller_tenant)]
"""Route parameter: the caller's tenant (None without access control)."""

AUTH_SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}, {"APIKeyHeader": []}]
"""OpenAPI ``security`` of the plain routes, which call :func:`tenant_of` themselves."""

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: problem_response(
        "No API key, or an unknown or revoked one (only with API_AUTH_REQUIRED).",
        "An API key is required: Authorization: Bearer <key> or X-API-Key.",
    ),
    429: problem_response(
        "The API key's rate limit is exceeded; see Retry-After.",
        "Rate limit of this API key exceeded; retry after 2 s.",
    ),
}
