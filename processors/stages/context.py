"""What the stages share: their settings, the per-analysis context and the
stage record they are run through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from events import AnalysisRequested, MediaAnalysisError
from infra.artifacts import ArtifactRef, ArtifactStore, LocalArtifactStore
from processors.limits import ChildLimits, TimeLimit
from processors.transcription.port import Progress

if TYPE_CHECKING:
    from infra.settings import Settings


class StageSkipped(MediaAnalysisError):
    """The stage has nothing to do for this analysis; the message says why."""


@dataclass(frozen=True, slots=True)
class StageSettings:
    """Stage configuration, taken from Settings by ``from_settings``."""

    artifacts: ArtifactStore = field(
        default_factory=lambda: LocalArtifactStore(Path(".state/artifacts"))
    )
    timeout_seconds: float = 300
    timeout_per_media_second: float = 0.0
    timeout_max_seconds: float = 0.0
    child_limits: ChildLimits = field(default_factory=ChildLimits)
    transcription_chunk_seconds: float = 120
    frame_count: int = 6
    font: Path | None = None
    whisper_model: str = ""
    whisper_cpu_threads: int = 2
    deepgram_api_key: str | None = None
    deepgram_base_url: str = "https://api.deepgram.com"
    deepgram_model: str = "nova-3"
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = 60
    llm_max_tokens: int = 512
    llm_temperature: float = 0.2
    llm_context_tokens: int = 8192
    llm_max_chunks: int = 12
    llm_vision: bool = False
    llm_vision_max_images: int = 4
    summary_max_chars: int = 600
    ocr_max_frames: int = 4
    ocr_max_pages: int = 10
    ocr_max_side: int = 1600
    ocr_min_confidence: float = 0.5
    ocr_threads: int = 2
    max_pixels: int = 50_000_000
    max_duration_seconds: float = 4 * 3600

    @classmethod
    def from_settings(cls, settings: Settings, artifacts: ArtifactStore) -> StageSettings:
        def secret(value: Any) -> str | None:
            return (value.get_secret_value() or None) if value is not None else None

        return cls(
            artifacts=artifacts,
            timeout_seconds=settings.stage_timeout_seconds,
            timeout_per_media_second=settings.stage_timeout_per_media_second,
            timeout_max_seconds=settings.stage_timeout_max_seconds,
            child_limits=ChildLimits(settings.stage_nice, settings.stage_memory_limit_mb),
            transcription_chunk_seconds=settings.transcription_chunk_seconds,
            frame_count=settings.frame_count,
            font=settings.contact_sheet_font if settings.contact_sheet_font.is_file() else None,
            whisper_model=settings.whisper_model,
            whisper_cpu_threads=settings.whisper_cpu_threads,
            deepgram_api_key=secret(settings.deepgram_api_key),
            deepgram_base_url=settings.deepgram_base_url,
            deepgram_model=settings.deepgram_model,
            llm_base_url=settings.llm_base_url or None,
            llm_api_key=secret(settings.llm_api_key),
            llm_model=settings.llm_model,
            llm_timeout_seconds=settings.llm_timeout_seconds,
            llm_max_tokens=settings.llm_max_tokens,
            llm_temperature=settings.llm_temperature,
            llm_context_tokens=settings.llm_context_tokens,
            llm_max_chunks=settings.llm_max_chunks,
            llm_vision=settings.llm_vision,
            llm_vision_max_images=settings.llm_vision_max_images,
            summary_max_chars=settings.summary_max_chars,
            ocr_max_frames=settings.ocr_max_frames,
            ocr_max_pages=settings.ocr_max_pages,
            ocr_max_side=settings.ocr_max_side,
            ocr_min_confidence=settings.ocr_min_confidence,
            ocr_threads=settings.ocr_threads,
            max_pixels=settings.media_max_pixels,
            max_duration_seconds=settings.media_max_duration_seconds,
        )


async def _no_progress(fraction: float) -> None:
    return None


@dataclass(slots=True)
class StageContext:
    """One analysis as the stages see it; stages add what later ones need."""

    request: AnalysisRequested
    settings: StageSettings
    workdir: Path
    media: Path
    content_type: str | None
    media_type: str
    probe: dict[str, Any] | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    artifacts: list[ArtifactRef] = field(default_factory=list)
    frames: list[tuple[Path, float]] = field(default_factory=list)
    audio_wav: Path | None = None
    progress: Progress = field(default=_no_progress)
    """Told the running stage's fraction done; set by the pipeline's runner."""

    @property
    def analysis_id(self) -> UUID:
        return self.request.analysis_id

    @property
    def duration(self) -> float | None:
        """The media's duration as probed, in seconds (None before the probe or without)."""
        value = (self.probe or {}).get("duration")
        return float(value) if value else None

    @property
    def stage_timeout(self) -> float:
        """A stage's time limit, scaled by the media's duration (``TimeLimit``)."""
        limit = TimeLimit(
            self.settings.timeout_seconds,
            self.settings.timeout_per_media_second,
            self.settings.timeout_max_seconds,
        )
        return limit.for_duration(self.duration)

    def option(self, name: str) -> bool:
        return bool(self.request.options.get(name, False))

    def streams(self, kind: str) -> list[dict[str, Any]]:
        return [s for s in (self.probe or {}).get("streams", []) if s.get("type") == kind]

    async def keep(self, name: str, path: Path) -> dict[str, Any]:
        """Store ``path`` as artifact ``name``; its reference for the results."""
        ref = await self.settings.artifacts.put(self.analysis_id, name, path)
        self.artifacts = [a for a in self.artifacts if a.name != name] + [ref]
        return ref.as_dict()


StageRun = Callable[[StageContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Stage:
    """A named piece of work; an essential stage's failure fails the analysis."""

    name: str
    run: StageRun
    essential: bool = False
