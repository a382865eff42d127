"""The pieces of read-your-writes on the real PostgreSQL and Kafka: the
watermark wakes waiters when the projection passes their offset (thousands of
them for one query per tick, or at the projector's commit when it listens for
its notices), and the log's end offsets are only ever handed to callers who
asked before the fetch began."""

from __future__ import annotations

import asyncio
import time
from uuid import uuid4

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert

from events import EVENTS_TOPIC, AnalysisRequested, new_envelope
from infra.database import asyncpg_dsn, create_engine, create_pool
from infra.settings import Settings
from projector.store import Record, apply_batch, stored_positions
from read_model import watermark as watermarks
from read_model.positions import CatchUp, LogEnds, ProjectionBehind
from read_model.tables import (
    POSITIONS_CHANNEL,
    PROJECTION,
    projection_position,
    read_positions_notice,
)
from read_model.watermark import NOTICES_APPLICATION, ProjectionWatermark
from tests.conftest import free_port
from tests.integration.log_tools import produce
from tests.partitions import own_partition, own_partitions


def test_waiters_wake_when_the_projection_passes_their_offset(migrated: dict[str, str]) -> None:
    partition = own_partition()

    async def scenario() -> tuple[bool, bool, float, list[bool], bool]:
        settings = Settings(database_url=migrated["DATABASE_URL"])
        engine = create_engine(settings)
        pool = await create_pool(settings)
        watermark = ProjectionWatermark(pool)

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
            timed_out = await watermark.wait_applied(partition, 5, 0.2)
            crowd = [
                asyncio.create_task(watermark.wait_applied(partition, o, 10)) for o in range(3000)
            ]
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            await advance(3000)
            woken = await asyncio.gather(*crowd)
            elapsed = time.perf_counter() - started
            late = await watermark.wait_applied(partition, 5, 0.2)
            caught_up = await watermark.wait_caught_up({partition: 3000}, 0.2)
            return timed_out, late, elapsed, woken, caught_up
        finally:
            await watermark.close()
            await pool.close()
            await engine.dispose()

    timed_out, late, elapsed, woken, caught_up = asyncio.run(scenario())
    assert timed_out is False
    assert all(woken)
    assert elapsed < 2.0
    assert late is True
    assert caught_up is True


