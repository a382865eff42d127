"""A replay into fresh tables commits without waiting for the disk, and the
switch that puts the rebuilt tables in place commits durably (real PostgreSQL):
a crash may cost a rebuild some batches, which it replays again, never the
switch or anything before it."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from sqlalchemy import text

from infra.database import create_engine
from infra.settings import Settings
from projector import projection_schema as schemas
from projector.replay import replay_engine

SETTING = "SELECT setting, source FROM pg_settings WHERE name = 'synchronous_commit'"


def test_replay_batches_commit_asynchronously_and_the_switch_durably(
    migrated: dict[str, str],
) -> None:
    settings = Settings(database_url=migrated["DATABASE_URL"])
    tag = uuid4().hex[:8]
    live, rebuilt, retired = f"live_{tag}", f"rebuilt_{tag}", f"retired_{tag}"

    async def scenario() -> tuple[str, str, str, str]:
        engine = replay_engine(settings, pool_size=1)
        plain = create_engine(settings, pool_size=1)
        try:
            async with plain.connect() as conn:
                # The test stack runs the whole server with synchronous_commit off
                # (MA_PG_FAST); ask for the default explicitly to compare with it.
                await conn.execute(text("SET synchronous_commit = on"))
                service = str(await conn.scalar(text("SHOW synchronous_commit")))
            async with engine.begin() as conn:
                source = await schemas.live_schema(conn)
                await schemas.create_like_live(conn, live, source)
                await schemas.create_like_live(conn, rebuilt, source)
            async with engine.begin() as conn:
                # Asked for by the replay's connection itself, not inherited from
                # the server's configuration.
                row = (await conn.execute(text(SETTING))).one()
                batch = f"{row.setting} ({row.source})"
                await schemas.swap_in(conn, rebuilt, live, retired)
                switch = str(await conn.scalar(text("SHOW synchronous_commit")))
            async with engine.connect() as conn:
                after = str(await conn.scalar(text("SHOW synchronous_commit")))
            return service, batch, switch, after
        finally:
            async with plain.begin() as conn:
                for schema in (live, rebuilt, retired):
                    await schemas.drop(conn, schema)
            await engine.dispose()
            await plain.dispose()

    service, batch, switch, after = asyncio.run(scenario())
    assert service == "on"
    assert batch == "off (client)"  # a replayed batch's commit does not wait for its flush
    assert switch == "on"  # the switch's does, and with it every batch before it
    assert after == "off"  # only for the switch's transaction (SET LOCAL)
