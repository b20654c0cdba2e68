"""Durability: randomised kill -9 trials against a workspace, for longer than the test suite does.

    python benchmarks/durability.py                 # 600 s of trials
    python benchmarks/durability.py --seconds 120   # or AMPLIO_DURABILITY_SECONDS=120
    python benchmarks/durability.py --seed 123      # replay a run (or AMPLIO_DURABILITY_SEED)

The same trials as ``tests/workspace/test_workspace_durability.py`` (one implementation, in
``tests/workspace/durability_trials.py``): a writer process adds rows, accepts or rejects them,
edits and undoes, and is SIGKILLed at random moments; each time the workspace must reopen with
every operation the writer reported done, and the one in flight entirely or not at all. The
workspace is built from the same 300-row AART slice as the suite's, with the real encoder.

Writes the trial count, what the kills landed in, and any failure to
``benchmarks/results/durability.json`` (``--out``); exits 1 if a trial failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# The trials live with the tests so the suite never imports from benchmarks/.
sys.path.insert(0, str(ROOT / "tests" / "workspace"))
sys.path.insert(0, str(ROOT / "tests"))

from durability_trials import budget_from_env, run_trials, seed_from_env  # noqa: E402

from testdata import AART_CSV  # noqa: E402

SLICE_ROWS = 300


def aart_slice() -> pd.DataFrame:
    # As tests/conftest.py's aart_slice: distinct prompts, up to 5 per crime label.
    frame = pd.read_csv(AART_CSV, dtype=str, keep_default_na=False).drop_duplicates("prompt")
    return frame.groupby("crime", sort=False).head(5).iloc[:SLICE_ROWS].reset_index(drop=True)


def machine() -> dict:
    import duckdb

    import amplio

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"platform": platform.platform(), "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0], "duckdb": duckdb.__version__,
            "load_average_at_start": [round(v, 2) for v in load] if load else None,
            "code": code_version(Path(amplio.__file__).resolve().parent)}


def code_version(package: Path) -> str:
    # Which amplio was crashed: a result from uncommitted storage code is not the commit's.
    def git(*argv: str) -> str:
        found = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True)
        return found.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if package != ROOT / "src" / "amplio":
        return f"amplio from {package} (repository at {commit})"
    dirty = git("status", "--porcelain", "--", "src")
    return f"{commit}{' with uncommitted changes in src/' if dirty else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=budget_from_env(600.0))
    parser.add_argument("--min-trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "durability.json")
    args = parser.parse_args()

    import amplio

    seed = args.seed if args.seed is not None else seed_from_env()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    info = machine()
    with tempfile.TemporaryDirectory(prefix="amplio-durability-") as tmp:
        csv = Path(tmp) / "aart_slice.csv"
        aart_slice().to_csv(csv, index=False)
        folder = Path(tmp) / "aart_slice.amplio"
        amplio.open(csv, text_col="prompt", label_col="crime", workspace=folder).close()
        print(f"durability: seed {seed}, {args.seconds:.0f} s of trials", flush=True)
        report = run_trials(folder, budget_s=args.seconds, min_trials=args.min_trials, seed=seed,
                            log=lambda line: print(line, flush=True))
    print(report.summary(), flush=True)
    result = {"benchmark": "durability", "started": started, "machine": info,
              "workspace": f"AART slice, {SLICE_ROWS} rows, real encoder",
              "operations": "add 1-8 rows, accept/reject/return 1-6 rows, edit, undo, checkpoint",
              "summary": report.summary(), **report.as_dict()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
