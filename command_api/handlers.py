"""Command handlers: plain functions, their dependencies passed in."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from command_api.analysis_lookup import AnalysisLookup
from command_api.publisher import EventPublisher, LogPosition
from command_api.schemas import AnalyzeRequest
from events import AnalysisDeleted, AnalysisRequested, MediaAnalysisError, new_envelope

SOURCE = "/media-analysis/command-api"


class AnalysisNotFound(MediaAnalysisError):
    """No analysis has that id."""


class AnalysisAlreadyDeleted(MediaAnalysisError):
    """The analysis was deleted before."""


@dataclass(frozen=True, slots=True)
class Recorded:
    analysis_id: UUID
    position: LogPosition


async def request_analysis(request: AnalyzeRequest, publisher: EventPublisher) -> Recorded:
    """Record an AnalysisRequested event for a new analysis."""
    analysis_id = uuid4()
    event = AnalysisRequested(
        analysis_id=analysis_id,
        prompt=request.prompt,
        media_url=str(request.media_url),
        media_type=request.media_type,
        filename=request.filename,
        config=request.config,
        options=request.options.model_dump(),
    )
    position = await publisher.publish(new_envelope(event, source=SOURCE))
    return Recorded(analysis_id, position)


async def delete_analysis(
    analysis_id: UUID, lookup: AnalysisLookup, publisher: EventPublisher
) -> Recorded:
    """Record an AnalysisDeleted event, refusing unknown and already deleted ids."""
    status = await lookup.status_of(analysis_id)
    if status is None:
        raise AnalysisNotFound(f"No analysis with id {analysis_id}.")
    if status == "deleted":
        raise AnalysisAlreadyDeleted(f"Analysis {analysis_id} has been deleted.")
    envelope = new_envelope(AnalysisDeleted(analysis_id=analysis_id), source=SOURCE)
    return Recorded(analysis_id, await publisher.publish(envelope))
