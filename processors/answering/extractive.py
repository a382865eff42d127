"""The offline answer: the media's own words (transcript segments, document
text, text read by OCR) cut into sentences, the sentences that best cover the
text's keyphrases and the prompt's words picked in their original order with
their timestamps, and the keyphrases (YAKE, stop words in over thirty
languages) as topics. Deterministic, and nothing in it is invented: every
word of the summary is in the media or in its measured description."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yake

from processors.answering.describe import describe, language

MAX_UNITS = 2000
"""Sentences considered (the first ones): bounds the cost on long media."""
KEYPHRASE_CHARS = 60_000
"""Text YAKE reads (the start): its cost grows with the text, about linearly."""
MAX_TOPICS = 8
MAX_PICKED = 6
ENDINGS = ".!?\u3002\uff01\uff1f"  # and the ideographic full stop, ! and ?
_SENTENCE_END = re.compile(rf"(?<=[{ENDINGS}])\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
_YAKE_CODES = {"cs": "cz"}
_LABELS = {"transcript": "Said", "document": "Text", "screen": "On screen", "picture": "Text"}


@dataclass(frozen=True, slots=True)
class Unit:
    """One sentence of the media's words and where it was found."""

    source: str  # transcript | document | screen | picture
    text: str
    start: float | None = None
    page: int | None = None

    def as_dict(self) -> dict[str, Any]:
        where = {"start": self.start} if self.start is not None else {}
        if self.page is not None:
            where["page"] = self.page
        return {"source": self.source, **where, "text": self.text}


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def sentences(text: str) -> list[str]:
    """Lines, then sentences within them; whitespace tidied, empty ones dropped."""
    found = []
    for line in text.splitlines():
        found += [" ".join(s.split()) for s in _SENTENCE_END.split(line) if s.strip()]
    return found


def units(outputs: dict[str, dict[str, Any]]) -> list[Unit]:
    """The media's words as sentences, transcript first, then document, then OCR."""
    found: list[Unit] = []
    if (transcript := outputs.get("transcript")) is not None:
        segments = transcript.get("segments") or []
        if not segments and transcript.get("text"):
            segments = [{"start": None, "text": transcript["text"]}]
        for segment in segments:
            found += [
                Unit("transcript", s, segment.get("start"))
                for s in sentences(str(segment.get("text") or ""))
            ]
    if (document := outputs.get("document")) is not None:
        found += [Unit("document", s) for s in sentences(str(document.get("text") or ""))]
    if (ocr := outputs.get("ocr")) is not None:
        seen: set[str] = set()
        for item in ocr.get("items") or []:
            for line in sentences(str(item.get("text") or "")):
                if line.lower() in seen:  # a caption held over several frames
                    continue
                seen.add(line.lower())
                if item.get("source") == "frame":
                    found.append(Unit("screen", line, item.get("timestamp")))
                else:
                    found.append(Unit("picture", line, page=item.get("page")))
    return found[:MAX_UNITS]


@cache
def stop_words(code: str) -> frozenset[str]:
    name = f"stopwords_{_YAKE_CODES.get(code, code)}.txt"
    try:
        text = resources.files("yake.core").joinpath("StopwordsList", name).read_text("utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return frozenset()
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip())


@cache
def _languages() -> tuple[str, ...]:
    folder = resources.files("yake.core").joinpath("StopwordsList")
    codes = (p.name.removeprefix("stopwords_").removesuffix(".txt") for p in folder.iterdir())
    return tuple(sorted(c for c in codes if c != "noLang"))


def guess_language(text: str) -> str:
    """The language whose stop words the text uses most (YAKE's lists); ``en``
    when the text is too short to tell."""
    words = [w.lower() for w in _WORD.findall(text[:20_000])]
    if len(words) < 4:
        return "en"
    counts = {code: sum(w in stop_words(code) for w in words) for code in _languages()}
    best = max(sorted(counts), key=lambda code: counts[code])
    return best if counts[best] >= 2 else "en"


def keyphrases(text: str, lang: str, top: int = 20) -> list[tuple[str, float]]:
    """YAKE's keyphrases, most relevant first, with YAKE's score (lower = better)."""
    if not text.strip():
        return []
    code = _YAKE_CODES.get(lang, lang) if stop_words(lang) else "en"
    extractor = yake.KeywordExtractor(lan=code, n=3, top=top, dedup_lim=0.8)
    return [(str(p), float(s)) for p, s in extractor.extract_keywords(text[:KEYPHRASE_CHARS])]


