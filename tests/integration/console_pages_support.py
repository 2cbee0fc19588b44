"""The console's pages under a real browser: Debian's chromium driven by Playwright (no browser
download), logged in through the login form as an analyst would, screenshots kept for review."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, ViewportSize, sync_playwright

CHROMIUM = os.environ.get("PROVPROXY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
README_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def launch_browser() -> Iterator[Browser]:
    """Chromium, or a failure saying how to get it: CI installs it, so its absence is a broken setup."""
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).is_file():
        pytest.fail(f"chromium not found at {CHROMIUM}: install Debian's chromium package (or set PROVPROXY_CHROMIUM)")
    playwright: Playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


class Shots:
    """Screenshots of each page: into ``$PROVPROXY_SCREENSHOT_DIR`` (or pytest's tmp dir), and the
    README's two into docs/screenshots only when ``PROVPROXY_UPDATE_SCREENSHOTS=1``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.update_readme = os.environ.get("PROVPROXY_UPDATE_SCREENSHOTS") == "1"

    def take(self, page: Page, name: str, readme: bool = False) -> Path:
        path = self.directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if readme and self.update_readme:
            README_SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(README_SHOTS / f"{name}.png"), full_page=False)
        return path


def login(browser: Browser, base_url: str, token: str, viewport: ViewportSize = DESKTOP) -> BrowserContext:
    """A browser context signed in by pasting ``token`` into the login form."""
    context = browser.new_context(base_url=base_url, viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.goto("/")
    assert "/login" in page.url, page.url
    page.fill("#token", token)
    page.click("#sign-in")
    page.wait_for_url(re.compile(r".*/$"))
    page.close()
    return context


def csrf_of(page: Page) -> str:
    value = page.get_attribute('meta[name="csrf-token"]', "content")
    assert value, "the page carries no CSRF token"
    return value


def overflows(page: Page) -> bool:
    """Whether the page is wider than the viewport (a horizontal scroll bar on a phone)."""
    return bool(page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"))
