"""An analysis's webhook deliveries with every attempt, and a client's retry.

The notifier owns the schedule (``notifier/``); a retry only makes the delivery
due now in its table (``read_model.webhooks``), which the notifier picks up:
no event is produced, the log is not the place for an operational nudge.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, HTTPException

from http_edge.auth import Tenant
from http_edge.ids import parse_analysis_id
from query_api import views
from query_api.deps import ContextDep
from query_api.routes import visible
from read_model.webhooks import DeliveriesPublic, deliveries_of, retry_now

router = APIRouter(prefix="/api/media", tags=["webhooks"])

_RESPONSES: dict[int | str, dict[str, str]] = {
    400: {"description": "Malformed UUID."},
    404: {"description": "Unknown analysis (or delivery)."},
    410: {"description": "The analysis was deleted."},
    503: {"description": "PostgreSQL unavailable."},
}


async def _visible(ctx: ContextDep, uid: UUID, tenant: UUID | None) -> None:
    """404/410 as the status endpoint answers them, for the caller's tenant."""
    await visible(ctx, uid, lambda: views.analysis_by_id(ctx.pool, uid, tenant))


@router.get(
    "/{analysis_id}/deliveries",
    response_model=DeliveriesPublic,
    summary="The analysis's webhook deliveries and every attempt",
    responses=_RESPONSES,
)
async def deliveries(analysis_id: str, ctx: ContextDep, tenant: Tenant) -> DeliveriesPublic:
    uid = parse_analysis_id(analysis_id)
    await _visible(ctx, uid, tenant)
    try:
        data = await deliveries_of(ctx.pool, uid)
    except views.ReadModelUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    return DeliveriesPublic(analysis_id=uid, data=data)


@router.post(
    "/{analysis_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    response_model=DeliveriesPublic,
    summary="Send a webhook again now (a failed one gets one more attempt)",
    responses=_RESPONSES,
)
async def retry(
    analysis_id: str, delivery_id: str, ctx: ContextDep, tenant: Tenant
) -> DeliveriesPublic:
    uid = parse_analysis_id(analysis_id)
    try:
        delivery = UUID(delivery_id)
    except ValueError as exc:
        raise HTTPException(400, f"{delivery_id!r} is not a valid delivery id (UUID).") from exc
    await _visible(ctx, uid, tenant)
    try:
        if not await retry_now(ctx.pool, uid, delivery):
            raise HTTPException(404, f"Analysis {uid} has no delivery {delivery}.")
        data = await deliveries_of(ctx.pool, uid)
    except views.ReadModelUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
    return DeliveriesPublic(analysis_id=uid, data=data)
