"""HTTP entrypoint for artifact downloads (frames, contact sheets, thumbnails):
``GET /api/media/{id}/artifacts/{name}``. Reads the projection to answer 404
and 410 like the status route, then the bytes from the artifact store."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from http_edge.auth import Tenant
from http_edge.ids import parse_analysis_id
from infra.artifacts import (
    ArtifactStore,
    build_artifact_store,
    content_type_for,
    is_safe_name,
)
from infra.settings import Settings
from query_api import views
from query_api.deps import ContextDep


def build_artifact_router(store: ArtifactStore) -> APIRouter:
    router = APIRouter(prefix="/api/media", tags=["queries"])

    @router.get(
        "/{analysis_id}/artifacts/{name}",
        summary="Download one artifact of an analysis",
        response_class=Response,
        responses={
            200: {"content": {"image/jpeg": {}}, "description": "The artifact's bytes."},
            400: {"description": "Malformed UUID or artifact name."},
            404: {"description": "Unknown analysis or artifact."},
            410: {"description": "The analysis was deleted (its artifacts with it)."},
            503: {"description": "PostgreSQL unavailable."},
        },
    )
    async def artifact(analysis_id: str, name: str, ctx: ContextDep, tenant: Tenant) -> Response:
        uid = parse_analysis_id(analysis_id)
        if not is_safe_name(name):
            raise HTTPException(400, f"'{name}' is not a valid artifact name.")
        try:
            row = await views.analysis_by_id(ctx.pool, uid, tenant)
        except views.ReadModelUnavailable as exc:
            raise HTTPException(503, str(exc)) from exc
        if row is None:
            raise HTTPException(404, f"No analysis with id {uid}.")
        if row["status"] == "deleted":
            raise HTTPException(410, f"Analysis {uid} has been deleted.")
        content = await store.read(uid, name)
        if content is None:
            raise HTTPException(404, f"Analysis {uid} has no artifact named '{name}'.")
        return Response(
            content,
            media_type=content_type_for(name),
            headers={"Cache-Control": "private, max-age=3600"},
        )

    return router


def artifact_router(settings: Settings) -> APIRouter:
    """The download route over the local artifact directory (ARTIFACT_DIR)."""
    return build_artifact_router(build_artifact_store(settings))
