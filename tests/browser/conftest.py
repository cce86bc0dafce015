"""Real-browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser),
against the app served on 127.0.0.1 with a real SMTP server capturing its mail."""

import shutil
from pathlib import Path

import pytest

from tests.live_server import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Outside test-results/, which pytest-playwright empties at the start of every session.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run does this)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--lang=nb-NO",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"],
    }


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "nb-NO", "timezone_id": "Europe/Oslo",
            "accept_downloads": True}


@pytest.fixture
def live_config(smtp_config):
    # Every browser comes from 127.0.0.1: the limits per address are tested elsewhere.
    smtp_config.update({"SESSION_COOKIE_SECURE": False,
                        "REGISTRATION_RATE_LIMIT": "1000 per minute",
                        "LOGIN_RATE_LIMIT": "1000 per minute"})
    return smtp_config


@pytest.fixture
def live_url(live_config, app):
    """The app served on 127.0.0.1; mail links point at it. Request it before `app` (first in
    the test's arguments) so the app is built with the live settings and the SMTP server."""
    with serving(app) as base_url:
        app.config["KLYNGE_BASE_URL"] = base_url
        yield base_url


@pytest.fixture
def screenshot():
    """Save a full-page screenshot at phone and desktop widths (test artifacts, never committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        for width in (375, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
            # Nothing may stick out sideways: a horizontal scrollbar means something is cut off.
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{name} at {width}px is {overflow}px too wide"
        page.set_viewport_size({"width": 1280, "height": 900})

    return take


def axe_violations(page) -> list[str]:
    """WCAG 2.0/2.1 A and AA violations on the page (axe-core, shipped offline)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": [
        "wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}× e.g. {v['nodes'][0]['target']})"
            for v in results.response["violations"]]
