"""Fixtures of the stack tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import MediaServer
from tests.e2e.browser import start_chromium


@pytest.fixture(scope="session")
def gone_media_url(media_server: MediaServer) -> str:
    """A local URL that answers 404: the processor fails such an analysis at once
    (a permanent error: no retries, no media work), keeping it cheap to submit many."""
    return media_server.url("gone.mp4")


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium per test module."""
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()
