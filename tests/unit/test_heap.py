"""The collector after start-up: the start-up heap frozen, young collections rarer."""

from __future__ import annotations

import json
import subprocess
import sys

from infra.heap import YOUNG_COLLECTION_THRESHOLD


def test_after_tuning_the_start_up_heap_is_frozen_and_young_collections_are_rarer() -> None:
    # In a fresh interpreter: the collector's state is process-wide.
    probe = (
        "import gc, json; import entrypoints.app; from infra.heap import tune_collector; "
        "before = gc.get_threshold(); tune_collector(); "
        "print(json.dumps([before, gc.get_threshold(), gc.get_freeze_count()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    before, after, frozen = json.loads(out.stdout)
    assert after == [YOUNG_COLLECTION_THRESHOLD, before[1], before[2]]
    assert before[0] < YOUNG_COLLECTION_THRESHOLD
    assert frozen > 50_000  # the modules and schemas the API imports
