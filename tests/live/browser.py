"""Debian's Chromium driven by Playwright (never Playwright's own downloaded browsers)."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from tests.live.servers import ARTIFACTS

SCREENSHOTS = ARTIFACTS / "screenshots"
INSTALL_HINT = "apt-get install -y chromium chromium-driver"
REQUIRE_BROWSER_VARIABLE = "SWITCHBOARD_REQUIRE_BROWSER"
LAUNCH_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """Debian's /usr/bin/chromium, else a chromium on PATH."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def browser_required() -> bool:
    return os.environ.get(REQUIRE_BROWSER_VARIABLE, "").lower() in ("1", "true", "yes")


def screenshot(page, name: str) -> Path:
    """Saves a full-page PNG of `page` as var/test-artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def add_session_cookie(context, base_url: str, cookies: Mapping[str, str]) -> None:
    """Puts cookies (e.g. session_cookies(user)) into a Playwright browser context for
    `base_url`, so its pages are signed in. Browsers do not separate cookies by port:
    every live server on 127.0.0.1 sees them, which is right since they share a database."""
    context.add_cookies(
        [
            {"name": name, "value": value, "url": base_url, "httpOnly": True, "sameSite": "Lax"}
            for name, value in cookies.items()
        ]
    )


def wait_until(condition, timeout: float = 10.0) -> None:
    """Polls `condition` from the test until it is true. Not Playwright's
    wait_for_function: the console's and the widget's CSP forbid the eval it relies on."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
