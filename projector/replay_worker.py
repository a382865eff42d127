"""A second writer for a long replay: a child process that replays some
partitions while the parent replays the others (``replay.replay_in_two``).

Started as ``python -m projector.replay_worker``; it reads its orders from stdin
as one JSON object (where to read and write, which partitions up to which
offsets), so no secret shows in the process list, and prints the size of each
batch it committed, one per line, for the parent's progress display.
"""

from __future__ import annotations

import json
import sys

import uvloop

from infra.heap import tune_collector
from infra.settings import Settings
from projector import projection_schema as schemas
from projector.replay import log_reader, replay, replay_engine


def _report(count: int) -> None:
    sys.stdout.write(f"{count}\n")
    sys.stdout.flush()


async def _main(orders: dict[str, object]) -> None:
    settings = Settings(
        database_url=str(orders["database_url"]),
        kafka_bootstrap_servers=str(orders["kafka_bootstrap_servers"]),
    )
    targets = {int(p): int(o) for p, o in dict(orders["targets"]).items()}  # type: ignore[call-overload]
    engine = replay_engine(settings, pool_size=1)
    try:
        target = schemas.engine_for(engine, str(orders["schema"]))
        async with log_reader(settings) as consumer:
            await replay(target, consumer, targets, _report)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    tune_collector()
    uvloop.run(_main(json.loads(sys.stdin.read())))
