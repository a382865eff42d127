"""One webhook POST: signed per Standard Webhooks, sent only to allowed addresses.

The body is signed with the ``standardwebhooks`` library (``webhook-id``,
``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``). The
connection goes through the guarded transport (``infra.guarded_transport``):
the host is resolved and every address checked against the same policy as
media fetching, on the first request and on every redirect, which is followed
by POSTing the same signed body again (up to :data:`MAX_REDIRECTS`). The
receiver's answer body is never read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from infra.address_policy import Network
from infra.guarded_transport import AddressRefused, GuardedTransport

MAX_REDIRECTS = 5
USER_AGENT = "media-analysis-notifier"
REFUSED = "refused: "


@dataclass(frozen=True, slots=True)
class Sent:
    """How one attempt ended: an answer (``status_code``) or an ``error``."""

    started_at: datetime
    url: str
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def refused(self) -> bool:
        """The address policy refused the URL: trying again cannot change that."""
        return self.error is not None and self.error.startswith(REFUSED)


def signed_headers(secret: str, webhook_id: str, body: str, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of ``body``."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
    }


class WebhookSender:
    """POSTs webhooks through one guarded connection pool."""

    def __init__(
        self, allowed: Sequence[Network], timeout_seconds: float, connections: int = 16
    ) -> None:
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(allowed, connections),
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout_seconds),
        )

    async def send(self, url: str, webhook_id: str, body: str, secret: str) -> Sent:
        started_at = datetime.now(UTC)
        began = time.perf_counter()
        status_code, error = await self._post(url, webhook_id, body, secret, started_at)
        duration_ms = round((time.perf_counter() - began) * 1000)
        return Sent(started_at, url, status_code, error, duration_ms)

    async def _post(
        self, url: str, webhook_id: str, body: str, secret: str, now: datetime
    ) -> tuple[int | None, str | None]:
        headers = signed_headers(secret, webhook_id, body, now)
        try:
            current = httpx.URL(url)
        except httpx.InvalidURL as exc:
            return None, f"invalid URL: {exc}"
        for _ in range(MAX_REDIRECTS + 1):
            if current.scheme not in ("http", "https"):
                return None, f"{REFUSED}{current.scheme}:// is not http(s)"
            try:
                request = self._client.build_request("POST", current, content=body, headers=headers)
                response = await self._client.send(request, stream=True)
                await response.aclose()
            except httpx.TimeoutException as exc:
                return (
                    None,
                    f"timeout: {current.host} did not answer in time ({type(exc).__name__})",
                )
            except httpx.TransportError as exc:
                if isinstance(exc.__cause__, AddressRefused):
                    return None, f"{REFUSED}{exc.__cause__}"
                return None, f"cannot connect to {current.host}: {exc or type(exc).__name__}"
            if not response.is_redirect:
                return response.status_code, None
            location = response.headers.get("location", "")
            try:
                current = current.join(location)
            except httpx.InvalidURL as exc:
                return response.status_code, f"redirect to an invalid URL: {exc}"
        return None, f"more than {MAX_REDIRECTS} redirects"

    async def aclose(self) -> None:
        await self._client.aclose()
