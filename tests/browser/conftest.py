"""A real `amplio serve` on a free port over a small demo slice, and an installed Chromium or Chrome
(found by scripts/find_browser.py) driven through Playwright.

The dataset is the first rows of the bundled demo plus rows carrying markup and script, so every
test also runs against hostile text. Screenshots go to test-artifacts/ (git-ignored). Without a
browser the tests that need one skip, loudly; with AMPLIO_REQUIRE_BROWSER=1 (CI) they fail instead.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pandas as pd
import pytest
from playwright.sync_api import Browser, Page

import amplio
from amplio.data.demo import demo_dataset_path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def _load_finder() -> ModuleType:
    # scripts/ is not a package; load the finder by path so `make browser` and the tests share it.
    spec = importlib.util.spec_from_file_location("amplio_find_browser", ROOT / "scripts" / "find_browser.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


find_browser = _load_finder()
_MISSING: list[str] = []
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROWS = 100
HOSTILE = [
    "<img src=x onerror=alert(1)> how do I pick a lock",
    "<script>alert('xss')</script> tell me how to steal a car",
    "\"><svg onload=alert(2)> robbery plan for a bank",
    "javascript:alert(3) & <b>bold</b> &amp; entities",
]



@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A workspace over ROWS demo prompts plus the hostile rows; returns (folder, row count)."""
    folder = tmp_path_factory.mktemp("browser")
    demo = pd.read_csv(demo_dataset_path()).head(ROWS)
    hostile = pd.DataFrame({"prompt": HOSTILE, "crime": ["<i>label</i>", *["violence"] * (len(HOSTILE) - 1)]})
    csv = folder / "demo-slice.csv"
    pd.concat([demo[["prompt", "crime"]], hostile], ignore_index=True).to_csv(csv, index=False)
    with amplio.open(csv, text_col="prompt", label_col="crime", workspace=folder / "ws.amplio") as ws:
        return Path(ws.path), int(ws.info()["rows"])


def serve(workspace: Path, port: int, *options: str) -> Iterator[str]:
    """Run `python -m amplio serve WORKSPACE --no-browser [OPTIONS]` on ``port``; yield its base URL,
    then stop it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log_path = workspace.parent / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "amplio", "serve", str(workspace), "--port", str(port),
                             "--no-browser", *options], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while True:
        try:
            if httpx.get(url + "api/info", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("amplio serve did not start: " + log_path.read_text()[-2000:])
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def server(dataset: tuple[Path, int], free_port: Callable[[], int]) -> Iterator[str]:
    """`python -m amplio serve WORKSPACE --no-browser` on a free port; yields its base URL."""
    yield from serve(dataset[0], free_port())


@pytest.fixture(scope="module")
def gap_dataset(tmp_path_factory: pytest.TempPathFactory, dna_workspace_path: Path) -> Path:
    """A private copy of the Do-Not-Answer workspace (tests/conftest.py): the slice on which
    tests/gaps checks that the gap finder finds gaps (the demo slice above has none)."""
    folder = tmp_path_factory.mktemp("browser-gaps") / "dna.amplio"
    shutil.copytree(dna_workspace_path, folder)
    return folder


@pytest.fixture(scope="module")
def gap_server(gap_dataset: Path, free_port: Callable[[], int], garden_reference_csv: Path) -> Iterator[str]:
    """`amplio serve --reference` over ``gap_dataset``; yields its base URL. The reference holds
    gardening questions, a topic the workspace lacks."""
    yield from serve(gap_dataset, free_port(), "--reference", str(garden_reference_csv))


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    executable = find_browser.find_browser()
    if executable is None:
        if find_browser.required():
            pytest.fail(f"{find_browser.REQUIRE_ENV} is set and " + find_browser.HOW_TO_ENABLE)
        _MISSING.append(find_browser.HOW_TO_ENABLE)
        pytest.skip(find_browser.HOW_TO_ENABLE.splitlines()[0])
    with sync_playwright() as play:
        chromium = play.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # A skip line in the short summary is easy to miss; a skipped UI suite must not pass unnoticed.
    if _MISSING:
        terminalreporter.write_line(find_browser.banner(_MISSING[0]), red=True, bold=True)


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; after the test, asserts that no dialog opened and no script error was thrown."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    dialogs: list[str] = []
    errors: list[str] = []
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    assert dialogs == [], f"a dialog opened: data text ran as code: {dialogs}"
    assert errors == [], f"uncaught errors in the page: {errors}"
    context.close()


def shot(page: Page, name: str) -> Path:
    """Save a screenshot under test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
