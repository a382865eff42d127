"""HTTP entrypoint of the command side; the only place that picks status codes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from command_api import handlers
from command_api.bootstrap import CommandContext
from command_api.deps import ContextDep, Tenant
from command_api.idempotency import IdempotencyKeyReused
from command_api.publisher import EventLogUnavailable
from command_api.read_your_writes import wait_visible
from command_api.schemas import AnalysisAccepted, AnalyzeRequest
from http_edge.auth import tenant_of
from http_edge.ids import AnalysisIdPath, parse_analysis_id
from http_edge.plain_routes import PlainRoute, header, json_body, json_response
from http_edge.problems import problem_response
from read_model.errors import ReadModelUnavailable

router = APIRouter(prefix="/api/media", tags=["commands"])

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: problem_response(
        "Kafka or PostgreSQL unavailable; retry later.",
        "Kafka did not acknowledge the event within 5s",
    ),
}
_BAD_ID = problem_response("Malformed UUID.", "'12345' is not a valid analysis id (UUID).")


def require_json(content_type: str | None) -> None:
    """415 for a body declared as anything but JSON (a missing type is read as JSON)."""
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(
            415, f"Content-Type must be application/json, not '{media_type or content_type}'."
        )


IDEMPOTENCY_KEY = "Idempotency-Key"


async def analyze(request: Request) -> Response:
    """Record the request as an AnalysisRequested event; answers once Kafka has it."""
    ctx: CommandContext = request.app.state.command
    require_json(request.headers.get("content-type"))
    tenant = await tenant_of(request)
    idempotency_key = header(request, IDEMPOTENCY_KEY, max_length=255)
    body = await json_body(request, AnalyzeRequest)
    try:
        recorded = await handlers.request_analysis(
            body, ctx.publisher, ctx.idempotency, idempotency_key, tenant
        )
    except IdempotencyKeyReused as exc:
        raise HTTPException(409, str(exc)) from exc
    except (EventLogUnavailable, ReadModelUnavailable) as exc:
        raise HTTPException(503, str(exc)) from exc
    status_url = f"/api/media/status/{recorded.analysis_id}"
    headers = {"Location": status_url}
    # Acknowledged by Kafka is enough: a status read that finds nothing catches up
    # with the log before it answers 404 (read_model.positions).
    if recorded.position is None:
        headers["Idempotent-Replayed"] = "true"
        if not await wait_visible(ctx.lookup, recorded.analysis_id, ctx.read_your_writes_timeout):
            # As the Idempotency-Key draft has it: the first request is still in flight.
            raise HTTPException(
                409,
                f"The first request with Idempotency-Key '{idempotency_key}' is still being "
                "recorded; retry shortly.",
            )
    accepted = AnalysisAccepted(
        analysis_id=recorded.analysis_id,
        estimated_time=await ctx.estimator.seconds_for(body.media_type),
        message=f"Analysis queued. Check status with {status_url}",
    )
    return json_response(accepted, status.HTTP_202_ACCEPTED, headers)


ROUTES = [
    PlainRoute(
        "POST",
        "/api/media/analyze",
        analyze,
        summary="Submit media for analysis",
        tags=["commands"],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=AnalysisAccepted,
        body=AnalyzeRequest,
        parameters=[
            {
                "name": IDEMPOTENCY_KEY,
                "in": "header",
                "required": False,
                "description": "Any unique string (a UUID, say). A retry with the same key and "
                "body returns the same analysis; the same key with another body is refused "
                "with 409.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        ],
        response_headers={
            "Location": {
                "description": "The status URL of the analysis.",
                "schema": {"type": "string"},
            },
            "Idempotent-Replayed": {
                "description": "'true' when an earlier request with the same "
                "Idempotency-Key created this analysis.",
                "schema": {"type": "string"},
            },
        },
        responses={
            400: problem_response(
                "Malformed JSON, a body that is not a JSON object, or a missing required "
                "field; `errors` names the field.",
                "Invalid request: media_url: Field required",
            ),
            409: problem_response(
                "The Idempotency-Key was used before with a different body, or its first "
                "request is still being recorded.",
                "Idempotency-Key 'k1' was already used with a different request body "
                "(analysis 550e8400-e29b-41d4-a716-446655440000); use a new key for a new request.",
            ),
            413: problem_response(
                "Body larger than API_MAX_BODY_BYTES.", "Request body too large."
            ),
            415: problem_response(
                "Body is not JSON.", "Content-Type must be application/json, not 'text/plain'."
            ),
            422: problem_response(
                "A field present but invalid; `errors` names each one.",
                "Invalid request: media_type: Input should be 'video', 'audio', 'document', "
                "'image' or 'unknown'",
            ),
            **_UNAVAILABLE,
        },
    ),
]
"""The command side's busiest route, as a plain Starlette route (http_edge.plain_routes)."""


@router.delete(
    "/{analysis_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an analysis and cancel its processing",
    responses={
        400: _BAD_ID,
        404: problem_response(
            "Unknown analysis.", "No analysis with id 550e8400-e29b-41d4-a716-446655440000."
        ),
        410: problem_response(
            "Already deleted.",
            "Analysis 550e8400-e29b-41d4-a716-446655440000 has been deleted.",
        ),
        **_UNAVAILABLE,
    },
)
async def delete(analysis_id: AnalysisIdPath, ctx: ContextDep, tenant: Tenant) -> Response:
    """Record an AnalysisDeleted event; answers once the projection shows it deleted."""
    uid = parse_analysis_id(analysis_id)
    try:
        recorded = await handlers.delete_analysis(uid, ctx.lookup, ctx.publisher, tenant)
    except handlers.AnalysisNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except handlers.AnalysisAlreadyDeleted as exc:
        raise HTTPException(410, str(exc)) from exc
    except (EventLogUnavailable, ReadModelUnavailable) as exc:
        raise HTTPException(503, str(exc)) from exc
    if recorded.position is not None:
        # A status read finds the row either way, so only waiting here makes it 410.
        await ctx.watermark.wait_applied(
            recorded.position.partition, recorded.position.offset, ctx.read_your_writes_timeout
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
