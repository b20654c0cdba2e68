"""Do fills of reference gaps reach the missing region? (part 4 of the gap validation)

A real AART workspace (``amplio.open``) is compared with a reference of the other public sets
(Do-Not-Answer + AdvBench, written to a CSV as a user would give it); ``Workspace.gaps(top=5,
reference=...)`` lists what they cover and AART does not. For each method (concepts,
interpolate, llm), a fresh copy of the workspace gets ``Workspace.fill_gap`` on each of the 5
gaps until 10 unflagged candidates are accepted (flagged ones are rejected; one more request for
any shortfall), as in part 2. Measured per method:

* ``inside_empty_ball``: share of accepted rows closer to their gap's centre than the nearest
  original row was (the gap's ``radius``): rows that reach into the missing region;
* ``similarity_to_centre``: mean cosine of accepted rows to their gap's centre, against the
  nearest original row's (``1 - radius``);
* ``region_ratio_before`` / ``_after``: the mean density ratio ``log(d_7(r, data) / d_7(r,
  reference))`` over the gap's reference rows, with the accepted rows added to the data; a fill
  that covers the region lowers it (0 = the data as dense there as the reference);
* ``region_rows_reached``: share of the gap's reference rows whose nearest data row is now an
  accepted row;
* ``gaps_still_listed``: how many of the 5 filled gaps are still in the new top 5 (a new gap
  that shares at least half its reference rows counts as the same gap);
* Vendi, mean NN distance and occupied map area, before (original rows) and after (accepted).

Run: ``PYTHONPATH=src python benchmarks/reference_fill.py [--rows N]``; writes the key
``reference_fill`` of ``benchmarks/results/gaps.json`` (other keys are kept).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from amplio.gaps.neighbours import knn, unit_rows  # noqa: E402
from amplio.gaps.reference import reference_stats  # noqa: E402
from gaps import (  # noqa: E402 - the benchmarks are scripts, not a package
    DATA_DIR,
    FILL_METHODS_REAL,
    FILL_N,
    REFERENCE_SOURCES,
    REFERENCES,
    RESULTS,
    TOP,
    _report_values,
    aart_workspace,
    fill_counts,
    fill_gaps,
    machine,
)


def write_reference(folder: Path, dataset: str) -> Path:
    """The other public sets as one CSV, the way a user would hand them to ``--reference``."""
    texts: list[str] = []
    for source in REFERENCES[dataset]:
        file, column = REFERENCE_SOURCES[source]
        texts += pd.read_csv(DATA_DIR / file)[column].astype(str).tolist()
    path = folder / "reference.csv"
    pd.DataFrame({"prompt": texts}).to_csv(path, index=False)
    return path


def measure(ws, gaps: list[dict], per_gap: list[dict], ref: np.ndarray, original: np.ndarray) -> dict:
    """Where the accepted rows of one method landed, gap by gap (see the module docstring)."""
    accepted = [p["accepted"] for p in per_gap]
    added = unit_rows(ws.embeddings([i for ids in accepted for i in ids])) if any(accepted) else \
        np.zeros((0, original.shape[1]), dtype=np.float32)
    after = np.concatenate([original, added])
    before_ratio = reference_stats(original, ref).ratio
    after_ratio = reference_stats(after, ref).ratio
    nearest, _ = knn(ref, after, 1)
    reached_by_new = nearest[:, 0] >= len(original)
    out = []
    for gap, ids in zip(gaps, accepted, strict=True):
        centre = np.asarray(gap["center_embedding"], dtype=np.float32)
        members = np.asarray(gap["reference_rows"], dtype=np.int64)
        sims = ws.embeddings(ids) @ centre if ids else np.zeros(0)
        out.append({
            "gap": gap["id"], "keywords": gap["description"], "accepted": len(ids),
            "inside_empty_ball": round(float((1.0 - sims < gap["radius"]).mean()), 3) if ids else None,
            "similarity_to_centre": round(float(sims.mean()), 4) if ids else None,
            "nearest_original_similarity": round(1.0 - float(gap["radius"]), 4),
            "region_ratio_before": round(float(before_ratio[members].mean()), 4),
            "region_ratio_after": round(float(after_ratio[members].mean()), 4),
            "region_rows_reached": round(float(reached_by_new[members].mean()), 3),
        })
    return {"per_gap": out, **{key: _mean([g[key] for g in out if g[key] is not None]) for key in (
        "inside_empty_ball", "similarity_to_centre", "nearest_original_similarity",
        "region_ratio_before", "region_ratio_after", "region_rows_reached")}}


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def nearest_texts(ws, ids: list[int], gap: dict, k: int) -> list[str]:
    """The ``k`` accepted texts nearest the gap's centre: how far into the region a fill got."""
    if not ids:
        return []
    sims = ws.embeddings(ids) @ np.asarray(gap["center_embedding"], dtype=np.float32)
    best = [ids[i] for i in np.argsort(-sims)[:k]]
    texts = dict(zip(ws.rows(ids=best)["id"], ws.rows(ids=best)["text"], strict=True))
    return [texts[i] for i in best]


