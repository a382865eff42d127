"""One analysis from request to outcome: fetch, probe (resolving ``unknown``),
then the stages its media type and options call for (``stages.plan``). After
each stage an AnalysisProgressed (status, progress rising to 100), and
during a long stage one every ``progress_interval_seconds`` at most
(``stage_status`` running, the stage's own fraction done, the overall
progress between the stage's start and end), then exactly one
AnalysisCompleted or AnalysisFailed. Once the probe knows the media's
duration, the runtime's deadline is fitted to it (``fit_deadline``).

A stage ends completed, skipped (with the reason) or failed. A failure of an
essential stage (fetch, probe, document, image) or a retryable failure of any
stage (a provider's 429 or 5xx) fails the analysis, so the runtime can retry
it; another stage's permanent failure is recorded in ``results`` and the
analysis completes without that output. The ``results`` document is described
by ``processors/results.schema.json``.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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
from infra import tracing
from processors.errors import StageError
from processors.fetch import MediaFetcher
from processors.metrics import STAGE_DURATION
from processors.stages.context import Stage, StageContext, StageSettings, StageSkipped
from processors.stages.plan import PROBE, stages_after_probe

log = logging.getLogger(__name__)

Emit = Callable[[AnalysisEvent], Awaitable[None]]
FitDeadline = Callable[[float | None], None]
"""Fit the analysis's deadline to the media's duration in seconds."""

RESULTS_VERSION = 1
STAGE = "media_analysis.stage"
STAGE_STATUS = "media_analysis.stage.status"
FETCH_PROGRESS = 10
PROBE_PROGRESS = 20
STAGE_WEIGHTS = {"audio": 2, "transcript": 6}
"""Shares of the progress after the probe (others weigh 1), roughly as long as
the stages take, so ``progress`` moves with the time spent."""


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    processor_id: str
    work_dir: Path
    fetcher: MediaFetcher
    probe_timeout_seconds: float = 60
    stages: StageSettings = field(default_factory=StageSettings)
    progress_interval_seconds: float = 5


class _AnalysisFailed(Exception):
    def __init__(self, stage: str, error: StageError) -> None:
        self.stage = stage
        self.error = error


async def run_analysis(
    request: AnalysisRequested,
    emit: Emit,
    config: PipelineConfig,
    *,
    attempt: int = 1,
    fit_deadline: FitDeadline | None = None,
) -> None:
    """Analyse ``request``; every outcome, success or failure, becomes an event."""
    analysis_id = request.analysis_id
    await emit(
        AnalysisStarted(analysis_id=analysis_id, processor=config.processor_id, attempt=attempt)
    )
    # Made by the fetch once media arrives: an analysis that fails before that
    # (a missing file, a refused address) costs no mkdir and rmtree.
    workdir = config.work_dir / str(analysis_id)
    ctx = StageContext(
        request=request,
        settings=config.stages,
        workdir=workdir,
        media=workdir / "media",
        content_type=None,
        media_type=request.media_type,
    )
    results: dict[str, Any] = {
        "version": RESULTS_VERSION,
        "declared_media_type": request.media_type,
        "media_type": request.media_type,
        "stages": {},
    }
    runner = _Runner(ctx, results, emit, config.progress_interval_seconds)
    try:
        await runner.run(Stage("fetch", _fetch_stage(config), essential=True), FETCH_PROGRESS)
        await runner.run(PROBE, PROBE_PROGRESS)
        if fit_deadline is not None:
            fit_deadline(ctx.duration)
        planned = stages_after_probe(ctx.media_type)
        total = sum(STAGE_WEIGHTS.get(stage.name, 1) for stage in planned)
        done = 0
        for stage in planned:
            done += STAGE_WEIGHTS.get(stage.name, 1)
            await runner.run(stage, PROBE_PROGRESS + (100 - PROBE_PROGRESS) * done // total)
    except _AnalysisFailed as failed:
        log.info("analysis %s failed at %s: %s", analysis_id, failed.stage, failed.error)
        await config.stages.artifacts.remove_all(analysis_id)
        await emit(
            AnalysisFailed(
                analysis_id=analysis_id,
                error_code=failed.error.code,
                error_message=str(failed.error),
                retryable=failed.error.retryable,
                stage=failed.stage,
            )
        )
        return
    finally:
        if workdir.exists():
            shutil.rmtree(workdir, ignore_errors=True)
    results["media_type"] = ctx.media_type
    results["artifacts"] = [a.as_dict() for a in ctx.artifacts]
    answer = ctx.outputs.get("answer") or {}
    await emit(
        AnalysisCompleted(
            analysis_id=analysis_id,
            results=results,
            summary=answer.get("summary"),
            topics=answer.get("topics") or [],
        )
    )


def _fetch_stage(config: PipelineConfig) -> Callable[[StageContext], Awaitable[dict[str, Any]]]:
    async def fetch(ctx: StageContext) -> dict[str, Any]:
        fetched = await config.fetcher.fetch(ctx.request.media_url, ctx.media)
        ctx.content_type = fetched.content_type
        return {
            "size": fetched.size,
            "content_type": fetched.content_type,
            "final_url": fetched.final_url,
        }

    return fetch


class _Runner:
    """Runs stages one by one, recording each and reporting its progress."""

    def __init__(
        self, ctx: StageContext, results: dict[str, Any], emit: Emit, interval: float
    ) -> None:
        self._ctx = ctx
        self._results = results
        self._emit = emit
        self._interval = interval
        self._progress = 0

    def _reporter(self, stage: str, end: int) -> Callable[[float], Awaitable[None]]:
        """The running stage's ``ctx.progress``: at most one event an interval."""
        start = self._progress
        last = time.monotonic()

        async def report(fraction: float) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < self._interval:
                return
            last = now
            fraction = min(max(fraction, 0.0), 1.0)
            overall = start + int((end - start) * fraction)
            if overall >= end:
                overall = max(start, end - 1)  # the stage's end reaches ``end``
            self._progress = max(self._progress, overall)
            await self._emit(
                AnalysisProgressed(
                    analysis_id=self._ctx.analysis_id,
                    stage=stage,
                    stage_status="running",
                    progress=self._progress,
                    stage_progress=round(fraction, 3),
                )
            )

        return report

    async def run(self, stage: Stage, progress: int) -> None:
        started = time.monotonic()
        record: dict[str, Any]
        detail: str | None
        fatal: StageError | None = None
        self._ctx.progress = self._reporter(stage.name, progress)
        # The stage's span ends before its progress is emitted: events carry the run's.
        with tracing.span(f"stage {stage.name}", attributes={STAGE: stage.name}) as span:
            try:
                output = await stage.run(self._ctx)
            except StageSkipped as exc:
                record, detail = {"status": "skipped", "reason": str(exc)}, str(exc)
            except StageError as exc:
                error = {"code": exc.code, "message": str(exc), "retryable": exc.retryable}
                record, detail = {"status": "failed", "error": error}, f"{exc.code}: {exc}"
                tracing.failed(span, exc)
                if stage.essential or exc.retryable:
                    fatal = exc
            else:
                record, detail = {"status": "completed"}, None
                self._results[stage.name] = output
                # A stage may have put a fuller output there for later stages (transcript).
                self._ctx.outputs.setdefault(stage.name, output)
            if span is not None:
                span.set_attribute(STAGE_STATUS, record["status"])
        took = time.monotonic() - started
        STAGE_DURATION.labels(stage.name, record["status"]).observe(took)
        record["duration_seconds"] = round(took, 3)
        self._results["stages"][stage.name] = record
        if fatal is None:
            self._progress = max(self._progress, progress)
        await self._emit(
            AnalysisProgressed(
                analysis_id=self._ctx.analysis_id,
                stage=stage.name,
                stage_status=record["status"],
                progress=self._progress,
                detail=detail,
            )
        )
        if fatal is not None:
            raise _AnalysisFailed(stage.name, fatal)
