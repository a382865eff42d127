"""Rebuild the projection from offset 0 without downtime.

1. Replay the whole log into a fresh schema (``projection_rebuild``) shaped like
   the live tables, while the live projector and the query API carry on with
   the old ones. Each batch commits with its positions, so an interrupted
   rebuild resumes where it stopped when run again.
2. Once it has nearly caught up, lock the live ``projection_position`` table
   (the live projector pauses before its next batch; readers are not blocked),
   replay the last records up to the live projector's positions, and in the same
   transaction move the live tables aside and the rebuilt ones into their place.
3. The live projector's next batch then runs against the rebuilt tables, whose
   positions equal the ones it had reached: it neither skips nor repeats a record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TextIO

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events import EVENTS_TOPIC, MediaAnalysisError
from infra.settings import Settings
from projector import projection_schema as schemas
from projector.progress import Progress
from projector.replay import (
    Offsets,
    end_offsets,
    log_reader,
    remaining,
    replay,
    replay_engine,
    replay_in_two,
)
from read_model.tables import PROJECTION

REBUILD_SCHEMA = "projection_rebuild"
RETIRED_SCHEMA = "projection_retired"
ADVISORY_LOCK = 0x6D612D72  # one rebuild at a time per database
CATCH_UP_BELOW = 2000
"""Switch once fewer records than this remain: the live projector pauses only that long."""


class RebuildAlreadyRunning(MediaAnalysisError):
    """Another rebuild holds the lock."""


@dataclass(frozen=True, slots=True)
class Rebuilt:
    events: int
    seconds: float
    positions: Offsets
    resumed: bool


async def _prepare(conn: AsyncConnection, live: str) -> bool:
    """Make sure the rebuild schema exists; True when resuming an earlier run."""
    await schemas.drop(conn, RETIRED_SCHEMA)
    if await schemas.schema_exists(conn, REBUILD_SCHEMA):
        if await schemas.same_shape(conn, REBUILD_SCHEMA, live):
            return True
        await schemas.drop(conn, REBUILD_SCHEMA)  # the migrations moved on since
    await schemas.create_like_live(conn, REBUILD_SCHEMA, live)
    return False


async def _live_positions(conn: AsyncConnection, live: str) -> Offsets:
    query = text(
        f"SELECT partition, next_offset FROM {schemas.quoted(live)}.projection_position "  # noqa: S608
        "WHERE projection = :p AND topic = :t"
    )
    rows = await conn.execute(query, {"p": PROJECTION, "t": EVENTS_TOPIC})
    return {int(p): int(o) for p, o in rows}


async def _run(engine: AsyncEngine, settings: Settings, out: TextIO) -> Rebuilt:
    started = time.monotonic()
    async with engine.begin() as conn:
        live = await schemas.live_schema(conn)
        resumed = await _prepare(conn, live)
    target = schemas.engine_for(engine, REBUILD_SCHEMA)
    async with log_reader(settings) as consumer:
        ends = await end_offsets(consumer)
        progress = Progress("rebuild", await remaining(target, ends), out)
        while True:
            await replay_in_two(target, REBUILD_SCHEMA, consumer, settings, ends, progress.add)
            ends = await end_offsets(consumer)
            left = await remaining(target, ends)
            if left < CATCH_UP_BELOW:
                break
            progress.total = progress.done + left
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL lock_timeout = '30s'"))
            await conn.execute(
                text(f"LOCK TABLE {schemas.quoted(live)}.projection_position IN EXCLUSIVE MODE")
            )
            positions = await _live_positions(conn, live)
            progress.total = progress.done + await remaining(target, positions)
            await replay(target, consumer, positions, progress.add)
            await schemas.swap_in(conn, REBUILD_SCHEMA, live, RETIRED_SCHEMA)
        progress.finish()
    async with engine.begin() as conn:
        await schemas.drop(conn, RETIRED_SCHEMA)
        final = await _live_positions(conn, live)
    return Rebuilt(progress.done, time.monotonic() - started, final, resumed)


async def rebuild(settings: Settings, out: TextIO) -> Rebuilt:
    """Replay the log into a fresh schema and switch the live projection to it."""
    engine = replay_engine(settings, pool_size=3)
    try:
        async with engine.connect() as guard:
            locked = await guard.scalar(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK}
            )
            await guard.commit()
            if not locked:
                raise RebuildAlreadyRunning(
                    "another projection rebuild is running on this database"
                )
            try:
                return await _run(engine, settings, out)
            finally:
                await guard.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK})
                await guard.commit()
    finally:
        await engine.dispose()