def _stems(text: str, ignore: frozenset[str]) -> set[str]:
    return {w.lower()[:5] for w in _WORD.findall(text) if w.lower() not in ignore and len(w) > 2}


PROMPT_NOISE = frozenset(
    {
        "what", "which", "describe", "summarise", "summarize", "summary", "tell", "show",
        "shown", "said", "says", "clip", "video", "audio", "image", "picture", "document",
        "file", "media", "please", "about", "this", "that", "there",
    }
)  # fmt: skip


def pick(found: list[Unit], phrases: list[tuple[str, float]], prompt: str, lang: str,
         budget: int) -> list[Unit]:  # fmt: skip
    """The sentences that best cover the keyphrases and the prompt's words, in
    their original order, within ``budget`` characters (at least one)."""
    if sum(len(u.text) + 1 for u in found) <= budget:
        return found
    ignore = stop_words(lang) | stop_words("en") | PROMPT_NOISE
    asked = _stems(prompt, ignore)
    weights = [(p.lower(), 1 / (rank + 1)) for rank, (p, _) in enumerate(phrases)]

    def score(unit: Unit) -> float:
        lowered = unit.text.lower()
        covered = sum(w for p, w in weights if p in lowered)
        relevant = len(asked & _stems(unit.text, ignore)) / len(asked) if asked else 0
        return covered / math.sqrt(max(len(lowered.split()), 3)) + 2 * relevant

    ranked = sorted(range(len(found)), key=lambda i: (-score(found[i]), i))
    chosen: list[int] = []
    used = 0
    for index in ranked:
        size = len(found[index].text) + 1
        if chosen and (used + size > budget or len(chosen) >= MAX_PICKED):
            continue
        chosen.append(index)
        used += size
    return [found[i] for i in sorted(chosen)]


def _sentence(text: str) -> str:
    return text if text[-1:] and text[-1] in ENDINGS + "\u2026:;" else text + "."


def _render(picked: list[Unit]) -> str:
    """By source; a timestamp where a new segment or frame starts."""
    parts: list[str] = []
    for source in ("transcript", "document", "screen", "picture"):
        mine = [u for u in picked if u.source == source]
        if not mine:
            continue
        said, last = [], None
        for unit in mine:
            if unit.start is not None and unit.start != last:
                said.append(f"[{clock(unit.start)}]")
            said.append(_sentence(unit.text))
            last = unit.start
        parts.append(f"{_LABELS[source]}: {' '.join(said)}")
    return " ".join(parts)


def topics_from(phrases: list[tuple[str, float]], limit: int = MAX_TOPICS) -> list[str]:
    """The best keyphrases, leaving out one whose words a better one already has."""
    chosen: list[str] = []
    covered: set[str] = set()
    for phrase, _ in phrases:
        words = set(phrase.lower().split())
        if words <= covered:
            continue
        chosen.append(phrase)
        covered |= words
        if len(chosen) == limit:
            break
    return chosen


def summarise(
    media_type: str,
    probe: dict[str, Any] | None,
    outputs: dict[str, dict[str, Any]],
    prompt: str,
    budget: int,
) -> dict[str, Any]:
    """The extractive answer, shaped as ``results.answer``."""
    description, tags = describe(media_type, probe, outputs)
    found = units(outputs)
    words = " ".join(_sentence(u.text) for u in found)
    transcript = outputs.get("transcript") or {}
    lang = str(transcript.get("language") or "") or guess_language(words)
    phrases = keyphrases(words, lang)
    picked = pick(found, phrases, prompt, lang, budget) if found else []
    summary = description + "."
    if picked:
        summary += " " + _render(picked)
    return {
        "method": "extractive",
        "summary": summary,
        "topics": topics_from(phrases) or tags,
        "description": description,
        "language": lang if found else None,
        "language_name": language(lang) if found else None,
        "passages": [u.as_dict() for u in picked],
        "keyphrases": [{"phrase": p, "score": round(s, 5)} for p, s in phrases[: MAX_TOPICS * 2]],
    }
