"""The Transcriber port and the transcript it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

MAX_WORDS = 5000
"""Bounds the results (they travel in one Kafka record)."""


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
        return {
            "engine": self.engine,
            "model": self.model,
            "language": self.language,
            "text": self.text,
            "word_count": len(self.text.split()),
            "segments": [
                {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text}
                for s in self.segments
            ],
            "words": [
                {
                    "word": w.word,
                    "start": round(w.start, 3),
                    "end": round(w.end, 3),
                    "confidence": None if w.confidence is None else round(w.confidence, 3),
                }
                for w in self.words[:MAX_WORDS]
            ],
            "words_truncated": len(self.words) > MAX_WORDS,
        }


class Transcriber(Protocol):
    """Turns a 16 kHz mono WAV file into a transcript."""

    engine: str
    model: str

    async def transcribe(self, audio: Path) -> Transcript:
        """Raise ProviderError (retryable or not) when the engine fails."""
        ...
