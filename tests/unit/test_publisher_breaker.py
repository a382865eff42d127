"""While Kafka is failing, one request tries and the rest are refused at once."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import uuid4

import pytest

from command_api.publisher import EventLogUnavailable, KafkaEventPublisher
from events import AnalysisDeleted, new_envelope


class _Broker:
    """Stands in for FastStream's broker: hangs while ``down``, else acknowledges."""

    def __init__(self) -> None:
        self.down = True
        self.calls = 0

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.down:
            await asyncio.sleep(3600)

        class Meta:
            partition, offset = 0, self.calls

        return Meta()


def _event() -> Any:
    return new_envelope(AnalysisDeleted(analysis_id=uuid4()), source="/test")


@pytest.mark.asyncio
async def test_given_kafka_down_then_only_one_request_waits_and_the_others_fail_at_once() -> None:
    broker = _Broker()
    publisher = KafkaEventPublisher(broker, timeout_seconds=0.3)  # type: ignore[arg-type]
    with pytest.raises(EventLogUnavailable, match="within"):
        await publisher.publish(_event())  # the first failure: waited the timeout

    trial = asyncio.create_task(publisher.publish(_event()))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(EventLogUnavailable, match="last attempt"):
        await publisher.publish(_event())
    assert time.monotonic() - started < 0.05, "refused at once, not after the timeout"
    with pytest.raises(EventLogUnavailable):
        await trial

    broker.down = False
    assert (await publisher.publish(_event())).offset == broker.calls, "the trial succeeds"
    assert (await publisher.publish(_event())).offset == broker.calls, "and closes the breaker"
