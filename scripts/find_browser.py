"""Find the Chromium or Chrome that the browser tests drive; install one only when asked.

One place for `make browser` (``python scripts/find_browser.py --install``) and
tests/browser/conftest.py (``find_browser()``), so both agree on which browser the tests use.

Search order: ``$AMPLIO_BROWSER``; ``chromium``, ``chromium-browser``, ``google-chrome`` ... on the
PATH; the macOS application bundles; Playwright's own build. With ``--install`` and none found:
``playwright install chromium`` when its download host answers, else ``apt-get install chromium``
on Debian as root, else a loud message saying how to enable the browser tests, which then skip.
``AMPLIO_REQUIRE_BROWSER=1`` (set by CI) turns that skip into a failure.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

BROWSER_ENV = "AMPLIO_BROWSER"
REQUIRE_ENV = "AMPLIO_REQUIRE_BROWSER"
ON_PATH = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"]
MAC_APPS = [
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
]
# Playwright's default download host; PLAYWRIGHT_DOWNLOAD_HOST overrides it, as for Playwright.
PLAYWRIGHT_HOST = "cdn.playwright.dev"

HOW_TO_ENABLE = f"""\
No Chromium or Chrome found: the browser tests (tests/browser) are SKIPPED.
To run them, do one of:
  * install Chromium or Chrome so that `chromium`, `chromium-browser` or `google-chrome` is on the PATH
    (Debian: `sudo apt-get install chromium`; macOS: install Google Chrome);
  * `.venv/bin/python -m playwright install chromium` (needs access to {PLAYWRIGHT_HOST});
  * point {BROWSER_ENV}=/path/to/chrome at a browser you already have.
Set {REQUIRE_ENV}=1 to make a missing browser fail the run instead (CI does)."""


def required() -> bool:
    """Whether a missing browser must fail the run rather than skip the browser tests."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def playwright_build() -> str | None:
    """The Chromium that `playwright install chromium` put in Playwright's cache, if it is there."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as play:
            path = play.chromium.executable_path
    except Exception:  # a broken driver means no usable Playwright build, not a crash here
        return None
    return path if path and Path(path).is_file() else None


def find_browser() -> str | None:
    """The path of an installed Chromium or Chrome, or None."""
    named = os.environ.get(BROWSER_ENV)
    if named:
        found = shutil.which(named)
        return found if found else None
    for name in ON_PATH:
        found = shutil.which(name)
        if found:
            return found
    if platform.system() == "Darwin":
        for app in MAC_APPS:
            if Path(app).is_file():
                return app
    return playwright_build()


def _online(host: str) -> bool:
    # A proxy may reach what a direct connection cannot; let Playwright try through it.
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return True
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError:
        return False
    return True


def _playwright_install() -> bool:
    override = os.environ.get("PLAYWRIGHT_DOWNLOAD_HOST")
    host = (urlparse(override).hostname or override) if override else PLAYWRIGHT_HOST
    if not _online(host):
        print(f"find_browser: {host} does not answer; not trying `playwright install chromium`")
        return False
    print("==> Installing Playwright's Chromium (`playwright install chromium`, ~150 MB)", flush=True)
    try:
        result = subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], timeout=900)
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"find_browser: playwright install chromium failed: {error}")
        return False
    return result.returncode == 0


def _is_debian() -> bool:
    try:
        fields = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines()
                      if "=" in line)
    except OSError:
        return False
    # Only Debian proper: Ubuntu's `chromium` package is a snap stub that fails in containers.
    return fields.get("ID", "").strip('"') == "debian"


def _apt_install() -> bool:
    if not (_is_debian() and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")):
        return False
    print("==> Installing Debian's chromium with apt-get (root, Debian)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    update = subprocess.run(["apt-get", "update", "-qq"], env=env)
    if update.returncode != 0:
        return False
    return subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env).returncode == 0


def banner(text: str) -> str:
    """``text`` framed so that it stands out in a screenful of test output."""
    rule = "!" * 78
    return f"\n{rule}\n{text}\n{rule}\n"


def main(argv: list[str]) -> int:
    install = "--install" in argv
    found = find_browser()
    if found is None and install and not os.environ.get(BROWSER_ENV):
        if _playwright_install() or _apt_install():
            found = find_browser()
    if found is not None:
        print(f"Browser tests will use {found}")
        return 0
    if os.environ.get(BROWSER_ENV):
        print(f"{BROWSER_ENV}={os.environ[BROWSER_ENV]} is not an executable file", file=sys.stderr)
    print(banner(HOW_TO_ENABLE), file=sys.stderr)
    if required():
        print(f"{REQUIRE_ENV} is set: a missing browser is an error.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