def still_listed(filled: list[dict], after: list[dict]) -> int:
    """Filled gaps still among the new top gaps (sharing at least half their reference rows)."""
    count = 0
    for gap in filled:
        rows = set(gap["reference_rows"])
        if any(len(rows & set(g["reference_rows"])) * 2 >= len(rows) for g in after):
            count += 1
    return count


def run(args: argparse.Namespace) -> dict:
    from amplio.workspace.references import load_reference
    from amplio.workspace.workspace import Workspace

    out: dict = {"dataset": "aart", "reference": list(REFERENCES["aart"]), "top": TOP,
                 "n_per_gap": FILL_N, "methods": {}}
    with tempfile.TemporaryDirectory() as tmp:
        reference = write_reference(Path(tmp), "aart")
        base = Path(tmp) / "aart.amplio"
        start = time.perf_counter()
        ws, encoder, out["rows_in_file"] = aart_workspace(base, args.rows)
        gaps = ws.gaps(top=TOP, reference=reference)
        ws.train_concepts()
        stored = {g["id"]: g for g in json.loads(ws.store.get_artifact("gaps") or b"[]")}
        gaps = [stored[g["id"]] for g in gaps]  # with their centre embeddings
        ref = unit_rows(load_reference(ws, reference).embeddings)
        original = unit_rows(ws.embeddings(ws.rows(origin="original")["id"].tolist()))
        ws.close()
        out["build_seconds"] = round(time.perf_counter() - start, 1)
        out["reference_rows"] = len(ref)
        out["gaps"] = [{k: g[k] for k in ("id", "score", "size", "radius", "description", "examples")}
                       for g in gaps]
        for method in FILL_METHODS_REAL:
            folder = Path(tmp) / f"{method}.amplio"
            shutil.copytree(base, folder)
            ws = Workspace.load(folder, encoder=encoder)
            start = time.perf_counter()
            per_gap = fill_gaps(ws, gaps, method, FILL_N)
            seconds = time.perf_counter() - start
            landed = measure(ws, gaps, per_gap, ref, original)
            report = ws.report()
            after = ws.gaps(top=TOP, reference=reference)
            examples = {gap["id"]: nearest_texts(ws, p["accepted"], gap, 3)
                        for gap, p in zip(gaps, per_gap, strict=True)}
            out["methods"][method] = {
                "seconds": round(seconds, 1),
                **fill_counts(per_gap),
                **{k: v for k, v in landed.items() if k != "per_gap"},
                "gaps_still_listed": still_listed(gaps, after),
                "change": _report_values(report),
                "per_gap": landed["per_gap"],
                "examples": examples,
            }
            print(method, json.dumps({k: out["methods"][method][k] for k in (
                "inside_empty_ball", "similarity_to_centre", "region_ratio_before",
                "region_ratio_after", "region_rows_reached", "gaps_still_listed")}), flush=True)
            ws.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=0, help="a sample of AART rows (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    start = time.perf_counter()
    part = run(args)
    part["seconds"] = round(time.perf_counter() - start, 1)
    part["machine"] = machine()
    result = json.loads(args.out.read_text()) if args.out.exists() else {"benchmark": "gaps"}
    result["reference_fill"] = part
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
