"""Find empty regions ("gaps") inside a set of embeddings and rank them.

How it works, and why (measured in ``benchmarks/gaps.py``; see ``docs/gaps.md``):

1. **Candidates.** Each row is paired with a few of its neighbours (ranks drawn log-uniformly
   between 2 and ``NEIGHBOURS``) and the pair's normalised midpoint is a seed point, as is the
   normalised mean of each row's ``RIM`` nearest neighbours. Each seed point is re-centred once:
   the candidate is the normalised mean of the ``RIM`` rows nearest the seed point (seed points
   with the same nearest rows give one candidate). Candidates are built only from data, by
   averaging, so they lie inside the cloud, never out in the empty space around it. A gap's
   *rim* is then the ``RIM`` rows nearest its centre.
2. **Hub-matched emptiness (``score``).** In a 384-d sentence-embedding space the normalised mean
   of any ten rows is far from every row (concentration of measure), so "far from data" alone
   flags every centroid. The score therefore compares like with like: ``radius`` is the distance
   from the centre (a mean of ``RIM`` rows) to its nearest row, and the reference is the same
   statistic for the *hubs* of the rim rows, the normalised mean of each rim row and its
   ``RIM - 1`` nearest rows. In a filled region such a hub has a row close to it; inside a hole
   the mean of the rows around the hole has none. ``score = radius / max(median hub radius of the
   rim rows, median hub radius of all rows)``; the floor keeps runs of near-duplicate template
   rows (hub radius near 0) from making any space between them look infinitely empty.
3. **Surrounded.** The 5th-nearest rim row is at most ``SURROUND`` times as far as the nearest,
   so the centre is not just hugging one stray row.
4. **Ranking.** Gaps rank by ``score``; a gap needs ``score >= MIN_SCORE`` (emptier than the hubs
   around it). ``size`` is the mean rim distance in units of the data's median neighbour distance.
   Non-maximum suppression drops a candidate whose rim shares more than half its rows with a
   better gap's rim, or whose centre is within half a better gap's radius.

Limits (measured): natural gaps between groups of rows are as empty as regions that were
deliberately removed from these datasets, so the top gaps are mostly natural ones; removing a
k-means cluster or a label rarely leaves a hole surrounded by the remaining rows (see
``docs/gaps.md``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amplio.errors import InputError
from amplio.gaps.neighbours import knn, unit_rows

RIM = 10  # rows on a gap's rim; also the size of the row hubs the score compares with
NEIGHBOURS = 40  # pair partners are drawn from this many nearest neighbours of a row
PAIRS = 2  # pair midpoints per seed row
MAX_SEEDS = 4000  # on larger sets, candidates are seeded from this many rows (a seeded sample)
SURROUND = 1.5  # 5th-nearest rim row at most this many times farther than the nearest
MIN_SCORE = 1.0  # a gap's centre must be emptier than the hubs of its rim rows
MIN_DEPTH = MIN_SCORE  # former name, kept for callers
NMS_FRACTION = 0.5  # suppress a candidate within this fraction of a better gap's radius
MIN_ROWS = 12
#: Above this many rows the finder refuses (InputError) instead of running for hours: its row
#: statistics are an exact n x n neighbour search, O(n^2 d) (measured in benchmarks/scale.py and
#: docs/scale.md). Reference gaps (``amplio.gaps.reference``) cost O(n x reference) and have no limit.
MAX_ROWS = 200_000

Projector = Callable[[NDArray[np.float32]], NDArray[np.floating]]


@dataclass
class Gap:
    """One empty region.

    Attributes:
        id: stable identifier (a hash of the rim rows), equal for equal input and seed.
        score: hub-matched emptiness: ``radius`` over the typical distance from a hub of the rim
            rows (the mean of a row and its ``RIM - 1`` neighbours) to its nearest row, floored
            at the median over all rows. Above 1 is emptier than filled space nearby.
        size: mean rim distance in units of the data's median neighbour distance.
        center_embedding: unit vector at the gap's centre (a normalised mean of rows near it).
        x, y: map position of the centre.
        radius: cosine distance from the centre to its nearest row (the empty ball).
        rim_rows: row indices of the ``RIM`` nearest rows, nearest first.
        description: distinctive keywords of the rim rows' texts.
        labels: label counts on the rim (rows without a label are not counted).
    """

    id: str
    score: float
    size: float
    center_embedding: NDArray[np.float32]
    x: float
    y: float
    radius: float
    rim_rows: list[int]
    description: list[str] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: id, score, x, y, size, radius, description, rim_rows, labels."""
        return {
            "id": self.id,
            "score": round(float(self.score), 4),
            "x": float(self.x),
            "y": float(self.y),
            "size": round(float(self.size), 4),
            "radius": round(float(self.radius), 4),
            "description": list(self.description),
            "rim_rows": [int(r) for r in self.rim_rows],
            "labels": {str(k): int(v) for k, v in self.labels.items()},
        }


@dataclass
class CentreStats:
    """Measures of candidate centres against a set of rows (see ``measure_centres``)."""

    rim: NDArray[np.int64]  # (m, RIM) nearest rows, nearest first
    rim_dist: NDArray[np.float32]  # (m, RIM) their cosine distances
    emptiness: NDArray[np.float32]  # mean distance to the rim
    depth: NDArray[np.float32]  # emptiness / median neighbour distance of the rim rows
    surrounded: NDArray[np.bool_]  # nearest rows at similar distances
    size: NDArray[np.float32]  # emptiness / median neighbour distance of all rows
    score: NDArray[np.float32]  # hub-matched emptiness (see ``Gap.score``)

    @property
    def radius(self) -> NDArray[np.float32]:
        """Distance from each centre to its nearest row."""
        return self.rim_dist[:, 0]


@dataclass
class RowStats:
    """What the centre measures need to know about the rows themselves."""

    neighbours: NDArray[np.int64]  # (n, K) nearest other rows, nearest first
    neighbour_dist: NDArray[np.float32]  # (n, K) their distances
    hub_radius: NDArray[np.float32]  # (n,) distance from each row's hub to its nearest row

    @property
    def scale(self) -> NDArray[np.float32]:
        """Each row's mean distance to its ``RIM`` nearest rows."""
        return self.neighbour_dist[:, :RIM].mean(axis=1)


def find_gaps(
    embeddings: NDArray[np.floating],
    xy: NDArray[np.floating],
    texts: Sequence[str],
    labels: Sequence[str | None] | None = None,
    *,
    top: int = 10,
    seed: int = 0,
    project: Projector | None = None,
) -> list[Gap]:
    """Find the ``top`` gaps in a set of embeddings, best first.

    Args:
        embeddings: ``(n, d)`` rows (L2-normalised here).
        xy: ``(n, 2)`` map positions of the rows.
        texts: the rows' texts, for the keyword descriptions.
        labels: one label per row (``None`` for unlabelled), or ``None``.
        top: how many gaps to return at most.
        seed: seeds the choice of pair partners; equal input and seed give equal gaps.
        project: places an ``(m, d)`` array of centres on the map (e.g. the workspace's fitted
            UMAP transform); without it a centre sits at the distance-weighted mean of its rim
            rows' positions.

    Returns:
        Up to ``top`` gaps; fewer when few regions pass the score and surround checks, none for
        fewer than ``MIN_ROWS`` rows.

    Raises:
        InputError: if the inputs disagree in length or shape, or ``top`` < 1.

    Example:
        >>> gaps = find_gaps(vectors, xy, texts, labels, top=5)  # doctest: +SKIP
        >>> [g.to_dict()["description"] for g in gaps]  # doctest: +SKIP
    """
    x = _check_inputs(embeddings, xy, texts, labels, top)
    if len(x) < MIN_ROWS:
        return []
    rows = row_stats(x)
    centres = candidate_centres(x, seed=seed, rows=rows)
    stats = measure_centres(x, centres, rows=rows)
    chosen = _select(centres, stats, top)
    if not chosen:
        return []
    gaps = _build(x, np.asarray(xy, dtype=np.float64), centres, stats, chosen, labels, project)
    _describe(gaps, texts)
    return gaps


