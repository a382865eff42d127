"""The history-count projection: analyses per (tenant, UTC day of creation,
status, media type), kept by the projector in the same transaction as the rows.

A batch compares each touched analysis's row before the batch with its row
after it and turns the difference into +1/-1 per bucket; buckets that reach 0
are deleted, so the table is the same whatever the batch boundaries were (a
replay or ``projection verify`` reproduces it exactly).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date
from typing import NamedTuple
from uuid import UUID

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncConnection

from projector.batch_sql import BatchSql
from read_model.fold import AnalysisState
from read_model.tables import RECOUNT_SQL, analysis_count

NO_TENANT = UUID(int=0)
"""The tenant of analyses created without one (access control off)."""


class Bucket(NamedTuple):
    tenant: UUID
    day: date
    status: str
    media_type: str

    @property
    def key(self) -> str:
        """Same text as the migration's ``concat_ws('|', ...)`` of the columns."""
        return f"{self.tenant}|{self.day.isoformat()}|{self.status}|{self.media_type}"


def bucket_of(state: AnalysisState) -> Bucket:
    return Bucket(
        state.created_by or NO_TENANT,
        state.created_at.astimezone(UTC).date(),
        state.status,
        state.media_type,
    )


def deltas(
    before: Mapping[UUID, AnalysisState | None], after: Mapping[UUID, AnalysisState]
) -> Counter[Bucket]:
    """Per bucket, how many analyses entered (+) or left (-) it."""
    change: Counter[Bucket] = Counter()
    for analysis_id, new in after.items():
        old = before.get(analysis_id)
        if old is not None:
            change[bucket_of(old)] -= 1
        change[bucket_of(new)] += 1
    return Counter({b: n for b, n in change.items() if n != 0})


async def apply_deltas(conn: AsyncConnection, sql: BatchSql, change: Counter[Bucket]) -> None:
    if not change:
        return
    ordered = sorted(change.items())  # one lock order for every writer
    buckets = [b.key for b, _ in ordered]
    await conn.exec_driver_sql(
        sql.add_counts,
        (
            buckets,
            [b.tenant for b, _ in ordered],
            [b.day for b, _ in ordered],
            [b.status for b, _ in ordered],
            [b.media_type for b, _ in ordered],
            [n for _, n in ordered],
        ),
    )
    if any(n < 0 for _, n in ordered):  # only a bucket that lost analyses can reach 0
        await conn.exec_driver_sql(sql.drop_empty_counts, (buckets,))


async def recount(conn: AsyncConnection) -> int:
    """Rebuild the counts from ``analysis_request`` (after rows were written by
    something other than the projector, such as a bulk load); returns buckets."""
    await conn.execute(text("LOCK TABLE analysis_count IN EXCLUSIVE MODE"))
    await conn.execute(delete(analysis_count))
    await conn.execute(text(RECOUNT_SQL))
    return int((await conn.execute(text("SELECT count(*) FROM analysis_count"))).scalar_one())
