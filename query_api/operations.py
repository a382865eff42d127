"""HTTP entrypoint of what operators watch: ``GET /api/operations``, readiness of
Kafka and PostgreSQL, the projector's lag per partition and the last
dead-lettered records, in one read-only answer (the console's Operations page).

It is tenant-blind: the lag is the whole log's and the dead-letter topic holds
every tenant's refused records, whose reasons may quote their content. So with
``API_AUTH_REQUIRED`` only keys of ``API_OPERATOR_TENANTS`` may read it; without
access control it is open, like ``/metrics``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from http_edge.auth import Tenant
from http_edge.health import run_checks
from http_edge.metrics import ProjectorLag
from http_edge.problems import problem_response
from infra.dead_letters import DeadLetter, DeadLettersUnavailable, last_dead_letters
from infra.kafka_security import kafka_connection
from infra.settings import Settings


class DeadLetterPublic(BaseModel):
    """One record a consumer refused, from its headers (never its value)."""

    dlq_partition: int
    dlq_offset: int
    time: datetime = Field(description="When it was dead-lettered.")
    type: str | None = Field(description="Its CloudEvents type, if it had one.")
    subject: str | None = Field(description="Its analysis id (`ce_subject`), if it had one.")
    reason: str
    topic: str | None
    partition: int | None
    offset: int | None
    consumer: str | None


class OperationsPublic(BaseModel):
    checks: dict[str, str] = Field(description="Each dependency: `ok` or why it is not.")
    ready: bool
    projector_lag: dict[str, int] | None = Field(
        description="Per partition of the event topic: events the projector has not applied."
    )
    projector_lag_error: str | None
    dead_letters: list[DeadLetterPublic] | None = Field(description="The newest first.")
    dead_letters_error: str | None


def _public(letter: DeadLetter) -> DeadLetterPublic:
    return DeadLetterPublic.model_validate(letter, from_attributes=True)


def operations_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["operations"])
    operators: frozenset[UUID] = frozenset(settings.api_operator_tenants)
    kafka = kafka_connection(settings)

    async def lag_of(request: Request) -> tuple[dict[str, int] | None, str | None]:
        lag: ProjectorLag | None = getattr(request.app.state, "projector_lag", None)
        if lag is None:
            return None, "not measured by this process"
        try:
            values = await lag.per_partition()
        except Exception as exc:  # shown to the operator beside the other answers
            return None, f"{type(exc).__name__}: {exc}"
        return {str(p): v for p, v in sorted(values.items())}, None

    async def letters(limit: int) -> tuple[list[DeadLetterPublic] | None, str | None]:
        try:
            found = await last_dead_letters(kafka, limit)
        except DeadLettersUnavailable as exc:
            return None, str(exc)
        return [_public(d) for d in found], None

    @router.get(
        "/operations",
        response_model=OperationsPublic,
        summary="Readiness, projector lag per partition and the last dead-lettered records",
        responses={
            400: problem_response(
                "Invalid parameter.", "Invalid request: limit: Input should be less than 101"
            ),
            403: problem_response(
                "Keys are required and the key's tenant is not an operator.",
                "Only operators' keys may read this (API_OPERATOR_TENANTS).",
            ),
        },
    )
    async def operations(
        request: Request,
        tenant: Tenant,
        limit: Annotated[int, Query(ge=1, le=100, description="Dead letters to show.")] = 20,
    ) -> OperationsPublic:
        if tenant is not None and tenant not in operators:
            raise HTTPException(403, "Only operators' keys may read this (API_OPERATOR_TENANTS).")
        checks, (lag, lag_error), (dead, dead_error) = await asyncio.gather(
            run_checks(getattr(request.app.state, "readiness_checks", {})),
            lag_of(request),
            letters(limit),
        )
        return OperationsPublic(
            checks=checks,
            ready=all(v == "ok" for v in checks.values()),
            projector_lag=lag,
            projector_lag_error=lag_error,
            dead_letters=dead,
            dead_letters_error=dead_error,
        )

    return router
