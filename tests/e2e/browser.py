"""Chromium from Debian's packages, headless, driven by Selenium through
chromium-driver; and the waits the console tests share."""

from __future__ import annotations

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import ROOT

SCREENSHOTS = ROOT / "docs" / "console"


def start_chromium() -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the suite may run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=DriverService("/usr/bin/chromedriver"))
    driver.set_page_load_timeout(30)
    return driver


def wait(driver: WebDriver, timeout: float = 30) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, timeout, poll_frequency=0.1)


def shown(driver: WebDriver, css: str, timeout: float = 30) -> WebElement:
    element: WebElement = wait(driver, timeout).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
    )
    return element


def text_of(driver: WebDriver, css: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def image_loaded(driver: WebDriver, image: WebElement) -> None:
    wait(driver).until(lambda d: d.execute_script("return arguments[0].naturalWidth", image) > 0)


def use_key(driver: WebDriver, key: str) -> None:
    """Type an API key into the console's key form."""
    shown(driver, "#key-input").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()


def screenshot(driver: WebDriver, name: str) -> None:
    """The whole page: the window grown to the document's height for the shot."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    # The window's height includes the browser's own bars: leave room for them.
    driver.set_window_size(1280, min(max(int(height) + 160, 800), 4000))
    try:
        Path(SCREENSHOTS / f"{name}.png").write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.set_window_size(1280, 1000)
