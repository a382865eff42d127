"""Local stand-ins for the paid providers, on 127.0.0.1, speaking their
documented HTTP protocols: Deepgram's pre-recorded ``POST /v1/listen`` and
an OpenAI-compatible ``POST /v1/chat/completions``. They record every request
so tests can check what the real SDKs sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class ProviderServer:
    """Answers every POST with ``status`` and the JSON ``reply`` (set by tests),
    or with what ``respond`` returns for the request's JSON body: (status, body),
    the body sent as is when it is bytes."""

    expected_path: str
    reply: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    requests: list[Recorded] = field(default_factory=list)
    respond: Callable[[Any], tuple[int, Any]] | None = None

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                server.requests.append(
                    Recorded(
                        "POST",
                        url.path,
                        parse_qs(url.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length),
                    )
                )
                known = url.path == server.expected_path
                status, reply = (server.status, server.reply) if known else (404, {"error": "?"})
                if known and server.respond is not None:
                    status, reply = server.respond(json.loads(server.requests[-1].body))
                body = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def deepgram_listen_response(words: list[tuple[str, float, float]]) -> dict[str, Any]:
    """A pre-recorded transcription response shaped as Deepgram documents it."""
    text = " ".join(w for w, _, _ in words)
    word_items = [
        {"word": w.lower().strip(".,"), "start": s, "end": e, "confidence": 0.98,
         "punctuated_word": w}
        for w, s, e in words
    ]  # fmt: skip
    return {
        "metadata": {
            "transaction_key": "deprecated",
            "request_id": "5d6e1c1a-7b0c-4a8e-9c55-2b6d1f0a9e01",
            "sha256": "0" * 64,
            "created": "2026-11-23T21:00:00.000Z",
            "duration": words[-1][2],
            "channels": 1,
            "models": ["1abfe86b-e047-4eed-858a-35e5625b41ee"],
            "model_info": {
                "1abfe86b-e047-4eed-858a-35e5625b41ee": {
                    "name": "general-nova-3",
                    "version": "2024-12-20.0",
                    "arch": "nova-3",
                }
            },
        },
        "results": {
            "channels": [
                {
                    "alternatives": [{"transcript": text, "confidence": 0.97, "words": word_items}],
                    "detected_language": "en",
                    "language_confidence": 0.99,
                }
            ],
            "utterances": [
                {
                    "start": words[0][1],
                    "end": words[-1][2],
                    "confidence": 0.97,
                    "channel": 0,
                    "transcript": text,
                    "words": word_items,
                    "speaker": 0,
                    "id": "b7a3f1e2-0c4d-4e5f-8a9b-1c2d3e4f5a6b",
                }
            ],
        },
    }


def chat_completion(content: str, model: str = "local-model") -> dict[str, Any]:
    """A chat.completion object as the OpenAI API documents it."""
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1763931600,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }
