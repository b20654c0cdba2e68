"""Storing a million vectors: peak memory and time of ``Store.put_embeddings``, in slices or in one
INSERT, each in a fresh process (peak RSS is per process).

    python benchmarks/store_memory.py               # 1M x 384 random unit vectors
    python benchmarks/store_memory.py --rows 200000

The store stage was the memory peak of a 1M-row build (benchmarks/scale.py: 11.0 GiB, against
4.6 GiB for every stage before it). Results: benchmarks/results/store_memory.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
ONE_INSERT = 10**12


def one_run(rows: int, slice_rows: int) -> dict[str, float]:
    import amplio.workspace.store as store

    store.EMBEDDING_INSERT_ROWS = slice_rows
    vectors = np.random.default_rng(0).standard_normal((rows, 384), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    hashes = [f"{i:016x}" for i in range(rows)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    folder = Path(tempfile.mkdtemp()) / "ws"
    folder.mkdir()
    target = store.Store(folder, create=True)
    start = time.perf_counter()
    with target.transaction():
        target.put_embeddings("bench", hashes, vectors)
    seconds = time.perf_counter() - start
    target.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"seconds": round(seconds, 1), "peak_gib": round(peak, 2), "inputs_gib": round(before, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(one_run(args.rows, args.child)))
        return
    from amplio.workspace.store import EMBEDDING_INSERT_ROWS

    runs = {}
    for name, slice_rows in (("one INSERT", ONE_INSERT), (f"slices of {EMBEDDING_INSERT_ROWS:,}", EMBEDDING_INSERT_ROWS)):
        done = subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--child", str(slice_rows)],
                              check=True, capture_output=True, text=True)
        runs[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(name, runs[name], flush=True)
    result = {"benchmark": "store_memory", "rows": args.rows, "dim": 384,
              "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {platform.python_version()}", "runs": runs}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "store_memory.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Storing {args.rows:,} vectors (384-d)", "",
             "Peak RSS of a fresh process that holds the vectors (inputs) and stores them in one transaction.",
             "", "| insert | seconds | peak GiB | of which inputs GiB |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {r['seconds']} | {r['peak_gib']} | {r['inputs_gib']} |" for name, r in runs.items()]
    (RESULTS / "store_memory.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
