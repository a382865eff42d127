"""Fixtures of the stack tests."""

from __future__ import annotations

import pytest

from tests.conftest import MediaServer


@pytest.fixture(scope="session")
def gone_media_url(media_server: MediaServer) -> str:
    """A local URL that answers 404: the processor fails such an analysis at once
    (a permanent error: no retries, no media work), keeping it cheap to submit many."""
    return media_server.url("gone.mp4")
