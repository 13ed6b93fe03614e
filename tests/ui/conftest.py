"""Fixtures: an llmobs server on 127.0.0.1 (the compat suite's ``harness.Server``) and a
headless Chromium driven by Playwright.

Chromium is the system's (``/usr/bin/chromium``, or ``LLMOBS_CHROMIUM``); Playwright's own
browser downloads are never used. Screenshots go to ``LLMOBS_UI_SCREENSHOTS`` (default
``target/ui-screenshots``), which CI prints.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "tests" / "compat"))

from harness import Server  # noqa: E402

CHROMIUM = os.environ.get("LLMOBS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("LLMOBS_UI_SCREENSHOTS", REPO / "target" / "ui-screenshots"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("ui-server")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium package "
                    "(scripts/test.sh does) or set LLMOBS_CHROMIUM", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page that records failed requests, HTTP errors and console errors."""

    def __init__(self, page, root: str):
        self.page = page
        self.root = root
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def assert_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page(), server.root)
    yield watched
    context.close()
