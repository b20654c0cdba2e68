"""The map at scale: a workspace built from up to 1M precomputed vectors, stage by stage.

    python benchmarks/scale.py                       # 1M rows
    python benchmarks/scale.py --rows 100000 300000  # smaller runs, one after another
    python benchmarks/scale.py --rows 100000 --compare-transform   # also UMAP transform placement

**Data.** The 4,682 prompts of the bundled red-teaming reference set (AART, Do-Not-Answer,
AdvBench) are embedded once with the default encoder (all-MiniLM-L6-v2; cached in
``benchmarks/.work/scale``). Row ``i`` is prompt ``i mod 4682`` with a template prefix/suffix and
a copy number in its text, and its vector is that prompt's MiniLM vector perturbed by seeded
Gaussian noise and renormalised (mean cosine to the prompt's vector about 0.9). So the vectors
are MiniLM vectors of repeated, perturbed real rows, not MiniLM vectors of the texts: embedding
1M texts on 2 cores would take hours, which is what bringing your own vectors avoids.

**What is timed** (wall seconds and the peak RSS during each stage, sampled every 50 ms):
``amplio.open`` of the rows with an encoder that looks the precomputed vectors up (so the
*embed* stage is a lookup), its stages as ``Timings`` reports them (load, embed, project, cluster,
store), then reopening the workspace, ``/api/points``'s query (every row's id and position), the
gap finder (or its size limit) and the reference-gap finder (the reference set against all rows),
then (unless ``--no-coverage``) concept training, concept coverage over all rows and the
diversity report.
``--compare-transform`` also places the non-sampled rows with UMAP's ``transform`` instead of
the nearest-neighbour placement, with the neighbour recall@10 of both (of 1,000 random rows,
the share of their 10 nearest rows in 384-d that are among their 10 nearest on the map).

Results: ``benchmarks/results/scale.json`` and ``.md`` (runs of other sizes already there are
kept, so sizes can be run separately).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
WORK = ROOT / ".work" / "scale"
MODEL = "all-MiniLM-L6-v2"
NOISE = 0.018  # per-dimension noise: cosine to the prompt's own vector about 0.9 (384-d)
PREFIXES = ["", "Please answer: ", "Quick question. ", "For a research report, ",
            "Be thorough. ", "Hypothetically, ", "In plain words, ", "Step by step: "]
SUFFIXES = ["", " Keep it short.", " Explain why.", " Give examples.",
            " Answer in English.", " Cite sources.", " Use a list.", " Be specific."]


class RssPeak:
    """Samples this process's resident memory every 50 ms; ``peak()`` since the last ``reset``."""

    def __init__(self) -> None:
        self._peak = 0
        self._stop = False
        self._page = os.sysconf("SC_PAGE_SIZE")
        threading.Thread(target=self._run, daemon=True).start()

    def now(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop:
            self._peak = max(self._peak, self.now())
            time.sleep(0.05)

    def reset(self) -> None:
        self._peak = self.now()

    def peak_gib(self) -> float:
        return round(max(self._peak, self.now()) / 2**30, 2)


RSS = RssPeak()


@contextmanager
def stage(out: dict[str, Any], name: str) -> Iterator[None]:
    RSS.reset()
    start = time.perf_counter()
    yield
    out[name] = {"seconds": round(time.perf_counter() - start, 2), "peak_rss_gib": RSS.peak_gib()}
    print(f"  {name}: {out[name]}", flush=True)


def base_set() -> tuple[list[str], np.ndarray]:
    """The reference prompts and their MiniLM vectors (embedded once, cached)."""
    from amplio.data.reference import __file__ as ref_init

    WORK.mkdir(parents=True, exist_ok=True)
    texts_file, vec_file = WORK / "base_texts.json", WORK / "base_vectors.npy"
    if texts_file.exists() and vec_file.exists():
        return json.loads(texts_file.read_text()), np.load(vec_file)
    frame = pd.read_csv(Path(ref_init).parent / "redteam_reference.csv")
    texts = frame["prompt"].astype(str).drop_duplicates().tolist()
    from amplio.embedding.batching import embed_texts
    from amplio.embedding.registry import create_encoder

    print(f"embedding {len(texts)} base prompts once with {MODEL} ...", flush=True)
    vectors = embed_texts(create_encoder("sentence-transformers", MODEL), texts)
    np.save(vec_file, vectors)
    texts_file.write_text(json.dumps(texts))
    return texts, vectors


def synthetic(n: int, texts: list[str], base: np.ndarray, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` rows: prompt ``i mod B`` with a template and copy number, and a perturbed vector."""
    b = len(texts)
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        idx = np.arange(start, min(start + 100_000, n))
        v = base[idx % b] + rng.normal(0.0, NOISE, (len(idx), base.shape[1])).astype(np.float32)
        out[idx] = v / np.linalg.norm(v, axis=1, keepdims=True)
    variants = len(PREFIXES) * len(SUFFIXES)
    rows = []
    for i in range(n):
        copy = i // b
        prefix, suffix = PREFIXES[copy % variants % len(PREFIXES)], SUFFIXES[copy % variants // len(PREFIXES)]
        rows.append(f"{prefix}{texts[i % b]}{suffix}" + (f" (variant {copy // variants})" if copy >= variants else ""))
    return rows, out


class LookupEncoder:
    """An ``Encoder`` whose vectors were computed elsewhere: looks each text up."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.name, self.dim = MODEL, vectors.shape[1]
        self._index = {t: i for i, t in enumerate(texts)}
        self._vectors = vectors

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self._vectors[[self._index[t] for t in texts]]


_LAST: dict[str, float] = {}


def _progress(stage_name: str, done: int, total: int) -> None:
    """Print a build stage's progress at most every 30 s (and when it starts and ends)."""
    now = time.perf_counter()
    if done in (0, total) or now - _LAST.get(stage_name, 0.0) > 30:
        _LAST[stage_name] = now
        print(f"    {time.strftime('%H:%M:%S')} {stage_name} {done:,}/{total:,}", flush=True)


def same_prompt_share(xy: np.ndarray, queries: np.ndarray, prompts: int, k: int = 10) -> float:
    """Mean share of each query's ``k`` nearest rows on the map that are copies of its prompt
    (row ``i`` is a copy of prompt ``i mod prompts``): whether the copies stay together."""
    import torch

    hits = 0
    for start in range(0, len(queries), 100):
        q = queries[start:start + 100]
        d2 = ((xy[q][:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
        d2[np.arange(len(q)), q] = np.inf
        low = torch.topk(torch.from_numpy(-d2), k, dim=1).indices.numpy()
        hits += int((low % prompts == (q % prompts)[:, None]).sum())
    return round(hits / (len(queries) * k), 3)


def neighbour_recall(x: np.ndarray, xy: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    """Mean share of each query's ``k`` nearest rows in ``x`` (cosine) that are among its ``k``
    nearest on the map."""
    import torch  # its top-k is ~10x numpy's argpartition

    hits = 0
    for start in range(0, len(queries), 100):
        q = queries[start:start + 100]
        sims = x[q] @ x.T
        sims[np.arange(len(q)), q] = -np.inf
        high = torch.topk(torch.from_numpy(sims), k, dim=1).indices.numpy()
        d2 = ((xy[q][:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
        d2[np.arange(len(q)), q] = np.inf
        low = torch.topk(torch.from_numpy(-d2), k, dim=1).indices.numpy()
        hits += sum(len(set(a) & set(b)) for a, b in zip(high.tolist(), low.tolist(), strict=True))
    return round(hits / (len(queries) * k), 3)


def run(n: int, compare_transform: bool, gaps: bool, gaps_max: int = 50_000,
        gap_sizes: Sequence[int] = (), coverage: bool = True) -> dict[str, Any]:
    import amplio
    from amplio.gaps.finder import MAX_ROWS, find_gaps
    from amplio.gaps.reference import find_reference_gaps
    from amplio.projection.umap_projection import (
        SAMPLE_ABOVE,
        SAMPLE_SIZE,
        NeighbourLayout,
        _fit_umap,
        _place_bulk,
    )
    from amplio.workspace import build as build_module
    from amplio.workspace.build import Timings
    from amplio.workspace.workspace import Workspace

    print(f"== {n:,} rows", flush=True)
    base_texts, base = base_set()
    out: dict[str, Any] = {"rows": n, "stages": {}}
    st = out["stages"]
    with stage(st, "make synthetic rows"):
        texts, vectors = synthetic(n, base_texts, base)
    frame = pd.DataFrame({"prompt": texts, "label": [f"group{i % 7}" for i in range(n)]})
    folder = WORK / f"ws-{n}.amplio"
    shutil.rmtree(folder, ignore_errors=True)
    timings = Timings()
    build_peaks: dict[str, float] = {}
    enter, leave = build_module._Stage.__enter__, build_module._Stage.__exit__

    def _enter(self: Any) -> None:  # peak RSS of each build stage, beside its Timings seconds
        RSS.reset()
        enter(self)

    def _leave(self: Any, *exc: object) -> None:
        build_peaks[self.stage] = RSS.peak_gib()
        leave(self, *exc)

    build_module._Stage.__enter__, build_module._Stage.__exit__ = _enter, _leave  # type: ignore[method-assign]
    with stage(st, "amplio.open (all build stages)"):
        ws = amplio.open(frame, text_col="prompt", label_col="label", workspace=folder,
                         encoder=LookupEncoder(texts, vectors), timings=timings, progress=_progress)
    build_module._Stage.__enter__, build_module._Stage.__exit__ = enter, leave  # type: ignore[method-assign]
    out["build_stages_s"] = {k: round(v, 2) for k, v in timings.stages.items()}
    out["build_stages_peak_rss_gib"] = build_peaks
    print(f"  build stages: {out['build_stages_s']}", flush=True)
    out["map"] = {"sample_above": SAMPLE_ABOVE, "sample_size": SAMPLE_SIZE,
                  "fitted_rows": ws.projection.fitted_rows}
    ws.close()
    del ws
    with stage(st, "reopen workspace"):
        ws = Workspace.load(folder)
    with stage(st, "Workspace.points() (what /api/points sends)"):
        points = ws.points()
    xy = points[["x", "y"]].to_numpy(np.float32)
    out["finite_positions"] = bool(np.isfinite(xy).all())
    out["clusters"] = int(points["cluster"].nunique())
    rng = np.random.default_rng(1)
    queries = rng.choice(n, min(1000, n), replace=False)
    with stage(st, "neighbour recall@10 (measurement only)"):
        out["neighbour_recall_at_10"] = neighbour_recall(vectors, xy, queries)
        out["same_prompt_share_at_10"] = same_prompt_share(xy, queries, len(base_texts))
        out["copies_per_prompt"] = round(n / len(base_texts), 1)
    print(f"  recall@10 {out['neighbour_recall_at_10']}, same prompt@10 {out['same_prompt_share_at_10']}",
          flush=True)
    if compare_transform:
        # One UMAP fit on the same sample, then the other rows placed both ways.
        fit_idx = np.sort(np.random.default_rng(0).choice(n, min(SAMPLE_SIZE, n), replace=False))
        rest = np.setdiff1d(np.arange(n), fit_idx)
        t = time.perf_counter()
        reducer, fitted = _fit_umap(vectors[fit_idx], 0, 15)
        compare: dict[str, Any] = {"fit_seconds": round(time.perf_counter() - t, 2),
                                   "placed_rows": len(rest)}
        layout = NeighbourLayout(vectors[fit_idx], fitted)
        for placement in ("neighbours", "transform"):
            placed = np.zeros((n, 2), dtype=np.float32)
            placed[fit_idx] = fitted
            t = time.perf_counter()
            if placement == "neighbours":
                placed[rest] = _place_bulk(reducer, layout, vectors[rest])
            else:
                placed[rest] = reducer.transform(vectors[rest])  # type: ignore[attr-defined]
            compare[placement] = {"seconds": round(time.perf_counter() - t, 2),
                                  "neighbour_recall_at_10": neighbour_recall(vectors, placed, queries)}
            print(f"  placing {len(rest):,} rows with {placement}: {compare[placement]}", flush=True)
        out["placement_compare"] = compare
    labels = [f"group{i % 7}" for i in range(n)]
    if gaps and gap_sizes:
        growth: dict[str, float] = {}
        for size in gap_sizes:
            sub = rng.choice(n, size, replace=False)
            t = time.perf_counter()
            find_gaps(vectors[sub], xy[sub], [texts[i] for i in sub], [labels[i] for i in sub], top=10)
            growth[str(size)] = round(time.perf_counter() - t, 2)
            print(f"  gap finder on a {size:,}-row subset: {growth[str(size)]} s", flush=True)
        out["gap_finder_growth_s"] = growth
    if gaps:
        if n > gaps_max and n <= MAX_ROWS:
            out["gap_finder_note"] = f"not timed at {n:,} rows (over --gaps-max {gaps_max:,}); see the subset growth"
        elif n <= MAX_ROWS:
            with stage(st, "gap finder"):
                found = find_gaps(vectors, xy, texts, labels, top=10, project=ws.place)
            out["gaps_found"] = len(found)
        else:
            with stage(st, "gap finder (refused above its limit)"):
                try:
                    find_gaps(vectors, xy, texts, labels, top=10, project=ws.place)
                    out["gap_limit_message"] = None
                except amplio.errors.InputError as exc:
                    out["gap_limit_message"] = str(exc)
        ref_idx = np.arange(len(base_texts))
        with stage(st, "reference gaps (4,682 reference rows vs all rows)"):
            found = find_reference_gaps(vectors, xy, texts, labels, base[ref_idx], base_texts,
                                        top=10, project=ws.place)
        out["reference_gaps_found"] = len(found)
    if coverage:
        from amplio.gaps.metrics import NN_EXACT_MAX, NN_SAMPLE
        from amplio.workspace.concepts import TRAIN_SAMPLE

        with stage(st, f"concepts (SAE on {min(n, TRAIN_SAMPLE):,} rows + the bundled reference)"):
            ws.train_concepts(seed=0)
        with stage(st, "concept coverage (activations of all rows, counted per label)"):
            cov = ws.coverage()
        out["coverage"] = {"rows": cov["rows"], "labels": len(cov["labels"]),
                           "concepts_shown": len(cov["concepts"])}
        nn = "exact" if n <= NN_EXACT_MAX else f"estimated from {NN_SAMPLE:,} rows"
        with stage(st, f"diversity report (Vendi; mean NN distance {nn})"):
            rep = ws.report()
        out["diversity_all"] = {k: rep["after"]["all"][k] for k in ("vendi", "mean_nn_distance")}
    ws.close()
    shutil.rmtree(folder, ignore_errors=True)
    return out


def markdown(report: dict[str, Any]) -> str:
    runs = sorted(report["runs"].values(), key=lambda r: r["rows"])
    names: list[str] = []
    for r in runs:
        for name in list(r["build_stages_s"]) + list(r["stages"]):
            if name not in names:
                names.append(name)
    lines = [f"# The map at scale ({report['machine']['cpu_count']} cores, {report['date']})", "",
             report["data"], "",
             "Seconds (peak RSS GiB) per stage; `build: X` are `amplio.open`'s own stages.", "",
             "| stage | " + " | ".join(f"{r['rows']:,} rows" for r in runs) + " |",
             "|---|" + "---:|" * len(runs)]
    for name in names:
        cells = []
        for r in runs:
            if name in r["build_stages_s"] and name not in r["stages"]:
                peak = r.get("build_stages_peak_rss_gib", {}).get(name)
                cells.append(f"{r['build_stages_s'][name]:.1f}" + (f" ({peak:.2f})" if peak else ""))
            elif name in r["stages"]:
                s = r["stages"][name]
                cells.append(f"{s['seconds']:.1f} ({s['peak_rss_gib']:.2f})")
            else:
                cells.append("–")
        label = f"build: {name}" if any(name in r["build_stages_s"] for r in runs) else name
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| neighbour recall@10 | " + " | ".join(str(r.get("neighbour_recall_at_10")) for r in runs) + " |")
    lines.append("| map neighbours that are copies of the same prompt (@10) | "
                 + " | ".join(str(r.get("same_prompt_share_at_10", "–")) for r in runs) + " |")
    lines.append("| copies of each prompt | " + " | ".join(str(r.get("copies_per_prompt", "–")) for r in runs) + " |")
    lines.append("| rows UMAP was fitted on | " + " | ".join(f"{r['map']['fitted_rows']:,}" for r in runs) + " |")
    for r in runs:
        if "placement_compare" in r:
            c = r["placement_compare"]
            lines += ["", f"Placing the {c['placed_rows']:,} rows outside the sample at {r['rows']:,} rows "
                      f"(after one UMAP fit on the sample, {c['fit_seconds']:.1f} s):", "",
                      "| placement | seconds | neighbour recall@10 (all rows) |", "|---|---:|---:|"]
            lines += [f"| {k} | {c[k]['seconds']:.1f} | {c[k]['neighbour_recall_at_10']} |"
                      for k in ("neighbours", "transform")]
        if r.get("gap_finder_growth_s"):
            g = r["gap_finder_growth_s"]
            lines += ["", f"Gap finder on random subsets of the {r['rows']:,} rows (seconds): "
                      + ", ".join(f"{int(k):,} rows {v:.1f}" for k, v in g.items())]
        if r.get("gap_finder_note"):
            lines += ["", f"Gap finder at {r['rows']:,} rows: {r['gap_finder_note']}"]
        if r.get("gap_limit_message"):
            lines += ["", f"Gap finder at {r['rows']:,} rows: {r['gap_limit_message']}"]
    if report.get("notes"):
        lines += [""] + [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--compare-transform", action="store_true",
                        help="also time UMAP transform placement (slow at 1M)")
    parser.add_argument("--no-gaps", action="store_true", help="skip the gap finders")
    parser.add_argument("--no-coverage", action="store_true",
                        help="skip concept training, concept coverage and the diversity report")
    parser.add_argument("--gaps-max", type=int, default=50_000,
                        help="time the gap finder on all rows only up to this many rows")
    parser.add_argument("--gap-sizes", type=int, nargs="*", default=[],
                        help="also time the gap finder on random subsets of these sizes (its growth)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "scale.json")
    args = parser.parse_args()
    report: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {"runs": {}}
    for n in args.rows:
        earlier = report["runs"].get(str(n), {})
        report["runs"][str(n)] = run(n, args.compare_transform, not args.no_gaps, args.gaps_max,
                                     args.gap_sizes, not args.no_coverage)
        for key, value in earlier.items():  # keep what this run skipped (e.g. --no-gaps)
            if key == "stages":
                report["runs"][str(n)]["stages"] = {**value, **report["runs"][str(n)]["stages"]}
            else:
                report["runs"][str(n)].setdefault(key, value)
        report.update({
            "benchmark": "scale", "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": ("Rows: the 4,682 bundled reference prompts, repeated with template prefixes/suffixes; "
                     f"vectors: their all-MiniLM-L6-v2 vectors plus Gaussian noise (sigma {NOISE} per "
                     "dimension, renormalised; cosine to the prompt's vector ~0.9), given to the build "
                     "as precomputed vectors (the embed stage is a lookup)."),
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(),
                        "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        })
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
