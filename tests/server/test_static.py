"""The shipped UI bundle: present, self-consistent, and built from the current web/ sources.

The build stamps a hash of the UI sources and lockfile into ``build-info.json`` (web/vite.config.ts,
``sourceHash``); this test recomputes it the same way, so editing web/ without rebuilding fails.
``python web/check_build.py`` (run by CI) goes further and compares a fresh build byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

import amplio
from amplio.server import create_app
from amplio.server.app import STATIC_DIR

WEB = Path(__file__).resolve().parents[2] / "web"
FIXED = ("index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json")


def source_hash() -> str:
    """sha256 over (relative path, NUL, bytes, NUL) of the fixed files, then web/src sorted by name."""
    paths = [WEB / name for name in FIXED] + sorted_walk(WEB / "src")
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(WEB).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def sorted_walk(folder: Path) -> list[Path]:
    """Files under ``folder`` depth-first, each level sorted by name (as readdirSync().sort())."""
    out: list[Path] = []
    for child in sorted(folder.iterdir(), key=lambda p: p.name):
        out.extend(sorted_walk(child) if child.is_dir() else [child])
    return out


def test_bundle_is_built_from_the_current_sources() -> None:
    stamped = json.loads((STATIC_DIR / "build-info.json").read_text())["source_hash"]
    assert stamped == source_hash(), "web/ changed since the last build: run `cd web && npm run build`"


def test_index_references_only_shipped_assets() -> None:
    html = (STATIC_DIR / "index.html").read_text()
    assets = re.findall(r'(?:src|href)="\./(assets/[^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert (STATIC_DIR / asset).is_file(), asset
    # Deterministic build: nothing in the bundle carries a build time.
    assert not re.search(r"20\d\d-\d\d-\d\dT\d\d:\d\d", html)


def test_server_serves_the_ui_and_its_assets(ws: amplio.Workspace) -> None:
    with TestClient(create_app(ws), base_url="http://127.0.0.1") as client:
        page = client.get("/")
        assert page.status_code == 200 and "<title>Amplio</title>" in page.text
        script = re.search(r'src="\./(assets/[^"]+\.js)"', page.text)
        assert script is not None
        served = client.get(f"/{script.group(1)}")
        assert served.status_code == 200 and "javascript" in served.headers["content-type"]
        assert served.content == (STATIC_DIR / script.group(1)).read_bytes()
        # Only the packaged folder is served: no path escapes it.
        assert client.get("/../pyproject.toml").status_code == 404
        assert client.get("/%2e%2e/__init__.py").status_code == 404
