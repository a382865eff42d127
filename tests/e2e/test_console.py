"""The web console in a real browser (tests/e2e/browser.py: Debian's Chromium,
headless, one per module) against the session's services; with keys required
it is tested in test_access_control.py. Writes screenshots of the main pages to
docs/console/."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.select import Select

from events import EVENTS_TOPIC
from tests.conftest import MediaServer, wait_for_status
from tests.e2e.browser import image_loaded, screenshot, shown, text_of, wait
from tests.stage_samples import png_image, speech_video

pytestmark = pytest.mark.stack

HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def submit_form(driver: WebDriver, base_url: str, prompt: str, media_url: str, media: str) -> str:
    """Fill and send the Submit page's form; the analysis's id from the page it opens."""
    driver.get(f"{base_url}/console/")
    driver.find_element(By.ID, "prompt").send_keys(prompt)
    driver.find_element(By.ID, "media-url").send_keys(media_url)
    Select(driver.find_element(By.ID, "media-type")).select_by_value(media)
    driver.find_element(By.ID, "config").send_keys('{"frame_count": 4}')
    driver.find_element(By.ID, "submit").click()
    wait(driver).until(expected_conditions.url_contains("/console/analyses/"))
    return str(driver.current_url.rsplit("/", 1)[-1])


def test_given_the_form_when_a_clip_is_submitted_then_its_page_follows_it_to_completed(
    browser: WebDriver, base_url: str, media_server: MediaServer
) -> None:
    name = f"console-{uuid.uuid4().hex[:8]}.mp4"
    speech_video(media_server.directory / name)
    analysis_id = submit_form(
        browser, base_url, "What is said in this clip?", media_server.url(name), "video"
    )
    uuid.UUID(analysis_id)
    browser.execute_script("window.sameDocument = true")  # gone if the page reloads
    shown(browser, '#status [data-status="completed"]', timeout=90)
    assert browser.execute_script("return window.sameDocument") is True
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert any(url.endswith(f"/api/media/{analysis_id}/stream") for url in fetched), fetched
    assert not any("/api/media/status/" in url for url in fetched), "followed by the stream"
    assert browser.find_element(By.ID, "progress").get_attribute("value") == "100"

    image_loaded(browser, shown(browser, "#contact-sheet"))
    frames = browser.find_elements(By.CSS_SELECTOR, "#frames img")
    assert len(frames) == 4
    stages = {
        row.get_attribute("data-stage"): row.find_element(By.CSS_SELECTOR, "[data-status]").text
        for row in browser.find_elements(By.CSS_SELECTOR, "#stages tbody tr")
    }
    assert stages["contact_sheet"] == "completed"
    assert stages["transcript"] == "completed"
    segments = browser.find_elements(By.CSS_SELECTOR, "#transcript li")
    assert segments
    assert "park" in " ".join(s.text for s in segments).lower()
    assert browser.find_elements(By.CSS_SELECTOR, "#timeline svg rect.speech")
    assert text_of(browser, "#answer-summary") != "Not yet."

    types = [
        r.text for r in browser.find_elements(By.CSS_SELECTOR, "#events tbody td:nth-child(3)")
    ]
    assert types[0] == "requested"
    assert types[-1] == "completed"
    assert "progressed" in types
    # "As of" the first event: the state the audit trail folds from it alone.
    browser.execute_script(
        "const s = document.getElementById('as-of'); s.value = 0;"
        "s.dispatchEvent(new Event('input'));"
    )
    wait(browser).until(
        lambda d: text_of(d, "#as-of-state").startswith(f"As of event 1 of {len(types)}: pending")
    )
    browser.execute_script(
        "const s = document.getElementById('as-of'); s.value = s.max;"
        "s.dispatchEvent(new Event('input'));"
    )
    wait(browser).until(lambda d: "completed, 100%" in text_of(d, "#as-of-state"))
    screenshot(browser, "analysis")


def test_given_a_prompt_with_markup_when_shown_then_it_is_text(
    browser: WebDriver, base_url: str, gone_media_url: str
) -> None:
    analysis_id = submit_form(browser, base_url, HOSTILE, gone_media_url, "video")
    shown(browser, '#status [data-status="failed"]')
    assert browser.find_element(By.ID, "prompt").text == HOSTILE
    assert not browser.find_elements(By.CSS_SELECTOR, "#prompt *")
    browser.get(f"{base_url}/console/history")
    row = shown(browser, f'#rows tr[data-id="{analysis_id}"]')
    assert row.find_element(By.CSS_SELECTOR, ".prompt-cell").text == HOSTILE
    assert browser.execute_script("return window.pwned") is None


def test_given_history_when_filters_are_applied_then_only_matching_rows_remain(
    browser: WebDriver, base_url: str, client: httpx.Client, media_server: MediaServer,
    gone_media_url: str,
) -> None:  # fmt: skip
    picture = f"console-{uuid.uuid4().hex[:8]}.png"
    png_image(media_server.directory / picture, "160x120")
    submitted = {}
    for label, url, media in (
        ("image", media_server.url(picture), "image"),
        ("gone", gone_media_url, "video"),
    ):
        accepted = client.post(
            "/api/media/analyze",
            json={"prompt": f"history filter {label}", "media_url": url, "media_type": media},
        )
        assert accepted.status_code == 202, accepted.text
        submitted[label] = accepted.json()["analysis_id"]
    wait_for_status(client, submitted["image"], {"completed"})
    wait_for_status(client, submitted["gone"], {"failed"})

    browser.get(f"{base_url}/console/history")

    def listed() -> dict[str, str]:
        rows = browser.find_elements(By.CSS_SELECTOR, "#rows tr[data-id]")
        return {
            str(r.get_attribute("data-id")): r.find_element(By.CSS_SELECTOR, "[data-status]").text
            for r in rows
        }

    def apply(**filters: str) -> str:
        table = browser.find_element(By.ID, "history")
        before = table.get_attribute("data-loads")
        for field, value in filters.items():
            Select(browser.find_element(By.NAME, field)).select_by_visible_text(value)
        browser.find_element(By.ID, "apply").click()
        wait(browser).until(lambda d: table.get_attribute("data-loads") != before)
        return text_of(browser, "#counts")

    wait(browser).until(lambda d: submitted["gone"] in listed())
    everything = int(text_of(browser, "#counts").split()[0])
    assert submitted["image"] in listed()

    failed = apply(status="failed")
    rows = listed()
    assert submitted["gone"] in rows
    assert submitted["image"] not in rows
    assert set(rows.values()) == {"failed"}
    assert int(failed.split()[0]) < everything
    assert "status=failed" in browser.current_url  # the filters, never a key

    apply(status="completed", media_type="image")
    rows = listed()
    assert submitted["image"] in rows
    assert submitted["gone"] not in rows
    assert set(rows.values()) == {"completed"}
    apply(status="all", media_type="all")
    screenshot(browser, "history")


def produce_poison(bootstrap: str, marker: str) -> None:
    """A record no consumer can read: both consumers dead-letter it."""

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            headers = [
                ("ce_id", str(uuid.uuid4()).encode()),
                ("ce_source", b"/tests/console"),
                ("ce_type", b"media-analysis.analysis.requested"),
                ("ce_subject", marker.encode()),
                ("ce_time", b"2026-01-01T00:00:00Z"),
                ("ce_specversion", b"1.0"),
                ("content-type", b"application/json"),
            ]
            await producer.send_and_wait(
                EVENTS_TOPIC, b"\xff{not json", key=marker.encode(), headers=headers
            )
        finally:
            await producer.stop()

    asyncio.run(produce())


def test_given_operations_when_a_record_is_dead_lettered_then_the_page_shows_it(
    browser: WebDriver, base_url: str, prepared: dict[str, str]
) -> None:
    marker = f"console-poison-{uuid.uuid4().hex[:8]}"
    produce_poison(prepared["KAFKA_BOOTSTRAP_SERVERS"], marker)
    browser.get(f"{base_url}/console/operations")
    assert shown(browser, '#checks [data-check="kafka"]').text == "kafka: ok"
    assert text_of(browser, '#checks [data-check="postgres"]') == "postgres: ok"
    lag_rows = browser.find_elements(By.CSS_SELECTOR, "#lag tbody tr")
    assert len(lag_rows) == int(prepared["KAFKA_TOPIC_PARTITIONS"])
    # The page refreshes itself; the poison record shows up without a reload.
    try:
        wait(browser).until(lambda d: marker in text_of(d, "#dead-letters"))
    except Exception:
        raise AssertionError(text_of(browser, "main")) from None
    letters = [
        r.text for r in browser.find_elements(By.CSS_SELECTOR, "#dead-letters tbody tr")
        if marker in r.text
    ]  # fmt: skip
    assert any("value is not JSON" in text for text in letters), letters
    body = httpx.get(f"{base_url}/api/operations", params={"limit": 100}, timeout=10).json()
    assert body["ready"] is True
    assert len(body["projector_lag"]) == int(prepared["KAFKA_TOPIC_PARTITIONS"])
    mine = [d for d in body["dead_letters"] if d["subject"] == marker]
    assert {d["consumer"] for d in mine} <= {
        "media-analysis-processors",
        "media-analysis-projector",
    }
    assert all(d["topic"] == EVENTS_TOPIC and d["offset"] >= 0 for d in mine)
    screenshot(browser, "operations")


def test_console_pages_forbid_inline_script_and_other_origins(base_url: str) -> None:
    for path in ("/console/", "/console/history", "/console/static/api.js"):
        response = httpx.get(f"{base_url}{path}", timeout=10)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "default-src 'none'" in policy
        assert "unsafe-inline" not in policy
    assert httpx.get(f"{base_url}/console/static/nope.js", timeout=10).status_code == 404
