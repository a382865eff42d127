"""faster-whisper in a child process, fed the audio in bounded chunks.

The parent (``WhisperTranscriber``) starts ``python -m
processors.transcription.whisper_child MODEL THREADS CHUNK_SECONDS WAV`` under
a memory ceiling and a lower CPU priority. This process reads the 16 kHz mono
WAV ``CHUNK_SECONDS`` at a time, so its memory holds the model and one chunk
whatever the recording's length. A chunk's last segment may be cut by the
chunk's end: unless the audio ended, it is not written but decoded again at
the start of the next chunk. Each finished segment (with its words) and the
fraction done go to stdout as JSON lines.

Exit codes: 0 done, 3 out of memory (the ceiling was reached), 1 another
failure (the reason on stderr).
"""

from __future__ import annotations

import json
import sys
import wave
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000
OUT_OF_MEMORY_EXIT = 3
FAILED_EXIT = 1


def _write(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _segment_record(piece: Any, offset: float, limit: float) -> dict[str, Any]:
    def at(t: float) -> float:
        return round(offset + min(max(t, 0.0), limit), 3)

    return {
        "start": at(piece.start),
        "end": at(piece.end),
        "text": piece.text.strip(),
        "words": [
            [w.word.strip(), at(w.start), at(w.end), round(w.probability, 3)]
            for w in piece.words or []
        ],
    }


def transcribe_in_chunks(model: WhisperModel, wav: wave.Wave_read, chunk_seconds: float) -> None:
    """Write every segment of ``wav`` and the progress as JSON lines."""
    if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (SAMPLE_RATE, 1, 2):
        raise ValueError("the audio must be 16 kHz mono 16-bit PCM")
    total = wav.getnframes() / SAMPLE_RATE
    chunk_frames = int(chunk_seconds * SAMPLE_RATE)
    buffer = np.zeros(0, dtype=np.float32)
    offset = 0.0
    language: str | None = None
    ended = False
    while not ended:
        raw = wav.readframes(max(chunk_frames - len(buffer), 0))
        fresh = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        buffer = np.concatenate([buffer, fresh])
        ended = len(buffer) < chunk_frames
        if len(buffer) == 0:
            break
        length = len(buffer) / SAMPLE_RATE
        pieces, info = model.transcribe(
            buffer, language=language, beam_size=1, word_timestamps=True
        )
        language = language or info.language
        held: Any = None
        for piece in pieces:  # decoded lazily, one segment at a time
            if held is not None:
                _write({"segment": _segment_record(held, offset, length)})
                _write({"done": min(1.0, (offset + min(held.end, length)) / total)})
            held = piece
        cut = length  # where the next chunk starts, relative to this one
        if held is not None:
            if not ended and 0 < held.start < length:
                cut = held.start  # cut by the chunk's end: decoded again next time
            else:
                _write({"segment": _segment_record(held, offset, length)})
        buffer = buffer[int(cut * SAMPLE_RATE) :]
        offset += cut
        _write({"done": min(1.0, offset / total) if total else 1.0})
    _write({"language": language, "duration": round(total, 3)})


def main(argv: list[str]) -> int:
    model_path, threads, chunk_seconds, audio = argv
    try:
        from faster_whisper import WhisperModel

        model = WhisperModel(
            model_path, device="cpu", compute_type="int8", cpu_threads=int(threads)
        )
        with wave.open(audio, "rb") as wav:
            transcribe_in_chunks(model, wav, float(chunk_seconds))
    except MemoryError:
        print("out of memory", file=sys.stderr)
        return OUT_OF_MEMORY_EXIT
    except (RuntimeError, OSError, ValueError, EOFError, wave.Error) as exc:
        # CTranslate2 and onnxruntime report a failed allocation as a RuntimeError.
        message = str(exc)
        print(message, file=sys.stderr)
        lowered = message.lower()
        if "bad_alloc" in message or ("alloc" in lowered and "memory" in lowered):
            return OUT_OF_MEMORY_EXIT
        return FAILED_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
