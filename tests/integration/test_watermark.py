"""The read-your-writes watermark on the real PostgreSQL: waiters wake when the
projection passes their offset, time out when it does not, and thousands of
them cost one query per tick."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

from sqlalchemy.dialects.postgresql import insert

from command_api.publisher import LogPosition
from command_api.read_your_writes import PROJECTION, ProjectionWatermark
from events import EVENTS_TOPIC
from media_analysis.database import create_engine
from media_analysis.read_model import projection_position
from media_analysis.settings import Settings


def test_waiters_wake_when_the_projection_passes_their_offset(migrated: dict[str, str]) -> None:
    partition = 700 + uuid4().int % 90  # far from the topic's real partitions

    async def scenario() -> tuple[bool, bool, float, list[bool]]:
        engine = create_engine(Settings(database_url=migrated["DATABASE_URL"]))
        watermark = ProjectionWatermark(engine)

        async def advance(to: int) -> None:
            stmt = insert(projection_position).values(
                projection=PROJECTION, topic=EVENTS_TOPIC, partition=partition, next_offset=to
            )
            async with engine.begin() as conn:
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["projection", "topic", "partition"],
                        set_={"next_offset": to},
                    )
                )

        try:
            timed_out = await watermark.wait_applied(LogPosition(partition, 5), 0.2)
            crowd = [
                asyncio.create_task(watermark.wait_applied(LogPosition(partition, o), 10))
                for o in range(3000)
            ]
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            await advance(3000)
            woken = await asyncio.gather(*crowd)
            elapsed = time.perf_counter() - started
            late = await watermark.wait_applied(LogPosition(partition, 5), 0.2)
            return timed_out, late, elapsed, woken
        finally:
            await watermark.close()
            await engine.dispose()

    timed_out, late, elapsed, woken = asyncio.run(scenario())
    assert timed_out is False
    assert all(woken)
    assert elapsed < 2.0
    assert late is True
