"""One analysis from request to outcome: run the stages its media type and
options call for, emitting started, a progressed event per stage, and exactly
one completed or failed event."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from events import (
    AnalysisCompleted,
    AnalysisEvent,
    AnalysisFailed,
    AnalysisProgressed,
    AnalysisRequested,
    AnalysisStarted,
)
from processors.address_policy import Network
from processors.errors import StageError
from processors.fetch import fetch_media
from processors.probe import probe_media

log = logging.getLogger(__name__)

Emit = Callable[[AnalysisEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    processor_id: str
    work_dir: Path
    allowed_networks: tuple[Network, ...]
    max_bytes: int
    fetch_timeout_seconds: float
    probe_timeout_seconds: float = 60


async def run_analysis(
    request: AnalysisRequested, emit: Emit, config: PipelineConfig, *, attempt: int = 1
) -> None:
    """Analyse ``request``; every outcome, success or failure, becomes an event."""
    analysis_id = request.analysis_id
    await emit(
        AnalysisStarted(analysis_id=analysis_id, processor=config.processor_id, attempt=attempt)
    )
    workdir = config.work_dir / str(analysis_id)
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"stages": {}}
    stage = "fetch"
    try:
        started = time.monotonic()
        fetched = await fetch_media(
            request.media_url,
            workdir / "media",
            allowed=config.allowed_networks,
            max_bytes=config.max_bytes,
            timeout_seconds=config.fetch_timeout_seconds,
        )
        results["stages"]["fetch"] = _stage(
            started,
            size=fetched.size,
            content_type=fetched.content_type,
            final_url=fetched.final_url,
        )
        await emit(_progressed(analysis_id, "fetch", 40))

        stage = "probe"
        started = time.monotonic()
        probe = await probe_media(fetched.path, timeout_seconds=config.probe_timeout_seconds)
        results["probe"] = probe
        results["stages"]["probe"] = _stage(started)
        await emit(_progressed(analysis_id, "probe", 90))
    except StageError as exc:
        log.info("analysis %s failed at %s: %s", analysis_id, stage, exc)
        await emit(_progressed(analysis_id, stage, None, failed=str(exc)))
        await emit(
            AnalysisFailed(
                analysis_id=analysis_id,
                error_code=exc.code,
                error_message=str(exc),
                retryable=exc.retryable,
                stage=stage,
            )
        )
        return
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    await emit(AnalysisCompleted(analysis_id=analysis_id, results=results))


def _stage(started: float, **output: Any) -> dict[str, Any]:
    return {
        "status": "completed",
        "duration_seconds": round(time.monotonic() - started, 3),
        **output,
    }


def _progressed(
    analysis_id: Any, stage: str, progress: int | None, *, failed: str | None = None
) -> AnalysisProgressed:
    return AnalysisProgressed(
        analysis_id=analysis_id,
        stage=stage,
        stage_status="failed" if failed else "completed",
        progress=progress or 0,
        detail=failed,
    )
