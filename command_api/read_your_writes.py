"""Read-your-writes on the command side.

A new command answers as soon as Kafka has acknowledged its event; reads that
find nothing catch up with the log themselves (``read_model.positions``).
Two cases still wait here: DELETE, until the projection shows the analysis
deleted (a read that *finds* the row cannot tell it is stale), and a replayed
idempotent request, whose event an earlier request recorded.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

from command_api.analysis_lookup import AnalysisLookup
from read_model.errors import ReadModelUnavailable


async def wait_visible(lookup: AnalysisLookup, analysis_id: UUID, within: float) -> bool:
    """True once the projection shows ``analysis_id``; False after ``within`` seconds.

    For a repeated idempotent request, whose event an earlier request recorded
    at a position this one does not know (and may not have recorded yet).
    """
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            if await lookup.status_of(analysis_id) is not None:
                return True
        except ReadModelUnavailable:
            pass  # bounded by the deadline like every read-your-writes wait
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.02)
