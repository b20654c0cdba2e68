"""Reference gaps: regions that a reference set of prompts covers and the dataset does not.

A removed topic leaves no trace in the embeddings of the rows that remain (``docs/gaps.md``), so
the dataset alone cannot say what it lacks. A *reference* can: other red-teaming sets embedded
with the same encoder. A reference gap is a group of reference rows that are dense among the
reference but far from the dataset.

How it works:

1. **Density ratio per reference row.** For each reference row ``r``,
   ``ratio(r) = log(d_k(r, dataset) / d_k(r, reference without r))`` with ``k = K``: the distance
   to its ``k``-th nearest dataset row over the distance to its ``k``-th nearest other reference
   row. Both distances are taken at the same point, so they compare like with like in 384-d
   (absolute distances do not). The reference distance is floored at its median over the
   reference (``FLOOR``): without the floor, families of near-duplicate reference rows (AdvBench
   has twenty rewordings of "commit insider trading") have a reference distance near 0 and take
   every top place; with it they count as ordinary filled territory. The ratios are centred on
   their median over the reference (``excess``), which absorbs the different sizes of the two
   sets: a reference row whose surroundings the dataset covers as well as it covers a typical
   reference row scores 0.
2. **Regions.** Each reference row's excess is smoothed over itself and its ``SMOOTH - 1``
   nearest reference rows. Seeds are taken greedily, highest smoothed excess first; a region is
   the seed's nearest reference rows (itself included; ``group_size``: 2 % of the reference,
   between 5 and ``GROUP`` rows) whose own excess is positive and which no better region has
   taken. A region needs ``MIN_GROUP`` rows.
3. **Score.** ``mean excess of the region's rows x sqrt(region rows)``: how much farther the
   dataset is than the reference, in log units, weighted by how much reference territory the
   region holds (a single stray reference row does not make a gap).
4. **Gap.** Centre = the normalised mean of the region's reference rows; ``rim_rows`` = the
   ``RIM`` dataset rows nearest the centre (where to start filling); ``radius`` = the cosine
   distance from the centre to the nearest dataset row; ``size`` = the region's reference rows;
   ``description`` = c-TF-IDF keywords of the region's *reference* texts against the rest of the
   reference (what is missing); ``examples`` = up to ``EXAMPLES`` reference texts nearest the
   centre; ``reference_rows`` = the region's reference row indices, nearest the centre first.

Measured in ``benchmarks/gaps.py --reference`` (see ``docs/gaps.md``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amplio.errors import InputError
from amplio.gaps.finder import Gap, Projector, label_counts, map_positions
from amplio.gaps.neighbours import knn, unit_rows

K = 7  # neighbour rank of the density-ratio distances
SMOOTH = 5  # the seed order uses the excess averaged over a row and its SMOOTH - 1 neighbours
GROUP = 20  # a region is drawn from at most its seed's GROUP nearest reference rows ...
GROUP_SHARE = 0.02  # ... and from about this share of the reference (see group_size)
MIN_GROUP = 3  # fewest reference rows in a region
RIM = 10  # dataset rows reported around a gap's centre
EXAMPLES = 5  # reference texts kept per gap
MAX_REFERENCE = 50_000  # larger references are a seeded sample of this many rows
FLOOR = 0.5  # the reference distance is floored at this quantile of its values (see step 1)
CONTEXT = 0  # 0: centre the ratios on the reference-wide median; L > 0: on the median of each
# row's L nearest reference rows (a local contrast; measured no better, see docs/gaps.md)


@dataclass
class ReferenceGap(Gap):
    """A region the reference covers and the dataset does not (see the module docstring).

    Besides ``Gap``'s fields: ``examples`` (reference texts nearest the centre) and
    ``reference_rows`` (the region's reference row indices, nearest the centre first).
    ``size`` counts the region's reference rows.
    """

    examples: list[str] = field(default_factory=list)
    reference_rows: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``Gap.to_dict()`` plus ``examples`` and ``reference_rows``."""
        data = super().to_dict()
        data["examples"] = list(self.examples)
        data["reference_rows"] = [int(r) for r in self.reference_rows]
        return data


@dataclass
class ReferenceStats:
    """Per reference row: the two neighbour distances, the log ratio and its centred excess."""

    data_dist: NDArray[np.float32]  # distance to the k-th nearest dataset row
    reference_dist: NDArray[np.float32]  # distance to the k-th nearest other reference row
    ratio: NDArray[np.float32]  # log(data_dist / reference_dist)
    excess: NDArray[np.float32]  # ratio - median ratio
    neighbours: NDArray[np.int64]  # (m, GROUP) nearest other reference rows


def reference_stats(x: NDArray[np.float32], ref: NDArray[np.float32], *, k: int = K,
                    context: int = CONTEXT) -> ReferenceStats:
    """The density-ratio statistic of each reference row (unit rows in, see step 1)."""
    kd = min(k, len(x))
    kr = min(k, len(ref) - 1)
    _, data_dist = knn(ref, x, kd)
    near, ref_dist = knn(ref, ref, min(max(GROUP, kr, context), len(ref) - 1), exclude_self=True)
    dd = np.maximum(data_dist[:, kd - 1], 1e-6)
    rd = np.maximum(ref_dist[:, kr - 1], 1e-6)
    if FLOOR > 0:
        rd = np.maximum(rd, np.quantile(rd, FLOOR))
    ratio = np.log(dd / rd).astype(np.float32)
    centre: NDArray[np.float32] | float = (np.median(ratio[near[:, :context]], axis=1) if context > 0
                                           else float(np.median(ratio)))
    return ReferenceStats(data_dist=dd.astype(np.float32), reference_dist=rd.astype(np.float32),
                          ratio=ratio, excess=(ratio - centre).astype(np.float32),
                          neighbours=near[:, :max(GROUP, SMOOTH)])


def group_size(rows: int) -> int:
    """How many nearest reference rows a region is drawn from, for a reference of ``rows``.

    A fixed 20 is 8 % of a 260-row reference: regions then reach past a small missing topic and
    their centres drift off it. Two per cent, between 5 and ``GROUP``, keeps a region a similar
    share of any reference (measured in ``docs/gaps.md``: on a 262-row held-out reference,
    planted-hole recall 0.50 -> 0.67 and clusters 0.87 -> 1.00; on 972 rows 19 vs 20, the same).
    """
    return int(np.clip(round(rows * GROUP_SHARE), MIN_GROUP + 2, GROUP))


def find_reference_gaps(
    embeddings: NDArray[np.floating],
    xy: NDArray[np.floating],
    texts: Sequence[str],
    labels: Sequence[str | None] | None,
    reference: NDArray[np.floating],
    reference_texts: Sequence[str],
    *,
    top: int = 10,
    seed: int = 0,
    project: Projector | None = None,
    k: int = K,
) -> list[ReferenceGap]:
    """The ``top`` regions dense in ``reference`` but sparse in ``embeddings``, best first.

    Args:
        embeddings: ``(n, d)`` dataset rows (L2-normalised here).
        xy: ``(n, 2)`` map positions of the dataset rows.
        texts: the dataset rows' texts (for the rim; the description comes from the reference).
        labels: one label per dataset row (``None`` for unlabelled), or ``None``.
        reference: ``(m, d)`` reference rows, embedded with the same encoder.
        reference_texts: the reference rows' texts.
        top: how many gaps to return at most.
        seed: seeds the sample of a reference larger than ``MAX_REFERENCE`` rows; otherwise the
            result does not depend on it (ties break by row index).
        project: places an ``(m, d)`` array of centres on the map; without it a centre sits at
            the distance-weighted mean of its rim rows' positions.
        k: neighbour rank of the density ratio.

    Returns:
        Up to ``top`` gaps with a positive score; ``[]`` when the dataset covers the reference.

    Raises:
        InputError: empty dataset or reference, mismatched dimensions or lengths, ``top`` < 1.
    """
    x, ref = _check(embeddings, xy, texts, labels, reference, reference_texts, top, k)
    ref_index = np.arange(len(ref))
    if len(ref) > MAX_REFERENCE:
        ref_index = np.sort(np.random.default_rng(seed).choice(len(ref), MAX_REFERENCE, replace=False))
        ref = ref[ref_index]
    stats = reference_stats(x, ref, k=k, context=CONTEXT)
    regions = _regions(stats, top)
    if not regions:
        return []
    centres = unit_rows(np.stack([ref[members].mean(axis=0) for members, _ in regions]))
    rim, rim_dist = knn(centres, x, min(RIM, len(x)))
    positions = map_positions(centres, xy, rim, rim_dist, project)
    gaps = []
    for g, (members, score) in enumerate(regions):
        order = members[np.lexsort((members, -(ref[members] @ centres[g])))]
        rows = [int(r) for r in rim[g]]
        original = [int(ref_index[i]) for i in order]
        digest = hashlib.sha1(",".join(map(str, sorted(original))).encode()).hexdigest()[:10]
        gaps.append(ReferenceGap(
            id=f"refgap-{digest}",
            score=float(score),
            size=float(len(members)),
            center_embedding=centres[g].astype(np.float32),
            x=float(positions[g, 0]),
            y=float(positions[g, 1]),
            radius=float(rim_dist[g, 0]),
            rim_rows=rows,
            labels=label_counts(labels, rows),
            examples=[str(reference_texts[i]) for i in original[:EXAMPLES]],
            reference_rows=original,
        ))
    _describe(gaps, [str(reference_texts[int(i)]) for i in ref_index])
    return gaps


def _regions(stats: ReferenceStats, top: int) -> list[tuple[NDArray[np.int64], float]]:
    """Greedy regions (step 2): ``(member rows, score)``, best score first."""
    excess = stats.excess
    near = stats.neighbours
    smooth_k = min(SMOOTH - 1, near.shape[1])
    smoothed = (excess + excess[near[:, :smooth_k]].sum(axis=1)) / (1 + smooth_k)
    group = group_size(len(excess))
    taken = np.zeros(len(excess), dtype=bool)
    found: list[tuple[NDArray[np.int64], float]] = []
    for seed_row in np.lexsort((np.arange(len(excess)), -smoothed)):
        if smoothed[seed_row] <= 0:
            break
        if taken[seed_row] or excess[seed_row] <= 0:
            continue
        pool = np.concatenate([[seed_row], near[seed_row, :group - 1]])
        members = pool[(excess[pool] > 0) & ~taken[pool]]
        if len(members) < MIN_GROUP:
            continue
        taken[members] = True
        found.append((members.astype(np.int64), float(excess[members].mean() * np.sqrt(len(members)))))
    found.sort(key=lambda item: (-item[1], int(item[0][0])))
    return found[:top]


def _describe(gaps: list[ReferenceGap], reference_texts: list[str]) -> None:
    from amplio.projection.keywords import ctfidf_keywords

    # Each region is one group; the rest of the reference is one more group (the background),
    # so a gap's words are what sets its reference rows apart from the reference as a whole.
    group = np.full(len(reference_texts), len(gaps), dtype=np.int64)
    texts = list(reference_texts)
    groups = group.tolist()
    for g, gap in enumerate(gaps):
        for r in gap.reference_rows:
            texts.append(reference_texts[r])
            groups.append(g)
    # Rows of a region also sit in the background copy; that only lowers shared words' weight.
    words = ctfidf_keywords(texts, groups, top=5)
    for g, gap in enumerate(gaps):
        gap.description = words.get(g, [])


def _check(embeddings: NDArray[np.floating], xy: NDArray[np.floating], texts: Sequence[str],
           labels: Sequence[str | None] | None, reference: NDArray[np.floating],
           reference_texts: Sequence[str], top: int, k: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    x = np.asarray(embeddings, dtype=np.float32)
    ref = np.asarray(reference, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise InputError(f"embeddings must be a non-empty 2-D array, got shape {x.shape}")
    if ref.ndim != 2 or len(ref) == 0:
        raise InputError("the reference is empty: give a reference set with at least two rows")
    if len(ref) < 2:
        raise InputError("the reference needs at least two rows")
    if ref.shape[1] != x.shape[1]:
        raise InputError(f"the reference has {ref.shape[1]}-d embeddings but the dataset has "
                         f"{x.shape[1]}-d ones; embed both with the same encoder")
    if not (np.isfinite(x).all() and np.isfinite(ref).all()):
        raise InputError("embeddings contain NaN or infinite values")
    if np.asarray(xy).shape != (len(x), 2):
        raise InputError(f"xy must have shape ({len(x)}, 2), got {np.asarray(xy).shape}")
    if len(texts) != len(x):
        raise InputError(f"{len(x)} embeddings but {len(texts)} texts")
    if labels is not None and len(labels) != len(x):
        raise InputError(f"{len(x)} embeddings but {len(labels)} labels")
    if len(reference_texts) != len(ref):
        raise InputError(f"{len(ref)} reference embeddings but {len(reference_texts)} reference texts")
    if top < 1:
        raise InputError("top must be at least 1")
    if k < 1:
        raise InputError("k must be at least 1")
    return unit_rows(x), unit_rows(ref)
