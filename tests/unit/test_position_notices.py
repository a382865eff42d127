"""The projector's position notices: what a listener takes from a payload."""

from __future__ import annotations

from media_analysis.read_model import positions_notice, read_positions_notice


def test_a_notice_carries_its_positions() -> None:
    payload = positions_notice("analysis_request", "media-analysis.events", {0: 12, 5: 7})
    assert len(payload) < 8000  # PostgreSQL's limit on a NOTIFY payload
    assert read_positions_notice(payload, "analysis_request", "media-analysis.events") == {
        0: 12,
        5: 7,
    }


def test_other_projections_and_stray_payloads_announce_nothing() -> None:
    other = positions_notice("analysis_request", "another.topic", {0: 12})
    assert read_positions_notice(other, "analysis_request", "media-analysis.events") == {}
    for stray in ("", "hello", "[]", '{"projection": "analysis_request"}', "null"):
        assert read_positions_notice(stray, "analysis_request", "media-analysis.events") == {}
