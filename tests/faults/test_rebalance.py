"""Fault injection: consumer-group rebalances under a steady POST load. A
second processor and a second projector join the session's groups mid-load;
the first pair leaves with SIGTERM (a clean leave), the next pair is
SIGKILLed (the group notices only at the session timeout). Nothing may be lost,
and no analysis may get two terminal events. The session's own processor and
projector keep running throughout.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import MediaServer, Service, wait_until
from tests.faults.audit import audit, events_by_analysis
from tests.faults.load import SteadyLoad
from tests.faults.stack import assert_healthy, record

pytestmark = [pytest.mark.stack, pytest.mark.faults]

TERMINAL_TYPES = {"media-analysis.analysis.completed", "media-analysis.analysis.failed"}


def test_given_steady_load_when_extra_consumers_join_and_leave_then_nothing_is_lost_or_finished_twice(
    services: dict[str, Service], base_url: str, media_server: MediaServer, prepared: dict[str, str]
) -> None:
    clip = media_server.url("clip.mp4")
    assert_healthy(base_url, clip, services)
    extras: list[Service] = []
    joins = 0
    try:
        with SteadyLoad(base_url, clip, interval=0.3, limit=200) as load:
            for leave in ("sigterm", "sigkill"):
                joins += 1
                wait_until(
                    lambda n=joins: len(load.result.accepted) >= 6 * n, timeout=30, what="load"
                )
                pair = [
                    Service(f"rebalance-{kind}-{joins}", kind, prepared)
                    for kind in ("processor", "projector")
                ]
                extras.extend(pair)
                time.sleep(6)  # both groups rebalance and the newcomers take partitions
                for service in pair:
                    assert service.process.poll() is None, service.log_tail()
                    if leave == "sigterm":
                        service.stop()
                    else:
                        service.process.kill()
                        service.process.wait()
                        service.stop()
                time.sleep(3)
            result = load.stop()
    finally:
        for service in extras:
            service.stop()

    report = audit("consumer-rebalance", result.sent, result.accepted, prepared, timeout=120)
    events = events_by_analysis(prepared, set(result.accepted))
    finished_twice = [
        i for i, mine in events.items() if sum(e.type in TERMINAL_TYPES for e in mine) > 1
    ]
    record(report, result, consumers_joined=2 * joins, finished_twice=len(finished_twice))
    assert report.clean, report
    assert not finished_twice, finished_twice
    assert len(result.accepted) == result.sent, result.statuses  # Kafka and PG stayed up
    assert_healthy(base_url, clip, services)
