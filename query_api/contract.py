"""The event contract over HTTP, for teams that subscribe to the log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from events.contract import all_schemas, asyncapi_document

router = APIRouter(prefix="/api/events", tags=["event contract"])


@router.get("/asyncapi.json", summary="AsyncAPI 3.0 document of the events topic")
async def asyncapi() -> dict[str, Any]:
    return asyncapi_document()


@router.get("/schemas", summary="Names of the published event schemas")
async def schema_index() -> dict[str, list[str]]:
    return {"schemas": sorted(all_schemas())}


@router.get(
    "/schemas/{name}",
    summary="JSON Schema of one event type's data",
    responses={404: {"description": "No schema of that name."}},
)
async def schema(name: str) -> dict[str, Any]:
    schemas = all_schemas()
    if name not in schemas:
        raise HTTPException(404, f"No event schema named {name!r}; see /api/events/schemas.")
    return schemas[name]
