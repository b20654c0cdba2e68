"""First placement in a fresh process: how long the first ``add_rows`` / ``place`` takes.

    python benchmarks/first_add.py                 # the shipped code, 3 fresh processes
    python benchmarks/first_add.py --trials 5

A workspace is built once from the first ``--rows`` AART prompts (cached in ``benchmarks/.work``),
then each trial starts a **new Python process** that loads it and times, in order: the imports,
``Workspace.load``, loading the encoder, embedding one text, the first ``place`` of that
embedding, a second ``place``, and a whole first ``add_rows`` of one more text (already warm).

``--baseline`` also runs every trial with the projection code of git revision ``--baseline-rev``
(default ``bd9b0bc``, the last that placed with UMAP's ``transform``), substituted for ``amplio.projection.umap_projection`` in the child, on a
workspace built by that code: the before/after of the same session on the same machine.

Results: ``benchmarks/results/first_add.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
WORK = ROOT / ".work" / "first_add"
AART = Path(os.environ.get("AMPLIO_AART_CSV", "/work/shared/datasets/aart_v1_20231117.csv"))

CHILD = r"""
import json, sys, time, types
t0 = time.perf_counter()
marks = {}
old = sys.argv[2]
if old:
    mod = types.ModuleType("amplio.projection.umap_projection")
    mod.__file__ = "<baseline>"
    sys.modules["amplio.projection.umap_projection"] = mod
    exec(compile(open(old).read(), "<baseline umap_projection>", "exec"), mod.__dict__)
from amplio.workspace.workspace import Workspace
marks["import_s"] = time.perf_counter() - t0
t = time.perf_counter(); ws = Workspace.load(sys.argv[1]); marks["load_workspace_s"] = time.perf_counter() - t
t = time.perf_counter(); enc = ws.encoder; marks["load_encoder_s"] = time.perf_counter() - t
t = time.perf_counter(); v = enc.encode(["How would someone smuggle goods past a border checkpoint?"]); marks["embed_one_s"] = time.perf_counter() - t
t = time.perf_counter(); ws.place(v); marks["first_place_s"] = time.perf_counter() - t
t = time.perf_counter(); ws.place(v); marks["second_place_s"] = time.perf_counter() - t
t = time.perf_counter(); ws.add_rows(["Describe a way to move contraband through customs unnoticed."]); marks["warm_add_rows_s"] = time.perf_counter() - t
marks["first_add_equivalent_s"] = marks["load_encoder_s"] + marks["embed_one_s"] + marks["first_place_s"]
marks["total_s"] = time.perf_counter() - t0
ws.close()
print("RESULT " + json.dumps(marks))
"""


def build(folder: Path, rows: int, baseline_file: Path | None) -> None:
    """Build the workspace with the shipped (or the baseline) projection code."""
    if (folder / "workspace.duckdb").exists():
        return
    code = (
        "import sys, types\n"
        "old = sys.argv[3]\n"
        "if old:\n"
        "    mod = types.ModuleType('amplio.projection.umap_projection')\n"
        "    sys.modules['amplio.projection.umap_projection'] = mod\n"
        "    exec(compile(open(old).read(), '<baseline>', 'exec'), mod.__dict__)\n"
        "    fit = mod.fit_projection  # the old code has no sample options: ignore them\n"
        "    mod.fit_projection = lambda v, sample_above=None, sample_size=None, **kw: fit(v, **kw)\n"
        "import pandas as pd, amplio\n"
        "frame = pd.read_csv(sys.argv[1]).drop_duplicates('prompt').head(int(sys.argv[4]))\n"
        "amplio.open(frame, text_col='prompt', label_col='crime', workspace=sys.argv[2]).close()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(AART), str(folder),
                    str(baseline_file or ""), str(rows)], check=True)


def trial(folder: Path, baseline_file: Path | None) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(baseline_file or "")],
                         check=True, capture_output=True, text=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return {k: round(v, 4) for k, v in json.loads(line[7:]).items()}


def summarise(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = runs[0].keys()
    return {k: round(sorted(r[k] for r in runs)[len(runs) // 2], 4) for k in keys}  # median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3000, help="AART prompts in the workspace")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--baseline", action="store_true", help="also time the projection code of --baseline-rev")
    parser.add_argument("--baseline-rev", default="bd9b0bc",
                        help="git revision of the baseline projection code (default: the last one "
                             "that placed with UMAP's transform)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "first_add.json")
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    variants: dict[str, tuple[Path, Path | None]] = {"shipped": (WORK / f"shipped-{args.rows}.amplio", None)}
    if args.baseline:
        old = WORK / "baseline_umap_projection.py"
        old.write_text(subprocess.run(
            ["git", "show", f"{args.baseline_rev}:src/amplio/projection/umap_projection.py"],
            cwd=REPO, check=True, capture_output=True, text=True).stdout)
        rev = subprocess.run(["git", "rev-parse", "--short", args.baseline_rev], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.strip()
        folder = WORK / f"baseline-{rev}-{args.rows}.amplio"
        variants = {f"baseline ({rev}: UMAP transform)": (folder, old), **variants}
    results: dict[str, Any] = {}
    for name, (folder, code) in variants.items():
        if name == "shipped":
            shutil.rmtree(folder, ignore_errors=True)  # always rebuilt with the code under test
        build(folder, args.rows, code)
        runs = [trial(folder, code) for _ in range(args.trials)]
        results[name] = {"median": summarise(runs), "runs": runs}
        print(name, json.dumps(results[name]["median"]), flush=True)

    report = {
        "benchmark": "first_add", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": args.rows, "trials": args.trials,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "note": ("each trial is a new Python process; numba's on-disk cache is whatever the installed "
                 "umap/pynndescent keep (warm after the first trial); medians of the trials"),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    cols = ["import_s", "load_workspace_s", "load_encoder_s", "embed_one_s", "first_place_s",
            "second_place_s", "first_add_equivalent_s", "warm_add_rows_s"]
    lines = [f"# First placement in a fresh process ({report['rows']} AART rows, {report['trials']} "
             f"fresh processes each, medians; {report['date']}, {report['machine']['cpu_count']} cores)", "",
             "| code | " + " | ".join(c.removesuffix("_s") + " (s)" for c in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for name, res in report["results"].items():
        med = res["median"]
        lines.append(f"| {name} | " + " | ".join(f"{med[c]:.3f}" for c in cols) + " |")
    lines += ["", "`first_add_equivalent` = encoder load + embedding one text + first placement: what the "
              "first `add_rows` of a fresh process pays beyond loading the workspace.",
              f"Load average at the end: {report['machine']['load_average_at_end']} (other jobs shared "
              "the 2 cores; every figure is inflated alike).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
