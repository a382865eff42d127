"""The webhook receiver of ``make bench-webhooks``, in a process of its own so that
the load generator's work does not delay its answers: verifies every POST with
``standardwebhooks`` and appends ``<analysis_id> <arrival time>`` (or ``bad``)
to a file, one line each.

    python -m benchmarks.webhook_receiver PORT SECRET OUT_FILE
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError


class Receiver:
    """An ASGI app that verifies each webhook and notes when it arrived."""

    def __init__(self, secret: str, out: IO[str]) -> None:
        self._webhook = Webhook(secret)
        self._out = out

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        at = time.time()
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        try:
            payload = self._webhook.verify(b"".join(chunks), headers)
            self._out.write(f"{payload['data']['analysis_id']} {at}\n")
        except (WebhookVerificationError, KeyError, ValueError):
            self._out.write("bad\n")
        self._out.flush()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def main() -> None:
    port, secret, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(path, "a") as out:
        uvicorn.run(
            Receiver(secret, out), host="127.0.0.1", port=port, log_level="warning",
            lifespan="off", loop="uvloop",
        )  # fmt: skip


if __name__ == "__main__":
    main()
