"""The probe stage: ffprobe the media, and resolve a declared ``unknown``
media type from the content (magic bytes, probe, Content-Type)."""

from __future__ import annotations

from typing import Any

from processors.probe import probe_media
from processors.sniff import document_kind, media_type_from_probe, read_head
from processors.stages.context import StageContext, StageSkipped


async def probe(ctx: StageContext) -> dict[str, Any]:
    """Probe summary: container, duration, bit rate, every stream."""
    declared = ctx.request.media_type
    if declared == "unknown":
        kind = document_kind(read_head(ctx.media), ctx.content_type)
        if kind is not None:
            ctx.media_type = "document"
            raise StageSkipped(f"the content is a {kind} document, which is not probed")
    elif declared == "document":
        raise StageSkipped("documents are not probed")
    ctx.probe = await probe_media(ctx.media, timeout_seconds=ctx.settings.timeout_seconds)
    if declared == "unknown":
        ctx.media_type = media_type_from_probe(ctx.probe)
    return ctx.probe
