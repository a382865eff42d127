"""PostgreSQL schemas that hold a copy of the projection's tables.

A rebuild or a verify replays the log into tables shaped exactly like the live
ones (columns, defaults, CHECK constraints and indexes under their live names)
but in a schema of their own; ``engine_for`` points the projector's store at
them. ``swap_in`` moves a rebuilt set into the live schema in one transaction.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from read_model.tables import (
    analysis_count,
    analysis_event,
    analysis_request,
    projection_position,
)

TABLES: tuple[str, ...] = (
    analysis_request.name,
    analysis_event.name,
    projection_position.name,
    analysis_count.name,
)
"""Everything the projector writes, and so everything a replay reproduces."""

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def quoted(name: str) -> str:
    """``name`` as a SQL identifier; only plain lower-case names are accepted."""
    if not _NAME.match(name):
        raise ValueError(f"not a plain schema or table name: {name!r}")
    return f'"{name}"'


def engine_for(engine: AsyncEngine, schema: str) -> AsyncEngine:
    """``engine`` with the read-model tables rendered as ``schema.<table>``."""
    return engine.execution_options(schema_translate_map={None: schema})


async def live_schema(conn: AsyncConnection) -> str:
    """The schema the services' unqualified table names resolve to."""
    return str((await conn.execute(text("SELECT current_schema()"))).scalar_one())


async def schema_exists(conn: AsyncConnection, schema: str) -> bool:
    query = text("SELECT 1 FROM pg_namespace WHERE nspname = :s")
    return (await conn.execute(query, {"s": schema})).first() is not None


async def _columns(conn: AsyncConnection, schema: str, table: str) -> list[tuple[str, str]]:
    query = text(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = :s AND table_name = :t ORDER BY ordinal_position"
    )
    return [(r[0], r[1]) for r in await conn.execute(query, {"s": schema, "t": table})]


async def same_shape(conn: AsyncConnection, schema: str, live: str) -> bool:
    """True when every projection table in ``schema`` has the live table's columns."""
    for table in TABLES:
        if await _columns(conn, schema, table) != await _columns(conn, live, table):
            return False
    return True


async def _indexes(conn: AsyncConnection, schema: str, table: str) -> dict[str, str]:
    """Index name -> its definition without name and table (what makes it that index)."""
    query = text(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = :s AND t.relname = :t ORDER BY i.relname"
    )
    found: dict[str, str] = {}
    for name, definition in await conn.execute(query, {"s": schema, "t": table}):
        unique = definition.startswith("CREATE UNIQUE")
        found[name] = f"{unique}|{definition.split(' USING ', 1)[1]}"
    return found


async def create_like_live(conn: AsyncConnection, schema: str, live: str) -> None:
    """Create ``schema`` with empty copies of the live projection tables."""
    await conn.execute(text(f"CREATE SCHEMA {quoted(schema)}"))
    for table in TABLES:
        await conn.execute(
            text(
                f"CREATE TABLE {quoted(schema)}.{quoted(table)} "
                f"(LIKE {quoted(live)}.{quoted(table)} INCLUDING ALL)"
            )
        )
        # LIKE names the copied indexes itself; give them the live names, so the
        # migrations still find them after a swap.
        wanted = {
            definition: name for name, definition in (await _indexes(conn, live, table)).items()
        }
        for name, definition in (await _indexes(conn, schema, table)).items():
            target = wanted.get(definition)
            if target is not None and target != name:
                await conn.execute(
                    text(f"ALTER INDEX {quoted(schema)}.{quoted(name)} RENAME TO {quoted(target)}")
                )


async def drop(conn: AsyncConnection, schema: str) -> None:
    await conn.execute(text(f"DROP SCHEMA IF EXISTS {quoted(schema)} CASCADE"))


async def swap_in(conn: AsyncConnection, rebuilt: str, live: str, retired: str) -> None:
    """Move the live tables to ``retired`` and the ``rebuilt`` ones to ``live``.

    Runs inside the caller's transaction: readers wait on the locks for the few
    milliseconds it takes and then see the new tables under the same names. That
    transaction commits durably even on a replay connection, whose commits do not
    wait for the disk: its commit record follows every replayed batch in the WAL,
    so flushing it makes them all durable before the live tables are theirs.
    """
    await conn.execute(text("SET LOCAL synchronous_commit = on"))
    await conn.execute(text(f"CREATE SCHEMA {quoted(retired)}"))
    for table in TABLES:
        await conn.execute(
            text(f"ALTER TABLE {quoted(live)}.{quoted(table)} SET SCHEMA {quoted(retired)}")
        )
        await conn.execute(
            text(f"ALTER TABLE {quoted(rebuilt)}.{quoted(table)} SET SCHEMA {quoted(live)}")
        )
    await drop(conn, rebuilt)
