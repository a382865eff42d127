"""``media-analysis projection rebuild|verify|recount``: the operator's replay
commands, and the repair of the history counts after a bulk load."""

from __future__ import annotations

import sys
from typing import TextIO

import uvloop

from events import MediaAnalysisError
from infra.database import create_engine
from infra.heap import tune_collector
from infra.settings import Settings
from projector.counts import recount
from projector.rebuild import rebuild
from projector.verify import verify


async def _rebuild(settings: Settings, out: TextIO) -> int:
    done = await rebuild(settings, out)
    how = "resumed and finished" if done.resumed else "finished"
    rate = done.events / done.seconds if done.seconds else 0.0
    out.write(
        f"rebuild {how}: replayed {done.events} events in {done.seconds:.1f}s "
        f"({rate:.0f} events/s); the live projection now serves the rebuilt tables "
        f"(positions {dict(sorted(done.positions.items()))})\n"
    )
    return 0


async def _verify(settings: Settings, out: TextIO) -> int:
    drift = await verify(settings, out)
    counted = ", ".join(f"{n} {table} rows" for table, n in drift.rows.items())
    if drift.differences:
        out.write(
            f"verify FAILED: {drift.differences} differences between the live table "
            f"and a replay of the log ({counted} compared)\n"
        )
        return 1
    out.write(f"verify OK: the live projection equals a replay of the log ({counted})\n")
    return 0


async def _recount(settings: Settings, out: TextIO) -> int:
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            found = await recount(conn)
    finally:
        await engine.dispose()
    out.write(f"recount OK: {found} history-count buckets rebuilt from analysis_request\n")
    return 0


def projection_command(action: str, settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run ``action`` (rebuild, verify or recount); the exit status for the CLI."""
    command = {"rebuild": _rebuild, "verify": _verify, "recount": _recount}[action]
    # A replay is Python-bound: uvloop, and a collector that leaves the start-up heap be.
    tune_collector()
    try:
        return uvloop.run(command(settings, out))
    except KeyboardInterrupt:
        out.write(f"\n{action} interrupted; nothing was switched. Run it again to resume.\n")
        return 130
    except MediaAnalysisError as exc:
        out.write(f"{action} failed: {exc}\n")
        return 2
