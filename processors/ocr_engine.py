"""Text read from pictures: the OCR port and its RapidOCR adapter (PP-OCR
detection and recognition models shipped inside the ``rapidocr-onnxruntime``
wheel, so it works offline). The engine loads once per process, on first use;
one picture is read at a time per process, since each read takes every core."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from processors.errors import StageError

DETECTION_SIDE = 960
"""Pictures are scaled so their longer side is at most this for text detection."""


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    confidence: float
    box: list[list[int]]
    """Four corners (x, y) in the picture's pixels, clockwise from top left."""

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": round(self.confidence, 3), "box": self.box}


class TextReader(Protocol):
    name: str

    def read(self, picture: Path) -> list[TextLine]:
        """Lines of text in ``picture``, top to bottom (blocking: run in a thread)."""
        ...


class RapidOcrReader:
    name = "rapidocr-onnxruntime"

    def __init__(self, threads: int, min_confidence: float) -> None:
        self._threads = threads
        self._min_confidence = min_confidence
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        from rapidocr_onnxruntime import RapidOCR  # heavy import: only when used

        return RapidOCR(
            intra_op_num_threads=self._threads,
            inter_op_num_threads=1,
            det_limit_side_len=DETECTION_SIDE,
            det_limit_type="max",
            text_score=self._min_confidence,
        )

    def read(self, picture: Path) -> list[TextLine]:
        with self._lock:
            if self._engine is None:
                self._engine = self._load()
            try:
                found, _ = self._engine(str(picture))
            except Exception as exc:  # the engine raises bare exceptions for unreadable input
                raise StageError(f"OCR could not read {picture.name}: {exc}") from exc
        return [
            TextLine(
                text=str(text).strip(),
                confidence=float(score),
                box=[[round(float(x)), round(float(y))] for x, y in box],
            )
            for box, text, score in found or []
            if str(text).strip() and float(score) >= self._min_confidence
        ]


_readers: dict[tuple[int, float], RapidOcrReader] = {}


def text_reader(threads: int, min_confidence: float) -> TextReader:
    """The process's reader for these settings (the models load once)."""
    key = (threads, min_confidence)
    if key not in _readers:
        _readers[key] = RapidOcrReader(threads, min_confidence)
    return _readers[key]
