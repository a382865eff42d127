"""Liveness and readiness: ``/healthz`` (the process answers) and ``/readyz``
(Kafka and PostgreSQL reachable), shared by both API sides. The checks are
infra.readiness's, which the consumers' ops endpoint runs too."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from http_edge.problems import problem
from infra.readiness import Check, KafkaCheck, postgres_check, run_checks

__all__ = ["Check", "KafkaCheck", "postgres_check", "router", "run_checks"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Kafka and PostgreSQL are reachable",
    responses={503: {"description": "A dependency is down; `detail` names it."}},
)
async def readyz(request: Request) -> Any:
    checks: dict[str, Check] = getattr(request.app.state, "readiness_checks", {})
    results = await run_checks(checks)
    down = {name: why for name, why in results.items() if why != "ok"}
    if down:
        names = ", ".join(sorted(down))
        return problem(503, f"Not ready: {names} unreachable.", checks=results)
    return JSONResponse({"status": "ready", "checks": results})
