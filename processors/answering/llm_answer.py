"""The prompt answered by an LLM from the facts the stages found. Words that
do not fit the model's context (LLM_CONTEXT_TOKENS) are summarised part by
part and the parts' notes combined (map-reduce), so a long transcript is
read whole rather than cut off."""

from __future__ import annotations

from dataclasses import dataclass, field

from processors.llm import LLM, Answer, Prompt, Usage

SYSTEM = (
    "You analyse media for a user. You get facts extracted from one media file "
    "(technical description, transcript, document text, text read from pictures) "
    "and the user's question. Answer only from those facts; say so when they do not "
    'tell. Reply with one JSON object only, with two keys: "summary", your answer '
    'to the question in plain sentences, and "topics", a list of at most 8 short '
    "topics of the media."
)
MAP_SYSTEM = (
    "You read one part of the words in a media file. Note briefly what this part "
    "says that bears on the user's question, only from the text given. Reply with "
    'one JSON object only, with two keys: "summary", your notes on this part, and '
    '"topics", a list of its topics.'
)
MARGIN_TOKENS = 128
"""Room left for the chat template and the estimate's error."""
MAP_MAX_TOKENS = 256


def estimate_tokens(text: str) -> int:
    """A cautious token count (about three characters a token): models count
    four or so for English and fewer for other scripts."""
    return len(text) // 3 + 1


def pack(lines: list[str], budget: int) -> list[str]:
    """``lines`` joined into parts of at most ``budget`` estimated tokens each;
    a line longer than that is cut."""
    limit = max(budget, 16) * 3
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        for piece in (line[i : i + limit] for i in range(0, max(len(line), 1), limit)):
            if current and size + len(piece) + 1 > limit:
                parts.append("\n".join(current))
                current, size = [], 0
            current.append(piece)
            size += len(piece) + 1
    if current:
        parts.append("\n".join(current))
    return parts


@dataclass(frozen=True, slots=True)
class Limits:
    max_tokens: int
    temperature: float
    context_tokens: int
    max_chunks: int


@dataclass(slots=True)
class Outcome:
    answer: Answer
    usage: Usage = field(default_factory=Usage)
    calls: int = 0
    chunks: int = 1
    truncated: bool = False


def _user(header: str, words_title: str, words: str, question: str) -> str:
    body = f"Facts:\n{header}"
    if words:
        body += f"\n\n{words_title}:\n{words}"
    return f"{body}\n\nQuestion: {question}"


async def answer_question(
    llm: LLM,
    header: str,
    words: list[str],
    question: str,
    images: tuple[str, ...],
    limits: Limits,
) -> Outcome:
    """The answer, in one call when everything fits the context, else mapped
    over parts and reduced; ``images`` go with the final call only."""
    outcome = Outcome(answer=Answer(""))

    async def ask(prompt: Prompt, max_tokens: int) -> Answer:
        answer = await llm.answer(prompt, max_tokens=max_tokens, temperature=limits.temperature)
        outcome.usage += answer.usage
        outcome.calls += 1
        return answer

    fixed = estimate_tokens(SYSTEM) + estimate_tokens(question) + estimate_tokens(header)
    budget = limits.context_tokens - limits.max_tokens - MARGIN_TOKENS - fixed
    if budget < 64:  # the facts alone fill the context: keep their start
        header = header[: max(0, (limits.context_tokens - limits.max_tokens) * 3 // 2)]
        budget = 64
    text = "\n".join(words)
    title = "Words in the media"
    if estimate_tokens(text) > budget:
        parts = pack(words, budget)
        outcome.chunks = len(parts)
        outcome.truncated = len(parts) > limits.max_chunks
        notes = []
        for number, part in enumerate(parts[: limits.max_chunks], 1):
            user = _user(header, f"Part {number} of {len(parts)} of the words", part, question)
            noted = await ask(Prompt(MAP_SYSTEM, user), min(limits.max_tokens, MAP_MAX_TOKENS))
            notes.append(f"Part {number}: {noted.summary}")
        while estimate_tokens("\n".join(notes)) > budget and len(notes) > 1:
            merged = []
            for group in pack(notes, budget):
                user = _user(header, "Notes on consecutive parts of the words", group, question)
                noted = await ask(Prompt(MAP_SYSTEM, user), min(limits.max_tokens, MAP_MAX_TOKENS))
                merged.append(noted.summary)
            if len(merged) >= len(notes):  # no progress: keep what fits
                notes = pack(merged, budget)[:1]
                break
            notes = merged
        text, title = "\n".join(notes), "Notes on consecutive parts of the words"
    outcome.answer = await ask(
        Prompt(SYSTEM, _user(header, title, text, question), images), limits.max_tokens
    )
    return outcome
