"""What a consumer's ``/metrics`` and ``/readyz`` say about its group membership:
lag per assigned partition, and whether it is assigned and not stuck.

"Stuck" means work was waiting (records behind, or work in flight) and nothing
advanced for longer than the consumer's ``stuck_after``: the consumer calls
:meth:`ConsumerHealth.advanced` whenever it gets something done (a batch
committed, an event published).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Gauge

from infra.consumer_control import ConsumerControl
from infra.ops_server import OpsEndpoints
from infra.readiness import NotReady

LAG = Gauge(
    "media_analysis_consumer_lag_records",
    "Records of an assigned partition the consumer has not read yet.",
    ["consumer", "partition"],
)
ASSIGNED = Gauge(
    "media_analysis_consumer_assigned_partitions",
    "Partitions of the event topic assigned to the consumer.",
    ["consumer"],
)


class ConsumerHealth:
    """Lag gauges and readiness checks of one consumer group member."""

    def __init__(
        self,
        name: str,
        control: ConsumerControl,
        *,
        stuck_after: float,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.name = name
        self._control = control
        self._stuck_after = stuck_after
        self._busy = busy
        self._last_progress = time.monotonic()
        self._shown: set[int] = set()

    def advanced(self) -> None:
        self._last_progress = time.monotonic()

    async def refresh(self) -> dict[int, int]:
        """Set the lag gauges from the consumer; return the lag per partition."""
        lag = await self._control.lag()
        for partition in self._shown - set(lag):
            LAG.remove(self.name, str(partition))
        for partition, behind in lag.items():
            LAG.labels(self.name, str(partition)).set(behind)
        self._shown = set(lag)
        ASSIGNED.labels(self.name).set(len(self._control.assigned()))
        return lag

    async def check_assigned(self) -> None:
        if not self._control.assigned():
            raise NotReady("no partitions assigned")

    async def check_progress(self) -> None:
        idle = time.monotonic() - self._last_progress
        if idle <= self._stuck_after:
            return
        lag = await self.refresh()
        if sum(lag.values()) > 0 or self._busy():
            raise NotReady(f"no progress for {idle:.0f}s with work waiting")
        self.advanced()  # nothing to do is not being stuck

    def register(self, ops: OpsEndpoints) -> None:
        """Add this consumer's checks and lag refresh to ``ops``."""
        ops.add_check("partitions", self.check_assigned)
        ops.add_check("progress", self.check_progress)

        async def refresh() -> None:
            await self.refresh()

        ops.on_scrape(refresh)