def row_stats(x: NDArray[np.float32]) -> RowStats:
    """Each row's nearest neighbours and the radius of its hub (see ``Gap.score``).

    Args:
        x: ``(n, d)`` unit rows, ``n > RIM``.
    """
    k = min(NEIGHBOURS, len(x) - 1)
    near, dist = knn(x, x, k, exclude_self=True)
    own = np.concatenate([np.arange(len(x))[:, None], near], axis=1)
    hubs = unit_rows(x[own[:, :RIM]].mean(axis=1))
    # The row nearest a hub is, in practice, the row itself or one of its NEIGHBOURS nearest
    # rows; searching only those keeps this O(n * NEIGHBOURS) instead of another n x n search.
    hub_dist = np.empty(len(x), dtype=np.float32)
    for start in range(0, len(x), 1024):
        block = slice(start, start + 1024)
        hub_dist[block] = 1.0 - np.einsum("nd,nkd->nk", hubs[block], x[own[block]]).max(axis=1)
    return RowStats(neighbours=near, neighbour_dist=dist,
                    hub_radius=np.clip(hub_dist, 0.0, 2.0).astype(np.float32))


def candidate_centres(x: NDArray[np.float32], *, seed: int = 0,
                      rows: RowStats | None = None) -> NDArray[np.float32]:
    """Candidate gap centres: pair midpoints and neighbourhood means, re-centred once.

    Args:
        x: ``(n, d)`` unit rows.
        seed: seeds the choice of pair partners (and of seed rows on large sets).
        rows: ``row_stats(x)``, if already computed.

    Returns:
        ``(m, d)`` unit vectors, each the normalised mean of the ``RIM`` rows nearest a seed
        point; no two are the mean of the same rows.
    """
    rows = rows if rows is not None else row_stats(x)
    rng = np.random.default_rng(seed)
    n, k = rows.neighbours.shape
    starts = np.arange(n) if n <= MAX_SEEDS else np.sort(rng.choice(n, MAX_SEEDS, replace=False))
    first = np.repeat(starts, PAIRS)
    # Log-uniform ranks: near partners for fine gaps, farther ones for gaps wider than a rim.
    ranks = np.exp(rng.uniform(np.log(2), np.log(k), len(first))).astype(np.int64)
    partner = rows.neighbours[first, np.minimum(ranks, k - 1)]
    seeds = np.concatenate([
        unit_rows(x[first] + x[partner]),
        unit_rows(x[rows.neighbours[starts, :min(RIM, k)]].mean(axis=1)),
    ])
    rim, _ = knn(seeds, x, min(RIM, n))
    rim = np.sort(rim, axis=1)
    _, keep = np.unique(rim, axis=0, return_index=True)
    return unit_rows(x[rim[np.sort(keep)]].mean(axis=1))


def measure_centres(x: NDArray[np.float32], centres: NDArray[np.float32], *,
                    rows: RowStats | None = None) -> CentreStats:
    """Score, depth, surround and size of each centre relative to the rows ``x``.

    Args:
        x: ``(n, d)`` unit rows, ``n > RIM``.
        centres: ``(m, d)`` unit vectors (any points, e.g. a click on the map).
        rows: ``row_stats(x)``, if already computed.
    """
    rows = rows if rows is not None else row_stats(x)
    k = min(RIM, len(x) - 1)
    row_scale = rows.scale
    rim, rim_dist = knn(unit_rows(centres), x, k)
    emptiness = rim_dist.mean(axis=1)
    local = np.median(row_scale[rim], axis=1)
    fifth = rim_dist[:, min(4, k - 1)]
    hub_floor = max(float(np.median(rows.hub_radius)), 1e-6)
    hub_local = np.maximum(np.median(rows.hub_radius[rim], axis=1), hub_floor)
    return CentreStats(
        rim=rim,
        rim_dist=rim_dist,
        emptiness=emptiness,
        depth=(emptiness / np.maximum(local, 1e-6)).astype(np.float32),
        surrounded=fifth <= SURROUND * np.maximum(rim_dist[:, 0], 1e-6),
        size=(emptiness / max(float(np.median(row_scale)), 1e-6)).astype(np.float32),
        score=(rim_dist[:, 0] / hub_local).astype(np.float32),
    )


def _select(centres: NDArray[np.float32], stats: CentreStats, top: int) -> list[int]:
    value = stats.score
    valid = stats.surrounded & (stats.score >= MIN_SCORE)
    radius = stats.radius
    # Ties break by index so the ranking is deterministic.
    order = np.lexsort((np.arange(len(value)), -value))
    chosen: list[int] = []
    rims: list[set[int]] = []
    for i in order:
        if not valid[i]:
            continue
        rim_i = set(stats.rim[i].tolist())
        clash = False
        for j, rim_j in zip(chosen, rims, strict=True):
            near = 1.0 - float(centres[i] @ centres[j]) <= NMS_FRACTION * max(radius[i], radius[j])
            if near or len(rim_i & rim_j) / len(rim_i) > 0.5:
                clash = True
                break
        if not clash:
            chosen.append(int(i))
            rims.append(rim_i)
            if len(chosen) == top:
                break
    return chosen


