"""The six analysis events: immutable, past-tense facts about one analysis.

Each event is the ``data`` of a CloudEvents envelope (see ``events.envelope``).
Its ``TYPE`` is the CloudEvents ``type`` attribute and ``VERSION`` the schema
version carried in the ``schemaversion`` extension. A field never changes its
meaning: a change adds a version and an upcaster (``events.upcasting``).

Lifecycle of one analysis, all keyed by its ``analysis_id``::

    AnalysisRequested ─▶ AnalysisStarted ─▶ AnalysisProgressed* ─▶ AnalysisCompleted
                                                              └──▶ AnalysisFailed
    AnalysisDeleted may follow any of them.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

MediaType = Literal["video", "audio", "document", "image", "unknown"]
MEDIA_TYPES: tuple[MediaType, ...] = ("video", "audio", "document", "image", "unknown")

StageStatus = Literal["completed", "skipped", "failed", "running"]

WebhookEvent = Literal["completed", "failed", "progressed"]
"""What a webhook can be sent for: AnalysisCompleted, AnalysisFailed, AnalysisProgressed."""
DEFAULT_WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = ("completed", "failed")


class AnalysisEvent(BaseModel):
    """Base of every event: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    analysis_id: UUID = Field(description="The analysis this event belongs to; also the Kafka key.")


class AnalysisRequested(AnalysisEvent):
    """A client asked for an analysis; it is now pending."""

    TYPE: ClassVar[str] = "media-analysis.analysis.requested"

    prompt: str = Field(description="The client's question about the media.")
    media_url: str = Field(description="http(s) URL the processors fetch the media from.")
    media_type: MediaType = Field(description="Declared type; 'unknown' is resolved from content.")
    filename: str | None = Field(default=None, description="Original file name, if given.")
    config: dict[str, Any] = Field(default_factory=dict, description="Model parameters.")
    options: dict[str, Any] = Field(default_factory=dict, description="Stage switches.")
    created_by: UUID | None = Field(default=None, description="Tenant or user, when known.")
    webhook_url: str | None = Field(
        default=None,
        description="http(s) URL the notifier POSTs signed webhooks to; none when absent "
        "(and in events recorded before webhooks existed).",
    )
    webhook_events: list[WebhookEvent] = Field(
        default_factory=lambda: list(DEFAULT_WEBHOOK_EVENTS),
        description="Which events a webhook is sent for (with a webhook_url).",
    )


class AnalysisStarted(AnalysisEvent):
    """A processor took the analysis up (again, if ``attempt`` > 1)."""

    TYPE: ClassVar[str] = "media-analysis.analysis.started"

    processor: str = Field(description="Which processor instance runs it.")
    attempt: int = Field(ge=1, description="1 for the first run, more after a redelivery.")


class AnalysisProgressed(AnalysisEvent):
    """One stage of the analysis finished (completed, skipped or failed), or a
    long stage is under way (running, with its own fraction done)."""

    TYPE: ClassVar[str] = "media-analysis.analysis.progressed"

    stage: str = Field(description="Stage name, e.g. 'fetch' or 'probe'.")
    stage_status: StageStatus = Field(
        description="How the stage ended; 'running' while a long stage is under way "
        "(then at most one event every PROGRESS_INTERVAL_SECONDS)."
    )
    progress: int = Field(ge=0, le=100, description="Overall progress after this stage.")
    detail: str | None = Field(default=None, description="Why a stage was skipped or failed.")
    stage_progress: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="The running stage's own fraction done (0 to 1); null once it ended "
        "and in older events.",
    )


class AnalysisCompleted(AnalysisEvent):
    """The analysis finished; ``results`` holds every stage's output."""

    TYPE: ClassVar[str] = "media-analysis.analysis.completed"

    results: dict[str, Any] = Field(description="Per-stage results, see results.schema.json.")
    summary: str | None = Field(
        default=None,
        description="What the media contains, or the LLM's answer to the prompt when one is "
        "configured (results.answer.method says which); null only in older events.",
    )
    topics: list[str] = Field(
        default_factory=list,
        description="Key phrases of the media's words (or its description's tags), or the "
        "LLM's topics.",
    )


class AnalysisFailed(AnalysisEvent):
    """The analysis ended without a result."""

    TYPE: ClassVar[str] = "media-analysis.analysis.failed"

    error_code: str = Field(description="Stable machine-readable code, e.g. 'fetch_unreachable'.")
    error_message: str = Field(description="Human-readable reason.")
    retryable: bool = Field(description="Whether submitting again may succeed.")
    stage: str | None = Field(default=None, description="The stage that failed, if any.")


DeletionInitiator = Literal["client", "operator"]


class AnalysisDeleted(AnalysisEvent):
    """The analysis was deleted; terminal from any state.

    Version 2 split version 1's free-text ``reason`` in two: who asked
    (``initiator``, which subscribers can act on) and their words (``note``).
    Version 1 events are upcast: ``reason`` becomes ``note`` and the initiator is
    ``client``, the only one version 1 knew.
    """

    TYPE: ClassVar[str] = "media-analysis.analysis.deleted"
    VERSION: ClassVar[int] = 2

    initiator: DeletionInitiator = Field(default="client", description="Who asked for it.")
    note: str | None = Field(default=None, description="Why, in their words, if they said.")


EVENT_CLASSES: dict[str, type[AnalysisEvent]] = {
    cls.TYPE: cls
    for cls in (
        AnalysisRequested,
        AnalysisStarted,
        AnalysisProgressed,
        AnalysisCompleted,
        AnalysisFailed,
        AnalysisDeleted,
    )
}
"""Every event class by its CloudEvents ``type``."""
