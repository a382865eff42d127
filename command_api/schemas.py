"""Request and response bodies of the command side."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from events import MediaType

ESTIMATED_SECONDS: dict[str, int] = {
    "video": 60,
    "audio": 30,
    "document": 15,
    "image": 10,
    "unknown": 45,
}
"""Defaults for ``estimated_time`` until completed analyses teach better."""


class AnalysisOptions(BaseModel):
    """Which optional stages to run. Unknown switches are rejected."""

    model_config = ConfigDict(extra="forbid")

    extract_frames: bool = False
    generate_contact_sheet: bool = False
    transcribe_audio: bool = False


class AnalyzeRequest(BaseModel):
    """What a client submits for analysis."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "prompt": "What is happening in this video?",
                    "media_url": "https://example.com/video.mp4",
                    "media_type": "video",
                    "options": {"extract_frames": True, "transcribe_audio": True},
                }
            ]
        },
    )

    prompt: str = Field(min_length=1, max_length=10_000, description="Question about the media.")
    media_url: AnyHttpUrl = Field(description="http(s) URL of the media.")
    media_type: MediaType = Field(description="video, audio, document, image or unknown.")
    filename: str | None = Field(default=None, max_length=500)
    config: dict[str, Any] = Field(default_factory=dict, description="Model parameters.")
    options: AnalysisOptions = Field(default_factory=AnalysisOptions)


class AnalysisAccepted(BaseModel):
    """202 answer: the analysis is recorded and queued."""

    analysis_id: UUID
    status: str = "pending"
    estimated_time: int = Field(description="Expected seconds until completion.")
    message: str
