"""The analysis id in URL paths, shared by both API sides: documented as a
UUID, and anything else answered with 400 (not FastAPI's 422)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import HTTPException, Path

AnalysisIdPath = Annotated[
    str,
    Path(
        description="The analysis id (a UUID); anything else answers 400.",
        json_schema_extra={"format": "uuid"},
        examples=["550e8400-e29b-41d4-a716-446655440000"],
    ),
]


ANALYSIS_ID_PARAMETER = {
    "name": "analysis_id",
    "in": "path",
    "required": True,
    "description": "The analysis id (a UUID); anything else answers 400.",
    "schema": {
        "type": "string",
        "format": "uuid",
        "title": "Analysis Id",
        "description": "The analysis id (a UUID); anything else answers 400.",
        "examples": ["550e8400-e29b-41d4-a716-446655440000"],
    },
}
"""``AnalysisIdPath`` as an OpenAPI parameter, for plain Starlette routes."""


def parse_analysis_id(value: str) -> UUID:
    """The id as a UUID, or a 400 problem naming what was sent."""
    try:
        return UUID(value)
    except ValueError:
        raise HTTPException(400, f"'{value}' is not a valid analysis id (UUID).") from None
