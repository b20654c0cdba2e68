"""Benchmark the encoder paths against raw ``SentenceTransformer.encode``, in one process.

Four variants embed the same AART prompts (duplicates removed) with the packaged
all-MiniLM-L6-v2 and batch size 64:

* ``st_raw``: ``SentenceTransformer.encode`` on the whole list (the floor: it sorts by length
  itself);
* ``st_amplio``: the ``sentence-transformers`` encoder as Amplio runs it (``embed_texts``:
  sorted by length, chunks of 2,048);
* ``onnx_fp32`` and ``onnx_int8``: the ``onnx`` and ``onnx-int8`` encoders through the same
  ``embed_texts``.

Each round runs every variant once, in a rotated order, so a busy machine slows all of them
alike; a variant's ratio is its time over ``st_raw``'s in the same round, median over rounds.
Wall time and process CPU time (all threads) are both reported: on a shared machine the CPU
ratio is the steadier one. Quality is measured against ``st_raw``'s vectors: mean and minimum
cosine, the share of rows whose 10 nearest neighbours (cosine, self excluded) are the same set,
and the mean overlap of the two top-10 sets. The one-off export and quantisation times are
measured in a fresh cache folder.

``--gaps`` (alone: merged into the existing results) runs the gap finder's validation benchmark
(``benchmarks/gaps.py`` part 1, ``--quick``: 10 AART and 8 Do-Not-Answer trials, PCA map) with
the vectors of ``sentence-transformers`` and of ``onnx-int8``, and records recall@5 per rule.

Run: ``python benchmarks/encoder.py [--rounds 3] [--limit N] [--gaps]``; writes
``benchmarks/results/encoder.json`` and ``encoder.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from amplio.embedding.batching import embed_texts  # noqa: E402
from amplio.embedding.onnx_runtime import OnnxEncoder, available_threads  # noqa: E402
from amplio.embedding.sentence_transformer import SentenceTransformerEncoder  # noqa: E402

AART = Path(os.environ.get("AMPLIO_DATASETS", "/work/shared/datasets")) / "aart_v1_20231117.csv"
REFERENCE = Path(__file__).resolve().parents[1] / "src/amplio/data/reference/redteam_reference.csv"
RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 64
TARGETS = {"time_ratio": 0.5, "mean_cosine": 0.99, "same_top10": 0.90}


def load_texts(limit: int | None) -> tuple[list[str], str]:
    if AART.is_file():
        texts, source = pd.read_csv(AART, dtype=str, keep_default_na=False)["prompt"], str(AART)
    else:  # the AART rows of the bundled reference set
        frame = pd.read_csv(REFERENCE, dtype=str, keep_default_na=False)
        texts, source = frame.loc[frame["source"] == "AART", "prompt"], f"{REFERENCE} (AART rows)"
    out = texts[texts.str.strip() != ""].drop_duplicates().tolist()
    return (out[:limit] if limit else out), source


def top10(vectors: np.ndarray) -> np.ndarray:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :10]


def quality(vectors: np.ndarray, reference: np.ndarray, ref_top: np.ndarray) -> dict[str, float]:
    cos = (vectors * reference).sum(axis=1)
    top = top10(vectors)
    same = [set(a) == set(b) for a, b in zip(ref_top, top, strict=True)]
    overlap = [len(set(a) & set(b)) / 10 for a, b in zip(ref_top, top, strict=True)]
    return {"mean_cosine": round(float(cos.mean()), 5), "min_cosine": round(float(cos.min()), 5),
            "same_top10": round(float(np.mean(same)), 4), "mean_top10_overlap": round(float(np.mean(overlap)), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="first N prompts only")
    parser.add_argument("--gaps", action="store_true",
                        help="only the gap-finder check (gaps.py part 1, quick), merged into the results")
    args = parser.parse_args()
    if args.gaps:
        result = json.loads((RESULTS / "encoder.json").read_text(encoding="utf-8"))
        result["gaps_quick"] = gaps_check()
        (RESULTS / "encoder.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        (RESULTS / "encoder.md").write_text(markdown(result), encoding="utf-8")
        print(markdown(result))
        return
    texts, source = load_texts(args.limit)
    print(f"{len(texts)} prompts from {source}; {available_threads()} threads", flush=True)

    with tempfile.TemporaryDirectory() as fresh:  # the one-off costs, from an empty cache
        t0 = time.perf_counter()
        OnnxEncoder(cache_dir=fresh)
        export_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        OnnxEncoder(quantize=True, cache_dir=fresh)
        quantise_s = time.perf_counter() - t0
    print(f"export {export_s:.1f} s, quantise {quantise_s:.1f} s", flush=True)

    st = SentenceTransformerEncoder()
    raw_model = st._model
    fp32, int8 = OnnxEncoder(), OnnxEncoder(quantize=True)
    t0 = time.perf_counter()
    OnnxEncoder()
    cached_load_s = time.perf_counter() - t0

    def raw(batch: list[str]) -> np.ndarray:
        return np.asarray(raw_model.encode(batch, batch_size=BATCH, convert_to_numpy=True,  # type: ignore[attr-defined]
                                           normalize_embeddings=True, show_progress_bar=False))

    variants: dict[str, Callable[[list[str]], np.ndarray]] = {
        "st_raw": raw,
        "st_amplio": lambda b: embed_texts(st, b, batch_size=BATCH),
        "onnx_fp32": lambda b: embed_texts(fp32, b, batch_size=BATCH),
        "onnx_int8": lambda b: embed_texts(int8, b, batch_size=BATCH),
    }
    for fn in variants.values():  # warm-up: first-call allocations and thread pools
        fn(texts[:64])
    names = list(variants)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    vectors: dict[str, np.ndarray] = {}
    load_before = os.getloadavg()[0]
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            w0, c0 = time.perf_counter(), time.process_time()
            vectors[name] = variants[name](texts)
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
            print(f"round {r + 1} {name:10s} wall {wall[name][-1]:7.1f} s  cpu {cpu[name][-1]:7.1f} s",
                  flush=True)
    load_after = os.getloadavg()[0]

    ref = vectors["st_raw"]
    ref_top = top10(ref)
    rows: dict[str, dict[str, object]] = {}
    for name in names:
        wall_ratio = statistics.median(w / b for w, b in zip(wall[name], wall["st_raw"], strict=True))
        cpu_ratio = statistics.median(c / b for c, b in zip(cpu[name], cpu["st_raw"], strict=True))
        rows[name] = {"wall_s_median": round(statistics.median(wall[name]), 2),
                      "cpu_s_median": round(statistics.median(cpu[name]), 2),
                      "wall_ratio": round(wall_ratio, 3), "cpu_ratio": round(cpu_ratio, 3),
                      "rows_per_s": round(len(texts) / statistics.median(wall[name]), 1),
                      **quality(vectors[name], ref, ref_top)}
    int8_vs_fp32 = quality(vectors["onnx_int8"], vectors["onnx_fp32"], top10(vectors["onnx_fp32"]))
    best = min(rows[n]["wall_ratio"] for n in ("onnx_fp32", "onnx_int8"))  # type: ignore[type-var]
    q = rows["onnx_int8"]
    verdict = {
        "time_ratio_le_0.5": bool(best <= TARGETS["time_ratio"]),
        "int8_mean_cosine_ge_0.99": bool(float(q["mean_cosine"]) >= TARGETS["mean_cosine"]),  # type: ignore[arg-type]
        "int8_same_top10_ge_0.90": bool(float(q["same_top10"]) >= TARGETS["same_top10"]),  # type: ignore[arg-type]
        "int8_mean_top10_overlap_ge_0.90": bool(float(q["mean_top10_overlap"]) >= TARGETS["same_top10"]),  # type: ignore[arg-type]
    }
    result = {
        "dataset": source, "rows": len(texts), "batch_size": BATCH, "rounds": args.rounds,
        "threads": available_threads(), "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "versions": _versions(), "export_s": round(export_s, 1), "quantise_s": round(quantise_s, 1),
        "cached_load_s": round(cached_load_s, 2), "variants": rows, "int8_vs_onnx_fp32": int8_vs_fp32,
        "targets": TARGETS, "verdict": verdict, "wall_s": wall, "cpu_s": cpu,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "encoder.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "encoder.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


GAP_KINDS = ("sentence-transformers", "onnx-int8")
GAP_RULES = ("centroid_in_ball", "rim_any", "rim_majority", "nearest_row_removed")


def gaps_check() -> dict[str, object]:
    """``benchmarks/gaps.py`` part 1 (quick, PCA) once per encoder kind: recall@5 and the
    finder-on-full-data control per dataset and rule, over all region families."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import gaps  # benchmarks/gaps.py
    from amplio.embedding.registry import create_encoder

    out: dict[str, object] = {"kinds": list(GAP_KINDS), "rules": list(GAP_RULES), "datasets": {}}
    for kind in GAP_KINDS:
        encoder = create_encoder(kind, "all-MiniLM-L6-v2")
        gaps.embed = lambda name, texts, cache, e=encoder: embed_texts(e, texts, batch_size=BATCH)
        args = argparse.Namespace(cache=None, map="pca", quick=True)
        for name in gaps.DATASETS:
            summary = gaps.run_dataset(name, args)["summary"]["all"]
            entry = out["datasets"].setdefault(name, {"trials": summary["trials"]})  # type: ignore[union-attr]
            entry[kind] = {rule: {"recall_at_5": summary[rule]["recall_at_5"],
                                  "control": summary[rule]["control_finder_on_full_data"]}
                           for rule in GAP_RULES}
            print(f"gaps {kind} {name}: {entry[kind]}", flush=True)
    return out


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for package in ("torch", "transformers", "sentence-transformers", "onnxruntime", "onnx"):
        try:
            out[package] = md.version(package)
        except md.PackageNotFoundError:
            out[package] = "none"
    return out


