"""Ingest benchmark: open a dataset as a workspace, stage by stage, against the floor and the peer.

    python benchmarks/ingest.py            # full AART (3269 rows) and a 100k-row set
    python benchmarks/ingest.py --quick    # a 2k-row slice and a 4k-row varied set (minutes)

For each set it times our build (load, embed, project, cluster, store; ``Timings``), a raw
``SentenceTransformer.encode`` of the same texts with the same model and batch size (the floor),
and Embedding Atlas's ``compute_projection`` (its own embedding + UMAP) on the same texts with the
same local model. On the largest set it also times a warm re-open, adding 100 rows and placing 10
new rows with the fitted map. Results go to ``benchmarks/results/ingest.json`` (``--out``).

Embedding Atlas is a benchmark-only dependency: ``pip install embedding-atlas``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
AART = Path(os.environ.get("AMPLIO_AART_CSV", "/work/shared/datasets/aart_v1_20231117.csv"))
WORK = ROOT / ".work"
MODEL = "all-MiniLM-L6-v2"
BATCH = 64

# Deterministic variations that keep a prompt's meaning but make every row a distinct text.
PREFIXES = ["", "Please answer: ", "Quick question. ", "For a research report, ",
            "Be thorough. ", "Hypothetically, ", "In plain words, ", "Step by step: "]
SUFFIXES = ["", " Keep it short.", " Explain why.", " Give examples.",
            " Answer in English.", " Cite sources.", " Use a list.", " Be specific."]


class CountingEncoder:
    """Wraps an encoder and counts the texts it embeds (to prove re-opening embeds nothing)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.count = 0

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        self.count += len(texts)
        return self.inner.encode(texts, batch_size=batch_size)


