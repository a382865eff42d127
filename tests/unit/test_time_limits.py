"""Time limits fitted to the media: a stage's timeout and the analysis's
deadline grow with the probed duration, between a floor and a cap."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from events import AnalysisRequested
from processors.limits import TimeLimit
from processors.stages.context import StageContext, StageSettings


def test_a_time_limit_is_its_floor_for_short_or_unknown_media_and_grows_up_to_its_cap() -> None:
    limit = TimeLimit(base_seconds=300, per_media_second=0.5, max_seconds=3600)

    assert limit.for_duration(None) == 300
    assert limit.for_duration(60) == 300
    assert limit.for_duration(2 * 3600) == 3600
    assert limit.for_duration(4 * 3600) == 3600
    assert limit.for_duration(1800) == 900
    assert TimeLimit(300).for_duration(4 * 3600) == 300


def test_a_stage_timeout_follows_the_probed_duration() -> None:
    request = AnalysisRequested(
        analysis_id=uuid4(), prompt="p", media_url="http://127.0.0.1/a.mp3", media_type="audio"
    )
    settings = StageSettings(
        timeout_seconds=300, timeout_per_media_second=1.0, timeout_max_seconds=4 * 3600
    )
    ctx = StageContext(request, settings, Path("w"), Path("w/media"), None, "audio")

    assert ctx.stage_timeout == 300
    ctx.probe = {"duration": 2 * 3600.0, "streams": []}
    assert ctx.stage_timeout == 2 * 3600
