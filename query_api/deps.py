"""Dependencies of the query side's FastAPI routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from http_edge.auth import Tenant
from query_api.bootstrap import QueryContext


async def get_context(request: Request) -> QueryContext:
    # async: FastAPI runs a plain `def` dependency in a worker thread.
    context: QueryContext = request.app.state.query
    return context


ContextDep = Annotated[QueryContext, Depends(get_context)]
"""The query side's pools and catch-up, built by its lifespan."""

__all__ = ["ContextDep", "Tenant"]
