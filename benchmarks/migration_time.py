"""How long do this release's migrations take on a database holding 1M rows?

Run by benchmarks/run.py on the bench database after the history seed: it goes
back to revision 0003 (before the count projection and the API keys), then times
``alembic upgrade head`` exactly as ``media-analysis migrate`` runs it (0004
backfills analysis_count from every row and builds an index over them).
"""

from __future__ import annotations

import time

from infra import migrations
from infra.settings import Settings

BASELINE = "0003"


def time_upgrade(database_url: str) -> dict[str, float | str]:
    settings = Settings(database_url=database_url)
    migrations.downgrade(settings, BASELINE)
    started = time.perf_counter()
    migrations.upgrade(settings)
    return {"from": BASELINE, "to": "head", "seconds": round(time.perf_counter() - started, 2)}


def main() -> None:
    """Time the upgrade on DATABASE_URL and add it to benchmarks/results/latest.json."""
    import json
    import os
    from pathlib import Path

    latest = Path(__file__).resolve().parent / "results" / "latest.json"
    results = json.loads(latest.read_text())
    results["migration"] = time_upgrade(os.environ["DATABASE_URL"])
    latest.write_text(json.dumps(results, indent=2) + "\n")
    print(f"[bench] migration: {results['migration']}")


if __name__ == "__main__":
    main()