def markdown(r: dict) -> str:  # type: ignore[type-arg]
    lines = [
        "# Encoder paths against raw SentenceTransformer.encode",
        "",
        f"{r['rows']} AART prompts ({r['dataset']}), batch {r['batch_size']}, {r['threads']} threads, "
        f"{r['rounds']} rounds in rotated order; {r['machine']}; 1-min load average "
        f"{r['load_average_1min'][0]} before, {r['load_average_1min'][1]} after (a shared machine). "
        "Ratios are per round against `st_raw`, median over rounds. Quality is against `st_raw`'s vectors.",
        "",
        "| variant | wall s | wall ratio | CPU ratio | rows/s | mean cosine | min cosine | same top-10 set | mean top-10 overlap |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, v in r["variants"].items():
        lines.append(f"| {name} | {v['wall_s_median']} | {v['wall_ratio']:.2f}× | {v['cpu_ratio']:.2f}× | "
                     f"{v['rows_per_s']} | {v['mean_cosine']:.4f} | {v['min_cosine']:.4f} | "
                     f"{v['same_top10']:.3f} | {v['mean_top10_overlap']:.3f} |")
    i = r["int8_vs_onnx_fp32"]
    lines += [
        "",
        f"int8 against ONNX fp32: mean cosine {i['mean_cosine']:.4f}, same top-10 set "
        f"{i['same_top10']:.3f}, mean top-10 overlap {i['mean_top10_overlap']:.3f}.",
        f"One-off costs: export {r['export_s']} s, int8 quantisation {r['quantise_s']} s; "
        f"loading the cached export {r['cached_load_s']} s.",
        "",
        "Targets (issue 16): embed stage ≤ 0.5× raw; int8 mean cosine ≥ 0.99; same top-10 "
        "neighbours for ≥ 90 % of rows.",
        "",
        *[f"- {k}: {'met' if ok else 'MISSED'}" for k, ok in r["verdict"].items()],
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()) + ".",
        "",
    ]
    g = r.get("gaps_quick")
    if g:
        lines += [
            "## Gap finder with int8 vectors",
            "",
            "`benchmarks/gaps.py` part 1, quick (PCA map): recall@5 of the removed region, "
            "sentence-transformers → onnx-int8 (control: the finder on the full data).",
            "",
            "| dataset | trials | " + " | ".join(g["rules"]) + " |",
            "|---|---|" + "---|" * len(g["rules"]),
        ]
        for name, d in g["datasets"].items():
            a, b = d[g["kinds"][0]], d[g["kinds"][1]]
            cells = [f"{a[x]['recall_at_5']:.2f} → {b[x]['recall_at_5']:.2f} "
                     f"(control {a[x]['control']:.2f} → {b[x]['control']:.2f})" for x in g["rules"]]
            lines.append(f"| {name} | {d['trials']} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
