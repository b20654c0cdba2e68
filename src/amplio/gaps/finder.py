"""Find empty regions ("gaps") inside a set of embeddings and rank them.

How it works, and why:

1. **Candidates.** k-means is fitted at several resolutions (4 to 64 centroids). Every pair and
   triangle of mutually near centroids gives a candidate centre: the normalised mean of those
   centroids. Such centres lie between groups of rows, inside the data's convex hull, never in the
   empty space outside the whole cloud (they are built only from data, by averaging).
2. **High-dimensional check.** For each candidate ``c`` the ``k`` nearest rows are its *rim*.
   ``emptiness`` is the mean cosine distance from ``c`` to its rim; ``depth`` divides it by the
   median of the rim rows' own mean distance to their ``k`` nearest rows. ``depth > 1`` means the
   centre is farther from data than the rim rows are from each other: the region is sparser than
   its surroundings in the embedding space itself, not only on the 2-D map.
3. **Surrounded.** A centre must have its nearest rows at similar distances (the 5th nearest no
   farther than ``SURROUND`` times the nearest); a centre that only hugs one stray row, or sits
   beyond the edge of a lone outlier, fails.
4. **Ranking.** ``score = depth``; ``size = emptiness / (median row neighbour distance)``, the
   width of the empty region in units of the data's typical neighbour spacing. Gaps rank by
   ``score * size``, then non-maximum suppression drops a candidate whose centre is within half
   the radius of a better gap, or whose rim mostly repeats one.

Limits (measured in ``benchmarks/gaps.py``): in a 384-d sentence-embedding space the normalised
mean of many rows is far from every row (concentration of measure), so "between groups" centres
always look somewhat empty; the depth test and the ranking keep the ones that are emptiest
relative to their surroundings.
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

RESOLUTIONS = (4, 8, 16, 32, 64)  # k-means sizes whose centroid pairs/triangles seed candidates
RIM = 10  # rows on a gap's rim, and the neighbourhood size for local density
SURROUND = 1.5  # 5th-nearest rim row at most this many times farther than the nearest
MIN_DEPTH = 1.0  # a gap's centre must be sparser than its rim rows' neighbourhoods
NMS_FRACTION = 0.5  # suppress a candidate within this fraction of a better gap's radius
MIN_ROWS = 12

Projector = Callable[[NDArray[np.float32]], NDArray[np.floating]]


@dataclass
class Gap:
    """One empty region.

    Attributes:
        id: stable identifier (a hash of the rim rows), equal for equal input and seed.
        score: depth, ``emptiness / rim rows' typical neighbour distance``; above 1 is sparser
            than the surroundings.
        size: width of the empty region in units of the data's median neighbour distance.
        center_embedding: unit vector at the gap's centre.
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

    @property
    def radius(self) -> NDArray[np.float32]:
        """Distance from each centre to its nearest row."""
        return self.rim_dist[:, 0]


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
        seed: seeds the k-means fits; equal input and seed give equal gaps.
        project: places an ``(m, d)`` array of centres on the map (e.g. the workspace's fitted
            UMAP transform); without it a centre sits at the distance-weighted mean of its rim
            rows' positions.

    Returns:
        Up to ``top`` gaps; fewer when few regions pass the depth and surround checks, none for
        fewer than ``MIN_ROWS`` rows.

    Raises:
        InputError: if the inputs disagree in length or shape, or ``top`` < 1.

    Example:
        >>> gaps = find_gaps(vectors, xy, texts, labels, top=5)  # doctest: +SKIP
        >>> [g.to_dict()["description"] for g in gaps]  # doctest: +SKIP
    """
    x = _check_inputs(embeddings, xy, texts, labels, top)
    n = len(x)
    if n < MIN_ROWS:
        return []
    centres = candidate_centres(x, seed=seed)
    stats = measure_centres(x, centres)
    chosen = _select(centres, stats, top)
    if not chosen:
        return []
    gaps = _build(x, np.asarray(xy, dtype=np.float64), centres, stats, chosen, labels, project)
    _describe(gaps, texts)
    return gaps


def candidate_centres(x: NDArray[np.float32], *, seed: int = 0) -> NDArray[np.float32]:
    """Candidate gap centres: normalised means of pairs and triangles of near k-means centroids.

    Args:
        x: ``(n, d)`` unit rows.
        seed: seeds each k-means fit.

    Returns:
        ``(m, d)`` unit vectors, duplicates removed.
    """
    from sklearn.cluster import KMeans

    out: list[NDArray[np.float32]] = []
    for size in RESOLUTIONS:
        clusters = min(size, len(x) // 5)
        if clusters < 3:
            continue
        fit = KMeans(n_clusters=clusters, n_init=1, random_state=seed).fit(x)
        cent = unit_rows(fit.cluster_centers_)
        near, _ = knn(cent, cent, min(4, clusters - 1), exclude_self=True)
        neighbours = [set(row.tolist()) for row in near]
        groups: set[tuple[int, ...]] = set()
        for a in range(clusters):
            for b in neighbours[a]:
                groups.add(tuple(sorted((a, b))))
                # A triangle of mutually near centroids encloses the space between three groups.
                groups.update(tuple(sorted((a, b, c))) for c in neighbours[b] if a in neighbours[c])
        for group in sorted(groups):
            out.append(unit_rows(cent[list(group)].sum(axis=0)))
    if not out:
        return np.zeros((0, x.shape[1]), dtype=np.float32)
    stacked = np.stack(out).astype(np.float32)
    return np.unique(np.round(stacked, 6), axis=0).astype(np.float32)


def measure_centres(x: NDArray[np.float32], centres: NDArray[np.float32]) -> CentreStats:
    """Emptiness, depth, surround and size of each centre relative to the rows ``x``.

    Args:
        x: ``(n, d)`` unit rows, ``n > RIM``.
        centres: ``(m, d)`` unit vectors.
    """
    k = min(RIM, len(x) - 1)
    _, row_dist = knn(x, x, k, exclude_self=True)
    row_scale = row_dist.mean(axis=1)
    rim, rim_dist = knn(unit_rows(centres), x, k)
    emptiness = rim_dist.mean(axis=1)
    local = np.median(row_scale[rim], axis=1)
    fifth = rim_dist[:, min(4, k - 1)]
    return CentreStats(
        rim=rim,
        rim_dist=rim_dist,
        emptiness=emptiness,
        depth=(emptiness / np.maximum(local, 1e-6)).astype(np.float32),
        surrounded=fifth <= SURROUND * np.maximum(rim_dist[:, 0], 1e-6),
        size=(emptiness / max(float(np.median(row_scale)), 1e-6)).astype(np.float32),
    )


def _select(centres: NDArray[np.float32], stats: CentreStats, top: int) -> list[int]:
    value = stats.depth * stats.size
    valid = stats.surrounded & (stats.depth >= MIN_DEPTH)
    radius = np.median(stats.rim_dist, axis=1)
    # Ties break by index so the ranking is deterministic.
    order = np.lexsort((np.arange(len(value)), -value))
    chosen: list[int] = []
    for i in order:
        if not valid[i]:
            continue
        rim_i = set(stats.rim[i].tolist())
        clash = False
        for j in chosen:
            near = 1.0 - float(centres[i] @ centres[j]) <= NMS_FRACTION * max(radius[i], radius[j])
            shared = len(rim_i & set(stats.rim[j].tolist())) / len(rim_i)
            if near or shared > 0.5:
                clash = True
                break
        if not clash:
            chosen.append(int(i))
            if len(chosen) == top:
                break
    return chosen


def _build(x: NDArray[np.float32], xy: NDArray[np.float64], centres: NDArray[np.float32],
           stats: CentreStats, chosen: list[int], labels: Sequence[str | None] | None,
           project: Projector | None) -> list[Gap]:
    picked = centres[chosen]
    if project is not None:
        positions = np.asarray(project(picked), dtype=np.float64)
        if positions.shape != (len(chosen), 2):
            raise InputError(f"project returned shape {positions.shape}, expected ({len(chosen)}, 2)")
    else:
        weights = 1.0 / np.maximum(stats.rim_dist[chosen], 1e-6)
        positions = (weights[:, :, None] * xy[stats.rim[chosen]]).sum(1) / weights.sum(1)[:, None]
    gaps = []
    for slot, i in enumerate(chosen):
        rim = [int(r) for r in stats.rim[i]]
        counts = Counter(str(labels[r]) for r in rim if labels is not None and _has_label(labels[r]))
        digest = hashlib.sha1(",".join(map(str, sorted(rim))).encode()).hexdigest()[:10]
        gaps.append(Gap(
            id=f"gap-{digest}",
            score=float(stats.depth[i]),
            size=float(stats.size[i]),
            center_embedding=picked[slot].astype(np.float32),
            x=float(positions[slot, 0]),
            y=float(positions[slot, 1]),
            radius=float(stats.radius[i]),
            rim_rows=rim,
            labels=dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        ))
    return gaps


def _has_label(value: object) -> bool:
    # pandas hands missing labels over as NaN, not None.
    return value is not None and not (isinstance(value, float) and np.isnan(value))


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
    return unit_rows(x)
