"""The LLM port and its OpenAI-compatible chat-completions adapter (official
``openai`` SDK; LLM_BASE_URL covers OpenAI, MiniMax, vLLM, Ollama, llama.cpp).

Structured output is asked for the strongest way the server accepts: a JSON
schema (``response_format`` ``json_schema``), then a JSON object with the
schema beside it (llama.cpp, vLLM), then plain text parsed leniently. A server
that refuses a format (an HTTP error that names it) is asked again with the
next; the format that worked is remembered per server and model for the life
of the process. The SDK's retries are off: retrying is the caller's decision."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai
from openai import AsyncOpenAI

from processors.errors import ProviderError

FORMATS = ("json_schema", "json_object", "text")
MAX_TOPICS = 8
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "topics": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_TOPICS},
    },
    "required": ["summary", "topics"],
    "additionalProperties": False,
}
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "schema", "grammar",
                 "not supported", "unsupported")  # fmt: skip
_accepted: dict[tuple[str, str], str] = {}
"""(base URL, model) → the structured-output format that server accepted."""


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    summary: str
    topics: list[str] = field(default_factory=list)
    structured: bool = True
    """False when the model did not answer in JSON and its text became the summary."""
    response_format: str = "text"
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class Prompt:
    system: str
    user: str
    images: tuple[str, ...] = ()
    """``data:`` URLs of pictures, sent as image parts (vision-capable models)."""


class LLM(Protocol):
    model: str

    async def answer(self, prompt: Prompt, *, max_tokens: int, temperature: float) -> Answer:
        """Raise ProviderError (retryable or not) when the provider fails."""
        ...

    async def aclose(self) -> None: ...


_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.I | re.S)


def _json_object(text: str) -> Any:
    candidates = [text, *_FENCE.findall(text)]
    if "{" in text and "}" in text:
        candidates.append(text[text.index("{") : text.rindex("}") + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    return None


def parse_answer(content: str, response_format: str = "text", usage: Usage | None = None) -> Answer:
    """JSON ``{summary, topics}`` if the model gave it (bare, fenced or inside
    prose), else the whole text as the summary."""
    data = _json_object(content.strip())
    usage = usage or Usage()
    if isinstance(data, dict) and isinstance(data.get("summary"), str) and data["summary"].strip():
        raw = data.get("topics")
        topics = [str(t).strip() for t in raw if str(t).strip()] if isinstance(raw, list) else []
        return Answer(data["summary"].strip(), topics[:MAX_TOPICS], True, response_format, usage)
    return Answer(content.strip(), [], False, response_format, usage)


def _refuses_format(exc: openai.APIStatusError) -> bool:
    said = f"{exc.message} {exc.body}".lower()
    return exc.status_code in (400, 404, 415, 422, 500, 501) and any(
        w in said for w in _FORMAT_WORDS
    )


def _response_format(kind: str) -> dict[str, Any]:
    if kind == "json_schema":
        schema = {"name": "answer", "schema": ANSWER_SCHEMA, "strict": True}
        return {"response_format": {"type": "json_schema", "json_schema": schema}}
    if kind == "json_object":
        return {"response_format": {"type": "json_object", "schema": ANSWER_SCHEMA}}
    return {}


class OpenAICompatibleLLM:
    def __init__(self, base_url: str, api_key: str | None, model: str, timeout: float) -> None:
        self.model = model
        self._key = (base_url, model)
        self._client = AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",  # local servers ask for none
            timeout=timeout,
            max_retries=0,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def answer(self, prompt: Prompt, *, max_tokens: int, temperature: float) -> Answer:
        user: Any = prompt.user
        if prompt.images:
            user = [{"type": "text", "text": prompt.user}] + [
                {"type": "image_url", "image_url": {"url": url}} for url in prompt.images
            ]
        messages = [{"role": "system", "content": prompt.system}, {"role": "user", "content": user}]
        start = FORMATS.index(_accepted.get(self._key, FORMATS[0]))
        for kind in FORMATS[start:]:
            try:
                completion = await self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=max_tokens,
                    temperature=temperature,
                    extra_body=_response_format(kind),
                )
            except openai.APIStatusError as exc:
                if kind != FORMATS[-1] and _refuses_format(exc):
                    continue
                status = exc.status_code
                raise ProviderError(
                    f"the LLM provider answered HTTP {status}: {exc.message}",
                    retryable=status == 429 or status >= 500,
                ) from exc
            except openai.APIConnectionError as exc:  # includes timeouts
                raise ProviderError(
                    f"cannot reach the LLM provider: {exc}", retryable=True
                ) from exc
            except (openai.OpenAIError, ValueError) as exc:  # a body the SDK cannot read
                raise ProviderError(
                    f"the LLM provider's answer is unreadable: {exc}", retryable=False
                ) from exc
            _accepted[self._key] = kind
            break
        try:
            content = completion.choices[0].message.content if completion.choices else None
            used = completion.usage
        except (AttributeError, TypeError, IndexError) as exc:  # a body not shaped as documented
            raise ProviderError(
                f"the LLM provider's answer is unreadable: {exc!r}", retryable=False
            ) from exc
        if not isinstance(content, str) or not content.strip():
            raise ProviderError("the LLM provider answered with no content", retryable=True)
        usage = (
            Usage(used.prompt_tokens or 0, used.completion_tokens or 0, used.total_tokens or 0)
            if used is not None
            else Usage()
        )
        return parse_answer(content, kind, usage)
