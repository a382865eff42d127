"""Which stages an analysis runs after fetch and probe, by its (resolved)
media type. Stages whose option is off still appear, as skipped with the
reason, so the results always say what was and was not done."""

from __future__ import annotations

from processors.stages.answer import answer
from processors.stages.audio import analyse_audio
from processors.stages.context import Stage
from processors.stages.document import extract_document
from processors.stages.frames import contact_sheet, extract_frames
from processors.stages.identify import probe
from processors.stages.image import describe_image
from processors.stages.ocr import read_text
from processors.stages.transcript import transcribe

PROBE = Stage("probe", probe, essential=True)

_FRAMES = Stage("frames", extract_frames)
_CONTACT_SHEET = Stage("contact_sheet", contact_sheet)
_AUDIO = Stage("audio", analyse_audio)
_TRANSCRIPT = Stage("transcript", transcribe)
_OCR = Stage("ocr", read_text)
_ANSWER = Stage("answer", answer)

STAGES_BY_MEDIA_TYPE: dict[str, tuple[Stage, ...]] = {
    "video": (_FRAMES, _CONTACT_SHEET, _OCR, _AUDIO, _TRANSCRIPT, _ANSWER),
    "audio": (_AUDIO, _TRANSCRIPT, _ANSWER),
    "image": (Stage("image", describe_image, essential=True), _OCR, _ANSWER),
    "document": (Stage("document", extract_document, essential=True), _OCR, _ANSWER),
}


def stages_after_probe(media_type: str) -> tuple[Stage, ...]:
    """The stages for ``media_type`` (resolved: never ``unknown`` here)."""
    return STAGES_BY_MEDIA_TYPE[media_type]
