"""The LLM port and its OpenAI-compatible chat-completions adapter (official
``openai`` SDK; LLM_BASE_URL covers OpenAI, MiniMax and local servers).
The SDK's retries are off: retrying is the processor runtime's decision."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Protocol

import openai
from openai import AsyncOpenAI

from processors.errors import ProviderError


@dataclass(frozen=True, slots=True)
class Answer:
    summary: str
    topics: list[str] = field(default_factory=list)
    structured: bool = True
    """False when the model did not answer in JSON and its text became the summary."""


class LLM(Protocol):
    model: str

    async def answer(self, system: str, user: str) -> Answer:
        """Raise ProviderError (retryable or not) when the provider fails."""
        ...


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.I)


def parse_answer(content: str) -> Answer:
    """JSON ``{summary, topics}`` if the model gave it, else the text as summary."""
    text = _FENCE.sub("", content.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("summary"), str):
        raw = data.get("topics")
        topics = [str(t).strip() for t in raw if str(t).strip()] if isinstance(raw, list) else []
        return Answer(data["summary"].strip(), topics[:20])
    return Answer(content.strip(), [], structured=False)


class OpenAICompatibleLLM:
    def __init__(self, base_url: str, api_key: str | None, model: str, timeout: float) -> None:
        self.model = model
        self._client = AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",  # local servers ask for none
            timeout=timeout,
            max_retries=0,
        )

    async def answer(self, system: str, user: str) -> Answer:
        try:
            completion = await self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                temperature=0.2,
            )
        except openai.APIStatusError as exc:
            status = exc.status_code
            raise ProviderError(
                f"the LLM provider answered HTTP {status}: {exc.message}",
                retryable=status == 429 or status >= 500,
            ) from exc
        except openai.APIConnectionError as exc:  # includes timeouts
            raise ProviderError(f"cannot reach the LLM provider: {exc}", retryable=True) from exc
        finally:
            await self._client.close()
        if not completion.choices or not completion.choices[0].message.content:
            raise ProviderError("the LLM provider answered with no content", retryable=True)
        return parse_answer(completion.choices[0].message.content)
