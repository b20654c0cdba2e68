"""Rebuild the UI from web/ into a temporary folder and fail if it differs from the shipped bundle.

Usage (from the repository root): ``python web/check_build.py``. Installs web/node_modules with
``npm ci`` when missing. Exit status 0 when src/amplio/server/static is exactly a fresh build of
the sources, 1 (with the differing files listed) when it is stale.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import tempfile
from pathlib import Path

WEB = Path(__file__).resolve().parent
SHIPPED = WEB.parent / "src" / "amplio" / "server" / "static"


def files(root: Path) -> dict[str, Path]:
    """Every file under ``root`` by its relative POSIX path."""
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def main() -> int:
    """Build, compare, report; return the exit status."""
    if not (WEB / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    with tempfile.TemporaryDirectory(prefix="amplio-ui-") as tmp:
        out = Path(tmp) / "static"
        env = {**os.environ, "AMPLIO_WEB_OUT": str(out)}
        subprocess.run(["npm", "run", "--silent", "build"], cwd=WEB, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        fresh, shipped = files(out), files(SHIPPED)
        problems = [f"missing from the shipped bundle: {name}" for name in sorted(fresh.keys() - shipped.keys())]
        problems += [f"not produced by a fresh build: {name}" for name in sorted(shipped.keys() - fresh.keys())]
        problems += [f"differs: {name}" for name in sorted(fresh.keys() & shipped.keys())
                     if not filecmp.cmp(fresh[name], shipped[name], shallow=False)]
    if problems:
        print("src/amplio/server/static is not a fresh build of web/; run `cd web && npm run build` "
              "and commit the result:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    print(f"UI bundle is current ({len(fresh)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
