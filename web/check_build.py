"""Check the UI against the server and its own sources; fail when either is stale.

Usage (from the repository root): ``python web/check_build.py``.

1. The TypeScript types of the API (``web/src/schema.ts``) must be what the server's OpenAPI
   document gives today (``web/gen_types.py --check``): a route that changes its response
   without the UI's types changing fails here, and ``tsc`` then shows where the UI disagrees.
2. The shipped bundle (``src/amplio/server/static``) must be exactly a fresh build of ``web/``
   (installs web/node_modules with ``npm ci`` when missing).

Exit status 0 when both hold, 1 (with what is stale) otherwise.
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
    """Check the types, build, compare, report; return the exit status."""
    types = subprocess.run([sys.executable, str(WEB / "gen_types.py"), "--check"])
    if types.returncode != 0:
        return 1
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
