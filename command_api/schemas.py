"""Request and response bodies of the command side."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializerFunctionWrapHandler,
    UrlConstraints,
    field_validator,
    model_serializer,
)

from events import DEFAULT_WEBHOOK_EVENTS, MediaType, WebhookEvent

MAX_PROMPT_CHARS = 10_000
MAX_URL_CHARS = 2048
MAX_CONFIG_BYTES = 16 * 1024
"""Largest ``config`` accepted, measured as compact JSON."""
MAX_CONFIG_DEPTH = 32
"""Deepest nesting of ``config``: every consumer walks it recursively."""
MAX_MODEL_CHARS = 200
MAX_ANSWER_TOKENS = 32_768
"""Largest ``config.max_tokens`` a request may ask the answer stage for."""


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, without recursion (it may be hostile)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


# PostgreSQL text and jsonb cannot hold U+0000: refuse it here, not in the projector.
_NO_NUL: dict[str, JsonValue] = {"pattern": "^[^\\u0000]*$"}
_NUL_MESSAGE = "must not contain NUL (U+0000) characters"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class AnalysisOptions(BaseModel):
    """Which optional stages to run. Unknown switches are rejected."""

    model_config = ConfigDict(extra="forbid")

    extract_frames: bool = False
    generate_contact_sheet: bool = False
    transcribe_audio: bool = False


class AnalysisConfig(BaseModel):
    """Model parameters of the answer stage (the PRD's names); other keys pass
    through unchanged to the event."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"model": "gpt-4o", "max_tokens": 2000, "temperature": 0.7}]
        },
    )

    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MODEL_CHARS,
        description="Model the answer stage asks; the server's LLM_MODEL when absent.",
    )
    llm_model: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MODEL_CHARS,
        description="Earlier name of `model`, still accepted; `model` wins when both are given.",
    )
    max_tokens: int | None = Field(
        default=None, ge=1, le=MAX_ANSWER_TOKENS, description="Longest answer, in tokens."
    )
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="Sampling temperature, 0 to 2."
    )

    @model_serializer(mode="wrap")
    def _as_sent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Only the keys the client sent: the event (and the idempotency hash) carry the
        # config as given, its values validated.
        dumped: dict[str, Any] = handler(self)
        return {k: v for k, v in dumped.items() if k in self.model_fields_set}


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
                    "filename": "video.mp4",
                    "config": {"model": "gpt-4o", "max_tokens": 2000, "temperature": 0.7},
                    "options": {"extract_frames": True, "transcribe_audio": True},
                }
            ]
        },
    )

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="Question about the media.",
        json_schema_extra=_NO_NUL,
    )
    media_url: Annotated[AnyHttpUrl, UrlConstraints(max_length=MAX_URL_CHARS)] = Field(
        description="http(s) URL of the media."
    )
    media_type: MediaType = Field(description="video, audio, document, image or unknown.")
    filename: str | None = Field(default=None, max_length=500, json_schema_extra=_NO_NUL)
    config: AnalysisConfig = Field(default_factory=AnalysisConfig, description="Model parameters.")
    options: AnalysisOptions = Field(default_factory=AnalysisOptions)
    webhook_url: Annotated[AnyHttpUrl, UrlConstraints(max_length=MAX_URL_CHARS)] | None = Field(
        default=None,
        description="http(s) URL to POST signed webhooks to (docs/webhooks.md); its address "
        "is checked when each webhook is sent.",
    )
    webhook_events: list[WebhookEvent] = Field(
        default_factory=lambda: list(DEFAULT_WEBHOOK_EVENTS),
        min_length=1,
        max_length=3,
        description="Which events send a webhook: completed, failed, progressed.",
    )

    @field_validator("prompt", "filename")
    @classmethod
    def _text_fits(cls, value: str | None) -> str | None:
        if _has_nul(value):
            raise ValueError(_NUL_MESSAGE)
        return value

    @field_validator("config", mode="before")
    @classmethod
    def _config_fits(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # the model refuses it, naming the type
        depth = _depth(value)
        if depth > MAX_CONFIG_DEPTH:
            raise ValueError(
                f"config nests {depth} levels deep; at most {MAX_CONFIG_DEPTH} allowed"
            )
        if _has_nul(value):
            raise ValueError(_NUL_MESSAGE)
        size = len(json.dumps(value, separators=(",", ":")).encode())
        if size > MAX_CONFIG_BYTES:
            raise ValueError(f"config is {size} bytes of JSON; at most {MAX_CONFIG_BYTES} allowed")
        return value


class AnalysisAccepted(BaseModel):
    """202 answer: the analysis is recorded and queued."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "analysis_id": "550e8400-e29b-41d4-a716-446655440000",
                    "status": "pending",
                    "estimated_time": 30,
                    "message": "Analysis queued. Check status with "
                    "/api/media/status/550e8400-e29b-41d4-a716-446655440000",
                }
            ]
        }
    )

    analysis_id: UUID
    status: Literal["pending"] = "pending"
    estimated_time: int = Field(
        ge=1, description="Expected seconds until completion: median of recent analyses."
    )
    message: str
