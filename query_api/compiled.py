"""The read side's queries: written in SQLAlchemy Core, compiled once per shape,
run on asyncpg.

Building a Core statement and executing it through SQLAlchemy's async layer cost
about 1.5 ms of CPU per history page (construction and cache keys ~1 ms, the
execution layer ~0.25 ms per statement) against 0.2 ms for asyncpg running the
same SQL (BENCHMARKS.md). A listing has few shapes (which filters are present,
the sort, the paging mode), so each shape is built once with named bind
parameters, compiled for asyncpg's ``$n`` placeholders and cached; a request
only supplies the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql import ClauseElement

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class Compiled:
    """SQL text with ``$n`` placeholders and the bind names in their order."""

    sql: str
    names: tuple[str, ...]

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] for name in self.names]

    async def fetch(self, conn: asyncpg.Connection, values: Mapping[str, Any]) -> list[Any]:
        rows: list[Any] = await conn.fetch(self.sql, *self.args(values))
        return rows

    async def fetchval(self, conn: asyncpg.Connection, values: Mapping[str, Any]) -> Any:
        return await conn.fetchval(self.sql, *self.args(values))


def compile_for_asyncpg(statement: ClauseElement) -> Compiled:
    """``statement`` as asyncpg runs it; its bind parameters must be named."""
    compiled = statement.compile(dialect=_DIALECT)
    names: list[str] = getattr(compiled, "positiontup", None) or []  # a positional dialect's
    return Compiled(compiled.string, tuple(names))
