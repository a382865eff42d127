"""What the answer and OCR stages cost a processor, without the stack.

    make bench-answer        (scripts/bench-answer.sh starts the local model server)

- the extractive summary with its keyphrases, per 1,000 words of transcript;
- OCR per frame (a 1280x720 frame with a caption, and one without text), after
  the engine's one-off load, which is reported apart;
- the local model's answer (scripts/llm-server.sh, BENCH_LLM_URL) to a prompt
  with about 1,000 tokens of context, as the answer stage asks it.

Prints medians and writes ``benchmarks/results/answer_cost.json``. The API's
POST and status paths do none of this work: it runs in the processors.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from processors.answering.extractive import summarise
from processors.answering.llm_answer import Limits, answer_question
from processors.llm import OpenAICompatibleLLM
from processors.ocr_engine import text_reader

OUT = Path(__file__).parent / "results" / "answer_cost.json"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
VOCABULARY = [
    "garden", "club", "tomato", "harvest", "water", "compost", "seed", "summer", "rain",
    "committee", "budget", "meeting", "volunteers", "plot", "greenhouse", "spring", "autumn",
    "soil", "weeds", "tools", "shed", "market", "prize", "judge", "the", "a", "and", "of",
    "to", "in", "on", "for", "with", "we", "will", "our", "this", "that", "is", "was", "are",
]  # fmt: skip


def transcript(words: int, seed: int = 7) -> dict[str, Any]:
    """A transcript of ``words`` words in sentences of 8-16 words, 4 s each."""
    rng = random.Random(seed)  # noqa: S311 (text for a benchmark, not secrets)
    segments: list[dict[str, Any]] = []
    said, start = 0, 0.0
    while said < words:
        size = min(rng.randint(8, 16), words - said)
        text = " ".join(rng.choice(VOCABULARY) for _ in range(size)).capitalize() + "."
        segments.append({"start": start, "end": start + 4, "text": text})
        said, start = said + size, start + 4
    return {"language": "en", "text": " ".join(s["text"] for s in segments), "segments": segments}


def median_ms(run: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def bench_summary() -> dict[str, Any]:
    probe = {"duration": 600.0, "streams": [{"type": "audio", "codec": "aac", "channels": 1}]}
    figures = {}
    for words in (1000, 5000):
        outputs = {"transcript": transcript(words)}
        figures[f"{words}_words_ms"] = median_ms(
            lambda o=outputs: summarise("audio", probe, o, "What was decided?", 600), 9
        )
    return {
        "median_ms_per_1000_words": figures["1000_words_ms"],
        "median_ms_5000_words": figures["5000_words_ms"],
    }


def _frame(path: Path, caption: str | None) -> Path:
    video = "testsrc=size=1280x720:rate=1"
    text = f",drawtext=fontfile={FONT}:text='{caption}':fontsize=56:fontcolor=white:box=1:"
    text += "boxcolor=black@0.7:x=(w-tw)/2:y=h-th-60"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         video + (text if caption else ""), "-frames:v", "1", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def bench_ocr(workdir: Path) -> dict[str, Any]:
    reader = text_reader(threads=2, min_confidence=0.5)
    captioned = _frame(workdir / "caption.jpg", "Quarterly results are in")
    plain = _frame(workdir / "plain.jpg", None)
    started = time.perf_counter()
    found = reader.read(captioned)  # loads the models
    first_ms = (time.perf_counter() - started) * 1000
    return {
        "read_text": " / ".join(line.text for line in found),
        "first_read_with_model_load_ms": round(first_ms, 1),
        "median_ms_per_frame_with_caption": median_ms(lambda: reader.read(captioned), 7),
        "median_ms_per_frame_testsrc": median_ms(lambda: reader.read(plain), 7),
    }


async def bench_local_model(url: str) -> dict[str, Any]:
    limits = Limits(max_tokens=128, temperature=0.2, context_tokens=4096, max_chunks=12)
    times, prompt_tokens, completion_tokens, structured = [], [], [], []
    for run in range(5):
        # A different transcript each run: the server would reuse a repeated prompt's cache.
        segments = transcript(550, seed=run)["segments"]
        words = [f"[{i // 15}:{(i * 4) % 60:02d}] {s['text']}" for i, s in enumerate(segments)]
        llm = OpenAICompatibleLLM(url, None, "smollm2-135m-instruct", 120)
        started = time.perf_counter()
        try:
            outcome = await answer_question(
                llm,
                "Description: 10-minute mono AAC audio.",
                words,
                "What was decided?",
                (),
                limits,
            )
        finally:
            await llm.aclose()
        times.append((time.perf_counter() - started) * 1000)
        prompt_tokens.append(outcome.usage.prompt_tokens)
        completion_tokens.append(outcome.usage.completion_tokens)
        structured.append(outcome.answer.structured)
    return {
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
        "median_prompt_tokens": statistics.median(prompt_tokens),
        "median_completion_tokens": statistics.median(completion_tokens),
        "structured_answers": f"{sum(structured)}/{len(structured)}",
    }


def main() -> None:
    results: dict[str, Any] = {"cpus": os.cpu_count()}
    results["extractive_summary"] = bench_summary()
    print("extractive summary + keyphrases:", results["extractive_summary"], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results["ocr"] = bench_ocr(Path(tmp))
    print("OCR:", results["ocr"], flush=True)
    url = os.environ.get("BENCH_LLM_URL")
    if url:
        results["local_model_answer"] = asyncio.run(bench_local_model(url))
        print("local model answer, ~1,000 tokens of context:", results["local_model_answer"])
    else:
        print("BENCH_LLM_URL not set: the local model's latency is not measured")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
