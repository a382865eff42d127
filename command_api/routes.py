"""HTTP entrypoint of the command side; the only place that picks status codes."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from command_api import handlers
from command_api.analysis_lookup import ReadModelUnavailable
from command_api.bootstrap import CommandContext
from command_api.publisher import EventLogUnavailable
from command_api.schemas import ESTIMATED_SECONDS, AnalysisAccepted, AnalyzeRequest

router = APIRouter(prefix="/api/media", tags=["commands"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {"description": "Kafka or PostgreSQL unavailable; retry later."},
}


def get_context(request: Request) -> CommandContext:
    context: CommandContext = request.app.state.command
    return context


ContextDep = Annotated[CommandContext, Depends(get_context)]


def parse_id(analysis_id: str) -> UUID:
    try:
        return UUID(analysis_id)
    except ValueError:
        raise HTTPException(400, f"'{analysis_id}' is not a valid analysis id (UUID).") from None


@router.post(
    "/analyze",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AnalysisAccepted,
    summary="Submit media for analysis",
    responses={
        400: {"description": "Malformed JSON."},
        422: {"description": "Invalid field; `errors` names it."},
        **_ERRORS,
    },
)
async def analyze(body: AnalyzeRequest, response: Response, ctx: ContextDep) -> AnalysisAccepted:
    try:
        recorded = await handlers.request_analysis(body, ctx.publisher)
    except EventLogUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    await ctx.watermark.wait_applied(recorded.position, ctx.read_your_writes_timeout)
    status_url = f"/api/media/status/{recorded.analysis_id}"
    response.headers["Location"] = status_url
    return AnalysisAccepted(
        analysis_id=recorded.analysis_id,
        estimated_time=ESTIMATED_SECONDS[body.media_type],
        message=f"Analysis queued. Check status with {status_url}",
    )


@router.delete(
    "/{analysis_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an analysis and cancel its processing",
    responses={
        400: {"description": "Malformed UUID."},
        404: {"description": "Unknown analysis."},
        410: {"description": "Already deleted."},
        **_ERRORS,
    },
)
async def delete(analysis_id: str, ctx: ContextDep) -> Response:
    uid = parse_id(analysis_id)
    try:
        recorded = await handlers.delete_analysis(uid, ctx.lookup, ctx.publisher)
    except handlers.AnalysisNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except handlers.AnalysisAlreadyDeleted as exc:
        raise HTTPException(410, str(exc)) from exc
    except (EventLogUnavailable, ReadModelUnavailable) as exc:
        raise HTTPException(503, str(exc)) from exc
    await ctx.watermark.wait_applied(recorded.position, ctx.read_your_writes_timeout)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
