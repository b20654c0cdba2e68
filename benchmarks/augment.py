"""Benchmark the three augmentation methods on AART with the default offline backends.

    python benchmarks/augment.py [--requests 5] [--n 5] [--rows 3269]

For each method: seconds per request (median, p90), candidates shown per request (the gates
hold back the rest, with reasons), mean fidelity, mean novelty and the share of returned
candidates that exactly duplicate an existing row or another candidate. Requests are made the
way a user makes them: a concept the UI suggests for the row at +0.8, interpolation toward one of
the row's 30 nearest rows, an LLM instruction. Targets: each request within 15 s on 2 cores
with n = 5; under 2 % exact duplicates. Quality is measured blind by ``benchmarks/quality.py``.
Writes benchmarks/results/augment.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

import amplio
from amplio.quality.checks import normalise_text
from amplio.workspace.concepts import ensure_concepts

AART = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "aart_v1_20231117.csv"
RESULTS = Path(__file__).resolve().parent / "results" / "augment.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--requests", type=int, default=5, help="requests per method")
    parser.add_argument("--n", type=int, default=5, help="candidates per request")
    parser.add_argument("--rows", type=int, default=0, help="use only the first ROWS of AART (0 = all)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="amplio-bench-augment-"))
    frame = pd.read_csv(AART)
    if args.rows:
        frame = frame.head(args.rows)
    t0 = time.perf_counter()
    ws = amplio.open(frame, text_col="prompt", label_col="crime", workspace=work / "aart.amplio")
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ensure_concepts(ws)
    concepts_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    n_rows = ws.info()["original"]
    existing = {normalise_text(t) for t in ws.rows()["text"]}
    if ws.augment_llm([0], "rewrite it", n=1):  # warm-up: loads the LLM once, outside the timings
        ws.undo()
    ids, embeddings = ws.all_embeddings()

    results = {}
    for method in ("concepts", "interpolate", "llm"):
        times, fidelities, novelties, texts, shown = [], [], [], [], []
        held: dict[str, int] = {}
        for r in range(args.requests):
            row = int(rng.integers(n_rows))
            start = time.perf_counter()
            if method == "concepts":
                concept = ws.concepts_for_row(row)["suggested"][0]["id"]
                start = time.perf_counter()  # the suggestion is the UI's, before the request
                made = ws.augment_concepts(row, {concept: 0.8}, n=args.n, seed=r)
            elif method == "interpolate":
                near = [int(i) for i in ids[np.argsort(-(embeddings @ embeddings[row]))[1:31]]]
                made = ws.augment_interpolate(row, to_row=int(rng.choice(near)), n=args.n, seed=r)
            else:
                made = ws.augment_llm([row], "ask for the same thing in a different setting",
                                      n=args.n, seed=r)
            times.append(time.perf_counter() - start)
            shown.append(len(made))
            for h in made.held_back:
                for reason in h["reasons"]:
                    held[reason] = held.get(reason, 0) + 1
            fidelities += [c["fidelity"] for c in made if c["fidelity"] is not None]
            novelties += [c["novelty"] for c in made]
            texts += [c["text"] for c in made]
        keys = [normalise_text(t) for t in texts]
        exact_dups = sum(1 for i, k in enumerate(keys) if k in existing or k in keys[:i])
        results[method] = {
            "requests": args.requests, "n": args.n, "returned": len(texts),
            "shown_per_request": shown, "held_back": dict(sorted(held.items(), key=lambda kv: -kv[1])),
            "seconds_median": round(statistics.median(times), 2),
            "seconds_p90": round(float(np.percentile(times, 90)), 2),
            "mean_fidelity": round(float(np.mean(fidelities)), 4) if fidelities else None,
            "mean_novelty": round(float(np.mean(novelties)), 4) if novelties else None,
            "exact_duplicate_share": round(exact_dups / max(len(texts), 1), 4),
            "examples": texts[:3],
        }
        print(method, json.dumps({k: v for k, v in results[method].items() if k != "examples"}))
    ws.close()
    shutil.rmtree(work, ignore_errors=True)
    out = {
        "benchmark": "augment", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "dataset": {"name": "AART", "rows": n_rows},
        "build_seconds": round(build_s, 1), "concept_training_seconds": round(concepts_s, 1),
        "targets": {"seconds_per_request": 15, "exact_duplicate_share": 0.02},
        "machine_note": os.environ.get("AMPLIO_BENCH_NOTE", ""),
        "methods": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