def _build(x: NDArray[np.float32], xy: NDArray[np.float64], centres: NDArray[np.float32],
           stats: CentreStats, chosen: list[int], labels: Sequence[str | None] | None,
           project: Projector | None) -> list[Gap]:
    picked = centres[chosen]
    positions = map_positions(picked, xy, stats.rim[chosen], stats.rim_dist[chosen], project)
    gaps = []
    for slot, i in enumerate(chosen):
        rim = [int(r) for r in stats.rim[i]]
        digest = hashlib.sha1(",".join(map(str, sorted(rim))).encode()).hexdigest()[:10]
        gaps.append(Gap(
            id=f"gap-{digest}",
            score=float(stats.score[i]),
            size=float(stats.size[i]),
            center_embedding=picked[slot].astype(np.float32),
            x=float(positions[slot, 0]),
            y=float(positions[slot, 1]),
            radius=float(stats.radius[i]),
            rim_rows=rim,
            labels=label_counts(labels, rim),
        ))
    return gaps


def map_positions(centres: NDArray[np.float32], xy: NDArray[np.floating], rim: NDArray[np.int64],
                  rim_dist: NDArray[np.float32], project: Projector | None) -> NDArray[np.float64]:
    """Map positions of gap centres: ``project`` them, or else the rim rows' positions weighted
    by inverse distance to the centre."""
    if project is not None:
        positions = np.asarray(project(centres), dtype=np.float64)
        if positions.shape != (len(centres), 2):
            raise InputError(f"project returned shape {positions.shape}, expected ({len(centres)}, 2)")
        return positions
    weights = 1.0 / np.maximum(rim_dist, 1e-6)
    return (weights[:, :, None] * np.asarray(xy, dtype=np.float64)[rim]).sum(1) / weights.sum(1)[:, None]


def label_counts(labels: Sequence[str | None] | None, rows: Sequence[int]) -> dict[str, int]:
    """How often each label occurs on ``rows``, most frequent first (missing labels skipped)."""
    if labels is None:
        return {}
    # pandas hands missing labels over as NaN, not None.
    counts = Counter(str(labels[r]) for r in rows
                     if labels[r] is not None and not (isinstance(labels[r], float) and labels[r] != labels[r]))
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _describe(gaps: list[Gap], texts: Sequence[str]) -> None:
    from amplio.projection.keywords import ctfidf_keywords

    # A row may sit on several rims; each gap gets its own copy so groups stay independent.
    rim_texts = [str(texts[r]) for gap in gaps for r in gap.rim_rows]
    groups = [g for g, gap in enumerate(gaps) for _ in gap.rim_rows]
    words = ctfidf_keywords(rim_texts, groups, top=5)
    for g, gap in enumerate(gaps):
        gap.description = words.get(g, [])


def _check_inputs(embeddings: NDArray[np.floating], xy: NDArray[np.floating], texts: Sequence[str],
                  labels: Sequence[str | None] | None, top: int) -> NDArray[np.float32]:
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise InputError(f"embeddings must be a 2-D array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise InputError("embeddings contain NaN or infinite values")
    xy = np.asarray(xy)
    if xy.shape != (len(x), 2):
        raise InputError(f"xy must have shape ({len(x)}, 2), got {xy.shape}")
    if len(texts) != len(x):
        raise InputError(f"{len(x)} embeddings but {len(texts)} texts")
    if labels is not None and len(labels) != len(x):
        raise InputError(f"{len(x)} embeddings but {len(labels)} labels")
    if top < 1:
        raise InputError("top must be at least 1")
    if len(x) > MAX_ROWS:
        raise InputError(
            f"the gap finder handles at most {MAX_ROWS:,} rows (its exact neighbour search grows as "
            f"rows squared; {len(x):,} rows would take hours); compare with a reference set "
            "instead (--reference), which scales with rows x reference rows, or find gaps in a subset")
    return unit_rows(x)