def varied_set(base: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` distinct rows made from ``base``'s unique prompts with prefixes and suffixes."""
    unique = base.drop_duplicates("prompt").reset_index(drop=True)
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for variant in range(len(PREFIXES) * len(SUFFIXES)):
        prefix, suffix = PREFIXES[variant % len(PREFIXES)], SUFFIXES[variant // len(PREFIXES)]
        for prompt, crime in zip(unique["prompt"], unique["crime"], strict=True):
            text = f"{prefix}{prompt.strip()}{suffix}"
            if text not in seen:
                seen.add(text)
                rows.append((text, crime))
                if len(rows) == n:
                    return pd.DataFrame(rows, columns=["prompt", "crime"])
    raise ValueError(f"only {len(rows)} distinct variants; need {n}")


def versions() -> dict[str, str]:
    out = {}
    for name in ("amplio", "sentence-transformers", "torch", "umap-learn", "duckdb", "numpy",
                 "pandas", "scikit-learn", "embedding-atlas"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "gpu": _gpu(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
    }


def _gpu() -> str | None:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:
        return None


def time_ours(csv: Path, folder: Path, encoder: Any) -> tuple[dict[str, Any], Any]:
    import amplio
    from amplio.workspace.build import Timings

    timings = Timings()
    start = time.perf_counter()
    ws = amplio.open(csv, text_col="prompt", label_col="crime", workspace=folder, encoder=encoder,
                     timings=timings)
    total = time.perf_counter() - start
    rows = ws.info()["rows"]
    ws.close()
    stages = {k: round(v, 3) for k, v in timings.stages.items()}
    cpu = {k: round(v, 3) for k, v in timings.cpu.items()}
    return {"seconds": round(total, 3), "stages": stages, "cpu_stages": cpu, "rows": rows,
            "rows_per_s": round(rows / total, 1),
            "embed_rows_per_s": round(rows / timings.stages["embed"], 1)}, timings


def time_raw(texts: list[str], model_path: str) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True,
                 show_progress_bar=False)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "rows_per_s": round(len(texts) / seconds, 1),
            "call": f"SentenceTransformer.encode(texts, batch_size={BATCH}, normalize_embeddings=True)"}


def time_atlas(texts: list[str], model_path: str) -> dict[str, Any]:
    try:
        from embedding_atlas.projection import compute_projection
    except ImportError:
        return {"skipped": "embedding-atlas is not installed (pip install embedding-atlas)"}
    from sentence_transformers import SentenceTransformer

    start = time.perf_counter()
    SentenceTransformer(model_path)
    model_load = time.perf_counter() - start  # theirs loads the model inside the timed call
    frame = pd.DataFrame({"prompt": texts})
    with tempfile.TemporaryDirectory() as cache:  # an empty cache: no reuse of earlier results
        start = time.perf_counter()
        out = compute_projection(frame, inputs="prompt", modality="text", embedder="sentence-transformers",
                                 model=model_path, cache_root=cache)
        seconds = time.perf_counter() - start
    assert len(out) == len(texts) and np.isfinite(out["projection_x"].to_numpy()).all()
    return {"seconds": round(seconds, 3), "model_load_seconds_included": round(model_load, 3),
            "rows_per_s": round(len(texts) / seconds, 1),
            "call": "embedding_atlas.projection.compute_projection(df, inputs='prompt', "
                    "modality='text', embedder='sentence-transformers', model=<local path>)"}


def run_set(name: str, frame: pd.DataFrame, encoder: Any, model_path: str, work: Path,
            with_atlas: bool) -> dict[str, Any]:
    csv = work / f"{name}.csv"
    frame.to_csv(csv, index=False)
    folder = work / f"{name}.amplio"
    shutil.rmtree(folder, ignore_errors=True)
    # Warm torch's per-shape kernels on every 10th text (all length ranges) so that neither
    # timed pass below pays the first-call cost for the other; both passes see the same caches.
    encoder.encode(frame["prompt"].iloc[::10].tolist(), batch_size=BATCH)
    print(f"[{name}] {len(frame)} rows: amplio open ...", flush=True)
    ours, timings = time_ours(csv, folder, encoder)
    import amplio

    with amplio.load(folder, read_only=True) as ws:
        texts = ws.rows()["text"].tolist()  # exactly the texts we embedded (cleaned, deduplicated)
    print(f"[{name}] ours {ours['seconds']} s {ours['stages']}; raw encode ...", flush=True)
    raw = time_raw(texts, model_path)
    result: dict[str, Any] = {"rows_in_file": len(frame), "rows_embedded": len(texts), "ours": ours,
                              "raw_encode": raw,
                              "embed_over_raw": round(timings.stages["embed"] / raw["seconds"], 3),
                              # CPU time is not inflated by other programs on a busy machine.
                              "embed_over_raw_cpu": round(timings.cpu["embed"] / raw["cpu_seconds"], 3)}
    if with_atlas:
        print(f"[{name}] raw {raw['seconds']} s; embedding-atlas ...", flush=True)
        atlas = time_atlas(texts, model_path)
        result["embedding_atlas"] = atlas
        if "seconds" in atlas:
            result["ours_over_atlas"] = round(ours["seconds"] / atlas["seconds"], 3)
            result["atlas_over_raw"] = round(atlas["seconds"] / raw["seconds"], 3)
            print(f"[{name}] atlas {atlas['seconds']} s; ours/atlas {result['ours_over_atlas']}", flush=True)
    return result


def time_workspace_ops(folder: Path, encoder: Any) -> dict[str, Any]:
    """Warm re-open, adding 100 rows, and placing 10 new rows on the largest workspace."""
    from amplio.workspace.workspace import Workspace

    counting = CountingEncoder(encoder)
    with Workspace.load(folder, encoder=counting) as ws:  # cold open: fills the OS file cache
        ws.info()
    start = time.perf_counter()
    ws = Workspace.load(folder, encoder=counting)
    info = ws.info()
    reopen = time.perf_counter() - start
    assert counting.count == 0, "re-opening embedded text"
    try:
        texts = [f"Benchmark row {i}: how would someone smuggle item {i} past customs in port {i % 7}?"
                 for i in range(100)]
        start = time.perf_counter()
        ids = ws.add_rows(texts, method="manual")
        add = time.perf_counter() - start
        assert counting.count == 100 and len(ids) == 100, counting.count
        new = encoder.encode([f"Placement probe {i}: forging documents in city {i}." for i in range(10)])
        ws.place(new)  # warm-up: loads the pickled UMAP and compiles its transform
        runs = []
        for _ in range(7):
            start = time.perf_counter()
            ws.place(new)
            runs.append(time.perf_counter() - start)
        ws.undo()  # leave the benchmark workspace as built
    finally:
        ws.close()
    return {
        "rows": info["rows"],
        "warm_reopen_seconds": round(reopen, 4), "warm_reopen_target_seconds": 2.0,
        "reopen_encoder_calls": 0,
        "add_100_rows_seconds": round(add, 3), "add_100_rows_texts_embedded": 100,
        "transform_10_rows_ms_median": round(1000 * float(np.median(runs)), 2),
        "transform_10_rows_ms_max": round(1000 * max(runs), 2), "transform_target_ms": 100,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sets, for development")
    parser.add_argument("--big", type=int, default=100_000, help="rows in the varied set")
    parser.add_argument("--no-atlas", action="store_true", help="skip Embedding Atlas")
    parser.add_argument("--note", default="", help="free text stored with the results")
    parser.add_argument("--big-only", action="store_true",
                        help="run only the varied set and merge it into the existing results file")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "ingest.json")
    args = parser.parse_args(argv)
    logging.getLogger("embedding_atlas").setLevel(logging.WARNING)

    from amplio.embedding.registry import create_encoder
    from amplio.embedding.sentence_transformer import resolve_model_path

    model_path = resolve_model_path(MODEL)
    encoder = create_encoder("sentence-transformers", MODEL)
    encoder.encode(["warm-up"])
    base = pd.read_csv(AART, dtype=str, keep_default_na=False)
    big_n = 4_000 if args.quick else args.big
    sets = {
        ("aart_slice_2k" if args.quick else "aart_full"): base.iloc[:2000] if args.quick else base,
        f"aart_varied_{big_n // 1000}k": varied_set(base, big_n),
    }
    if args.big_only:
        sets.pop(next(iter(sets)))
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "benchmark": "ingest", "mode": "quick" if args.quick else "full",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": MODEL, "model_path": model_path, "batch_size": BATCH,
        "machine": machine(), "versions": versions(), "note": args.note,
        "targets": {"embed_over_raw": "<= 1.10", "ours_over_atlas": "<= 0.55",
                    "warm_reopen_seconds": "< 2", "transform_10_rows_ms": "< 100"},
        "sets": {},
    }
    if args.big_only and args.out.exists():
        # Keep the earlier sets' figures; this run's machine details go with its own set.
        earlier = json.loads(args.out.read_text(encoding="utf-8"))
        results = {**earlier, "date_" + next(iter(sets)): results["date"], "note": earlier.get("note", "")
                   + (" " + args.note if args.note else "")}
    for name, frame in sets.items():
        results["sets"][name] = run_set(name, frame, encoder, model_path, WORK, not args.no_atlas)
        results["sets"][name]["load_average_at_start"] = machine()["load_average_at_start"]
        _write(results, args.out)  # partial results survive an interrupted run
    largest = list(sets)[-1]
    ops = time_workspace_ops(WORK / f"{largest}.amplio", encoder)
    ops["set"] = largest
    if args.big_only:
        results.setdefault("workspace_ops_by_set", {})[largest] = ops
    else:
        results["workspace_ops"] = ops
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    _write(results, args.out)
    print(json.dumps(results, indent=2))
    return 0


def _write(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