def test_a_listening_watermark_wakes_at_the_projectors_commit(
    migrated: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the fallback poll 30 s apart, only the projector's notice can wake the
    waiters in time; after its listening connection is killed, it listens again."""
    monkeypatch.setattr(watermarks, "FALLBACK_POLL_SECONDS", 30.0)
    partition = own_partition()

    def record(offset: int) -> Record:
        event = AnalysisRequested(
            analysis_id=uuid4(), prompt="p", media_url="https://e.invalid/a", media_type="audio"
        )
        return Record(partition, offset, new_envelope(event, source="/tests"))

    listeners = text("SELECT pid FROM pg_stat_activity WHERE application_name = :name")

    async def scenario() -> tuple[list[float], list[set[int]]]:
        settings = Settings(database_url=migrated["DATABASE_URL"])
        engine = create_engine(settings)
        pool = await create_pool(settings)
        async with engine.connect() as conn:  # the services' own, left alone
            others = set((await conn.execute(listeners, {"name": NOTICES_APPLICATION})).scalars())
        watermark = ProjectionWatermark(
            pool, poll_interval=30.0, listen_dsn=asyncpg_dsn(settings.database_url)
        )
        waits: list[float] = []
        killed: list[set[int]] = []
        try:
            for offset in (0, 1):
                waiting = asyncio.create_task(watermark.wait_applied(partition, offset, 10))
                await asyncio.sleep(0.3)  # listening, polled once, now pausing for 30 s
                assert not waiting.done()
                started = time.perf_counter()
                await apply_batch(engine, [record(offset)])
                assert await waiting
                waits.append(time.perf_counter() - started)
                async with engine.connect() as conn:  # its listening connection dies
                    pids = set(
                        (await conn.execute(listeners, {"name": NOTICES_APPLICATION})).scalars()
                    )
                    for pid in pids - others:
                        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                    killed.append(pids - others - (killed[-1] if killed else set()))
            return waits, killed
        finally:
            await watermark.close()
            await pool.close()
            await engine.dispose()

    waits, killed = asyncio.run(scenario())
    first, second = killed
    assert len(first) == 1
    assert len(second) == 1  # the connection it opened again
    assert max(waits) < 2.0, waits  # not the 30 s poll, before and after the reconnect


def test_each_batch_announces_the_positions_it_saved(migrated: dict[str, str]) -> None:
    """The notice a listener gets when a batch commits, as the projector's statement
    writes it; a batch over so many partitions that the notice would be too long
    for PostgreSQL still commits, and announces nothing."""
    first = own_partitions(802)[0]

    def record(partition: int) -> Record:
        event = AnalysisRequested(
            analysis_id=uuid4(), prompt="p", media_url="https://e.invalid/a", media_type="audio"
        )
        return Record(partition, 4, new_envelope(event, source="/tests"))

    async def scenario() -> tuple[list[str], dict[int, int]]:
        engine = create_engine(Settings(database_url=migrated["DATABASE_URL"]))
        heard: asyncio.Queue[str] = asyncio.Queue()
        listener = await asyncpg.connect(asyncpg_dsn(migrated["DATABASE_URL"]))
        await listener.add_listener(POSITIONS_CHANNEL, lambda *args: heard.put_nowait(args[3]))
        payloads = []
        try:
            for partitions in (range(first, first + 2), range(first + 2, first + 802)):
                await apply_batch(engine, [record(p) for p in partitions])
                while True:  # other tests' batches may be announced meanwhile
                    payload = await asyncio.wait_for(heard.get(), 10)
                    announced = read_positions_notice(payload, PROJECTION, EVENTS_TOPIC)
                    if payload == "" or first in announced:
                        payloads.append(payload)
                        break
            saved = await stored_positions(engine)
        finally:
            await listener.close()
            await engine.dispose()
        return payloads, saved

    (small, large), saved = asyncio.run(scenario())
    assert read_positions_notice(small, PROJECTION, EVENTS_TOPIC) == {first: 5, first + 1: 5}
    assert large == ""  # 800 partitions: too long to announce, committed all the same
    assert all(saved[p] == 5 for p in range(first, first + 802))


class GatedEnds(LogEnds):
    """Holds its first fetch open after Kafka answered, to let callers arrive meanwhile."""

    def __init__(self, bootstrap: list[str]) -> None:
        super().__init__({"bootstrap_servers": bootstrap})
        self.fetches = 0
        self.answered = asyncio.Event()
        self.gate = asyncio.Event()

    async def fetch(self) -> dict[int, int]:
        self.fetches += 1
        ends = await super().fetch()
        if self.fetches == 1:
            self.answered.set()
            await self.gate.wait()
        return ends


def test_callers_who_arrive_during_a_fetch_get_a_later_one(prepared: dict[str, str]) -> None:
    bootstrap = prepared["KAFKA_BOOTSTRAP_SERVERS"]

    async def scenario() -> tuple[dict[int, int], list[dict[int, int]], int, tuple[int, int]]:
        ends = GatedEnds([bootstrap])
        try:
            early = asyncio.create_task(ends.after_now())
            # The first fetch has its answer (the consumer's start-up can take a
            # while) and is held open.
            await asyncio.wait_for(ends.answered.wait(), 30)
            event = AnalysisRequested(
                analysis_id=uuid4(), prompt="p", media_url="https://e.invalid/a", media_type="video"
            )
            (acked,) = await produce(bootstrap, [new_envelope(event, source="/tests")])
            late = [asyncio.create_task(ends.after_now()) for _ in range(50)]
            await asyncio.sleep(0.05)
            ends.gate.set()
            return (
                await early,
                list(await asyncio.gather(*late)),
                ends.fetches,
                (acked.partition, acked.offset),
            )
        finally:
            await ends.close()

    early, late, fetches, (partition, offset) = asyncio.run(scenario())
    assert fetches == 2  # fifty late callers shared one fetch
    assert all(seen == late[0] for seen in late)
    # The first answer ends before the event acknowledged after it, and the late
    # callers' answer after it: their fetch started after they arrived. (Compared at
    # the event's own offset: other tests may produce to the topic meanwhile.)
    assert early[partition] <= offset < late[0][partition]


class FixedEnds(LogEnds):
    """The log as a partition no projector writes would show it."""

    def __init__(self, ends: dict[int, int]) -> None:
        super().__init__({"bootstrap_servers": ["127.0.0.1:1"]})
        self.ends = ends

    async def fetch(self) -> dict[int, int]:
        return self.ends


def test_catch_up_never_confirms_a_miss_it_cannot_prove(migrated: dict[str, str]) -> None:
    partition = own_partition()

    async def scenario() -> list[str]:
        settings = Settings(database_url=migrated["DATABASE_URL"])
        engine = create_engine(settings)
        pool = await create_pool(settings)
        watermark = ProjectionWatermark(pool)
        outcomes: list[str] = []
        unreachable = LogEnds(
            {"bootstrap_servers": [f"127.0.0.1:{free_port()}"]}, request_timeout_ms=1000
        )
        for ends in (unreachable, FixedEnds({partition: 10})):
            started = time.perf_counter()
            try:
                await CatchUp(ends, watermark, 1.0).wait()
                outcomes.append("confirmed")
            except ProjectionBehind as exc:
                outcomes.append(f"{exc} after {time.perf_counter() - started:.1f}s")
        async with engine.begin() as conn:
            stmt = insert(projection_position).values(
                projection=PROJECTION, topic=EVENTS_TOPIC, partition=partition, next_offset=10
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["projection", "topic", "partition"], set_={"next_offset": 10}
                )
            )
        await CatchUp(FixedEnds({partition: 10}), watermark, 1.0).wait()
        outcomes.append("confirmed")
        await unreachable.close()
        await watermark.close()
        await pool.close()
        await engine.dispose()
        return outcomes

    unreachable, behind, confirmed = asyncio.run(scenario())
    assert unreachable.startswith("cannot read the event log's end offsets")
    assert behind.startswith("the projection has not caught up with the event log within 1s")
    for outcome in (unreachable, behind):
        assert float(outcome.rsplit(" after ", 1)[1].rstrip("s")) < 3.0
    assert confirmed == "confirmed"
