"""The Transcriber port and the transcript it returns: in full for the
transcript artifacts, as a bounded excerpt for the results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

MAX_WORDS = 1000
MAX_SEGMENTS = 100
MAX_TEXT_CHARS = 5000
"""Bound the excerpt in the results (they travel in one Kafka record); the
artifacts hold the whole transcript."""

Progress = Callable[[float], Awaitable[None]]
"""Told the fraction of the audio done, 0 to 1, as the work goes on."""


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Transcript:
    engine: str
    model: str
    language: str | None
    text: str
    segments: list[Segment] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The whole transcript (the JSON artifact, and what later stages read)."""
        return {
            "engine": self.engine,
            "model": self.model,
            "language": self.language,
            "text": self.text,
            "word_count": len(self.text.split()),
            "segments": [_segment(s) for s in self.segments],
            "words": [_word(w) for w in self.words],
        }

    def excerpt(self) -> dict[str, Any]:
        """The start of the transcript, bounded, with counts (for the results)."""
        return {
            "engine": self.engine,
            "model": self.model,
            "language": self.language,
            "text": self.text[:MAX_TEXT_CHARS],
            "text_truncated": len(self.text) > MAX_TEXT_CHARS,
            "word_count": len(self.text.split()),
            "segment_count": len(self.segments),
            "segments": [_segment(s) for s in self.segments[:MAX_SEGMENTS]],
            "segments_truncated": len(self.segments) > MAX_SEGMENTS,
            "words": [_word(w) for w in self.words[:MAX_WORDS]],
            "words_truncated": len(self.words) > MAX_WORDS,
        }


def _segment(s: Segment) -> dict[str, Any]:
    return {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text}


def _word(w: Word) -> dict[str, Any]:
    return {
        "word": w.word,
        "start": round(w.start, 3),
        "end": round(w.end, 3),
        "confidence": None if w.confidence is None else round(w.confidence, 3),
    }


class Transcriber(Protocol):
    """Turns a 16 kHz mono WAV file into a transcript."""

    engine: str
    model: str

    async def transcribe(self, audio: Path, progress: Progress | None = None) -> Transcript:
        """Raise ProviderError (retryable or not) when the engine fails; tell
        ``progress`` how far it got where the engine says so."""
        ...
