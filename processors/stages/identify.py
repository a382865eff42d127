"""The probe stage: ffprobe the media, and resolve a declared ``unknown``
media type from the content (magic bytes, probe, Content-Type)."""

from __future__ import annotations

from typing import Any

from processors.errors import MediaTooLarge, MediaUndecodable
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
    ctx.probe = await probe_media(ctx.media, timeout_seconds=ctx.stage_timeout)
    check_limits(ctx.probe, ctx.settings.max_pixels, ctx.settings.max_duration_seconds)
    if declared == "unknown":
        ctx.media_type = media_type_from_probe(ctx.probe)
    return ctx.probe


def check_limits(probe: dict[str, Any], max_pixels: int, max_duration: float) -> None:
    """Refuse media whose header declares a picture or a duration too large to
    decode safely (a decompression bomb, a forged header): the probe only read
    the header; decoding is what would take the memory and the time."""
    duration = probe.get("duration") or 0
    if duration > max_duration:
        raise MediaTooLarge(
            f"the media declares {duration:.0f} s, more than MEDIA_MAX_DURATION_SECONDS "
            f"({max_duration:.0f} s)"
        )
    for stream in probe.get("streams", []):
        width, height = stream.get("width") or 0, stream.get("height") or 0
        if stream.get("type") == "video" and not (width and height):
            # ffprobe reports 0x0 for a header it refuses (over ~268 megapixels, or
            # malformed); no decoder will do better.
            raise MediaUndecodable("the picture declares no usable size (forged or malformed)")
        if width * height > max_pixels:
            raise MediaTooLarge(
                f"the picture is {width}x{height} ({width * height / 1e6:.0f} megapixels), "
                f"more than MEDIA_MAX_PIXELS ({max_pixels / 1e6:g} megapixels)"
            )
