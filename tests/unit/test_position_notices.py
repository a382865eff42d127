"""The projector's position notices: what a listener takes from a payload."""

from __future__ import annotations

from read_model.tables import read_positions_notice

# As PostgreSQL's json_build_object writes it (projector/batch_sql.py).
NOTICE = (
    '{"projection" : "analysis_request", "topic" : "media-analysis.events",'
    ' "positions" : { "0" : 12, "5" : 7 }}'
)


def test_a_notice_carries_its_positions() -> None:
    assert read_positions_notice(NOTICE, "analysis_request", "media-analysis.events") == {
        0: 12,
        5: 7,
    }


def test_other_projections_and_stray_payloads_announce_nothing() -> None:
    assert read_positions_notice(NOTICE, "analysis_request", "another.topic") == {}
    for stray in ("", "hello", "[]", '{"projection": "analysis_request"}', "null"):
        assert read_positions_notice(stray, "analysis_request", "media-analysis.events") == {}
