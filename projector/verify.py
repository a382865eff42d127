"""Verify the live projection against a replay of the log.

A consistent copy of the live tables is taken together with the positions they
were built to (one REPEATABLE READ snapshot, so the live projector never
pauses); the log is replayed up to exactly those positions into a scratch schema
by the projector's own store; then the two are compared row by row and column
by column. The scratch schema is dropped afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TextIO
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from events import EVENTS_TOPIC
from infra.settings import Settings
from projector import projection_schema as schemas
from projector.progress import Progress
from projector.replay import Offsets, log_reader, remaining, replay_engine, replay_in_two
from read_model.tables import PROJECTION

COMPARED = {"analysis_request": "id", "analysis_event": "event_id", "analysis_count": "bucket"}
"""Table -> key column, for the tables compared row by row.

SQL here is built from identifiers that ``projection_schema.quoted`` accepted
(plain lower-case names) and values passed as parameters, hence the S608 waivers.
"""

SHOWN = 50


@dataclass
class Drift:
    differences: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _describe(table: str, key: str, live: dict[str, Any] | None, log: dict[str, Any] | None) -> str:
    if live is None:
        return f"{table} {key}: only in the replayed log (missing from the live table)"
    if log is None:
        return f"{table} {key}: only in the live table (no such events in the log)"
    columns = sorted(c for c in live.keys() | log.keys() if live.get(c) != log.get(c))
    parts = [f"{c}: live={_show(live.get(c))} log={_show(log.get(c))}" for c in columns]
    return f"{table} {key}: " + "; ".join(parts)


async def _snapshot(engine: AsyncEngine, live: str, scratch: str) -> Offsets:
    """Copy the live tables into ``scratch`` and return the positions they match."""
    q = schemas.quoted
    async with engine.connect() as raw:
        conn = await raw.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            rows = await conn.execute(
                text(
                    f"SELECT partition, next_offset FROM {q(live)}.projection_position "  # noqa: S608
                    "WHERE projection = :p AND topic = :t"
                ),
                {"p": PROJECTION, "t": EVENTS_TOPIC},
            )
            positions = {int(p): int(o) for p, o in rows}
            for table in COMPARED:
                await conn.execute(
                    text(
                        f"CREATE TABLE {q(scratch)}.{q('live_' + table)} AS "  # noqa: S608
                        f"SELECT * FROM {q(live)}.{q(table)}"
                    )
                )
    return positions


async def _compare(engine: AsyncEngine, scratch: str) -> Drift:
    q = schemas.quoted
    drift = Drift()
    async with engine.connect() as conn:
        for table, key in COMPARED.items():
            live_t, log_t = f"{q(scratch)}.{q('live_' + table)}", f"{q(scratch)}.{q(table)}"
            differing = (
                f"FROM {live_t} l FULL JOIN {log_t} r ON l.{q(key)} = r.{q(key)} "
                "WHERE to_jsonb(l) IS DISTINCT FROM to_jsonb(r)"
            )
            count = int((await conn.execute(text(f"SELECT count(*) {differing}"))).scalar_one())
            drift.rows[table] = int(
                (await conn.execute(text(f"SELECT count(*) FROM {live_t}"))).scalar_one()  # noqa: S608
            )
            drift.differences += count
            shown = await conn.execute(
                text(
                    f"SELECT coalesce(l.{q(key)}, r.{q(key)})::text, to_jsonb(l), to_jsonb(r) "
                    f"{differing} ORDER BY 1 LIMIT {SHOWN}"
                )
            )
            drift.lines.extend(_describe(table, k, lv, rv) for k, lv, rv in shown)
    return drift


async def verify(settings: Settings, out: TextIO) -> Drift:
    """Compare the live projection with a replay of the log; report to ``out``."""
    engine = replay_engine(settings, pool_size=2)
    scratch = f"projection_verify_{uuid4().hex[:12]}"
    try:
        async with engine.begin() as conn:
            live = await schemas.live_schema(conn)
            await schemas.create_like_live(conn, scratch, live)
        positions = await _snapshot(engine, live, scratch)
        target = schemas.engine_for(engine, scratch)
        async with log_reader(settings) as consumer:
            progress = Progress("verify", await remaining(target, positions), out)
            await replay_in_two(target, scratch, consumer, settings, positions, progress.add)
            progress.finish()
        drift = await _compare(engine, scratch)
    finally:
        async with engine.begin() as conn:
            await schemas.drop(conn, scratch)
        await engine.dispose()
    for line in drift.lines:
        out.write(line + "\n")
    if drift.differences > len(drift.lines):
        out.write(f"... and {drift.differences - len(drift.lines)} more\n")
    return drift
