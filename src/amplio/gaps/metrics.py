"""Diversity measures for a set of embeddings and its 2-D map, and a before/after comparison."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from amplio.embedding.base import l2_normalise
from amplio.errors import InputError

if TYPE_CHECKING:
    from amplio.gaps.finder import Gap

Bounds = tuple[float, float, float, float]
_CHUNK = 2048  # rows per block in the exact nearest-neighbour search ...
_BLOCK_FLOATS = 64 * 1024 * 1024  # ... fewer when n is large: at most 256 MiB of similarities
NN_EXACT_MAX = 50_000  # above this many rows the mean nearest-neighbour distance is estimated ...
NN_SAMPLE = 5_000  # ... from this many rows, each searched against all rows


def vendi_score(embeddings: NDArray[np.floating]) -> float:
    """The Vendi score: the effective number of distinct items in the set.

    It is ``exp`` of the Shannon entropy of the eigenvalues of ``K / n``, where ``K`` is the
    cosine-similarity kernel (Friedman & Dieng, 2023). ``K / n = X X^T / n`` has the same nonzero
    eigenvalues as the ``d x d`` matrix ``X^T X / n``, so the cost is ``O(n d^2)``, not ``O(n^3)``.
    Identical rows score 1; ``k`` mutually orthogonal groups of equal size score ``k``.

    Args:
        embeddings: ``(n, d)`` rows; they are L2-normalised here so the kernel has a unit diagonal.

    Returns:
        A value in ``[1, min(n, d)]``.

    Raises:
        InputError: if there are no rows.

    Example:
        >>> round(vendi_score(np.eye(3, dtype=np.float32)), 6)
        3.0
    """
    x = _unit_rows(embeddings)
    if len(x) == 0:
        raise InputError("the Vendi score needs at least one row")
    if len(x) <= x.shape[1]:
        x64 = x.astype(np.float64)
        small = x64 @ x64.T
    else:  # summed over blocks in float64, so a million rows never need a float64 copy
        small = np.zeros((x.shape[1], x.shape[1]), dtype=np.float64)
        for start in range(0, len(x), 65_536):
            part = x[start:start + 65_536].astype(np.float64)
            small += part.T @ part
    eigenvalues = np.linalg.eigvalsh(small / len(x))
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    eigenvalues = eigenvalues / eigenvalues.sum()  # zero rows would make the trace < 1
    return float(np.exp(-np.sum(eigenvalues * np.log(eigenvalues))))


def nearest_neighbour_distances(embeddings: NDArray[np.floating],
                                queries: NDArray[np.integer] | None = None) -> NDArray[np.float32]:
    """Each row's cosine distance to its nearest other row (exact, computed in blocks).

    Args:
        embeddings: ``(n, d)`` rows.
        queries: indices of the rows to answer for (default: all); each is still searched
            against every row.

    Raises:
        InputError: if there are fewer than two rows.
    """
    x = _unit_rows(embeddings)
    n = len(x)
    if n < 2:
        raise InputError("nearest-neighbour distances need at least two rows")
    asked = np.arange(n) if queries is None else np.asarray(queries, dtype=np.int64)
    best = np.empty(len(asked), dtype=np.float32)
    block = max(16, min(_CHUNK, _BLOCK_FLOATS // n))
    for start in range(0, len(asked), block):
        own = asked[start:start + block]
        sims = x[own] @ x.T
        # A row is not its own neighbour (an exact duplicate elsewhere still counts, at distance 0).
        sims[np.arange(len(own)), own] = -np.inf
        best[start:start + block] = 1.0 - sims.max(axis=1)
    return np.clip(best, 0.0, 2.0)


def mean_nn_distance(embeddings: NDArray[np.floating], *, exact_max: int = NN_EXACT_MAX,
                     sample: int = NN_SAMPLE, seed: int = 0) -> float:
    """Mean cosine distance from each row to its nearest other row.

    Exact up to ``exact_max`` rows. Above, the search is ``n x n`` (hours at a million rows), so
    the mean is estimated over a seeded sample of ``sample`` rows, each searched exactly against
    all rows: an unbiased estimate whose standard error is the distances' spread over
    ``sqrt(sample)`` (about 0.001 at the default).

    Raises:
        InputError: if there are fewer than two rows.
    """
    n = len(embeddings)
    if n <= exact_max or n <= sample:
        return float(nearest_neighbour_distances(embeddings).mean())
    queries = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
    return float(nearest_neighbour_distances(embeddings, queries).mean())


def map_bounds(xy: NDArray[np.floating]) -> Bounds:
    """The bounding box ``(xmin, xmax, ymin, ymax)`` of map positions."""
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) == 0:
        raise InputError("map positions must be a non-empty (n, 2) array")
    return (float(xy[:, 0].min()), float(xy[:, 0].max()), float(xy[:, 1].min()), float(xy[:, 1].max()))


def occupied_area_share(
    xy: NDArray[np.floating], *, grid: int = 40, bounds: Bounds | None = None
) -> float:
    """Share of the cells of a ``grid x grid`` raster over the map that hold at least one point.

    Args:
        xy: ``(n, 2)`` map positions.
        grid: cells per side.
        bounds: the box to rasterise, ``(xmin, xmax, ymin, ymax)``; defaults to the points' own
            bounding box. Pass the same bounds before and after augmentation (or for each label)
            so the shares are comparable.

    Returns:
        A value in ``[0, 1]``; points outside ``bounds`` are ignored.
    """
    if grid < 1:
        raise InputError("grid must be at least 1")
    xy = np.asarray(xy, dtype=np.float64)
    if len(xy) == 0:
        return 0.0
    xmin, xmax, ymin, ymax = bounds if bounds is not None else map_bounds(xy)
    inside = (xy[:, 0] >= xmin) & (xy[:, 0] <= xmax) & (xy[:, 1] >= ymin) & (xy[:, 1] <= ymax)
    xy = xy[inside]
    # A degenerate (zero-width) side is one cell wide.
    cx = np.floor((xy[:, 0] - xmin) / max(xmax - xmin, 1e-12) * grid).clip(0, grid - 1)
    cy = np.floor((xy[:, 1] - ymin) / max(ymax - ymin, 1e-12) * grid).clip(0, grid - 1)
    cells = np.unique(cx.astype(np.int64) * grid + cy.astype(np.int64))
    return float(len(cells) / (grid * grid))


def diversity_report(
    embeddings: NDArray[np.floating],
    xy: NDArray[np.floating],
    labels: Sequence[str | None] | None = None,
    gaps: Sequence[Gap] = (),
    *,
    grid: int = 40,
    bounds: Bounds | None = None,
) -> dict[str, Any]:
    """Diversity of the whole set and of each label.

    Each section holds ``rows``, ``vendi``, ``mean_nn_distance`` (``None`` below two rows),
    ``occupied_area_share`` (against the whole map's bounds, so label shares add up to at most
    the whole) and ``gaps`` / ``gap_score_total``. A gap counts for the label most common on its
    rim.

    Args:
        embeddings: ``(n, d)`` rows.
        xy: ``(n, 2)`` map positions of the same rows.
        labels: one label per row, or ``None``; rows labelled ``None`` count only in ``all``.
        gaps: gaps found on this set (see ``find_gaps``).
        grid: raster size for the occupied-area share.
        bounds: map box for the area share; default is the bounding box of ``xy``. Keep it fixed
            when comparing before and after.

    Returns:
        ``{"all": {...}, "labels": {label: {...}}, "grid": grid, "bounds": [...]}``.
    """
    x = _unit_rows(embeddings)
    positions = np.asarray(xy, dtype=np.float64)
    if len(positions) != len(x):
        raise InputError(f"{len(x)} embeddings but {len(positions)} map positions")
    if labels is not None and len(labels) != len(x):
        raise InputError(f"{len(x)} embeddings but {len(labels)} labels")
    box = bounds if bounds is not None else map_bounds(positions)
    gap_labels = [_majority_label(gap.labels) for gap in gaps]
    report: dict[str, Any] = {
        "all": _section(x, positions, list(gaps), grid, box),
        "labels": {},
        "grid": grid,
        "bounds": list(box),
    }
    if labels is not None:
        names = sorted({str(label) for label in labels if label is not None})
        label_arr = np.array([None if label is None else str(label) for label in labels], dtype=object)
        for name in names:
            mask = label_arr == name
            own = [gap for gap, label in zip(gaps, gap_labels, strict=True) if label == name]
            report["labels"][name] = _section(x[mask], positions[mask], own, grid, box)
    return report


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Pair two ``diversity_report`` results value by value.

    Returns:
        The same shape as a report, each number replaced by
        ``{"before": b, "after": a, "change": a - b}`` (``change`` is ``None`` when either side is
        missing). Labels present on only one side appear with the other side ``None``.
    """
    result: dict[str, Any] = {"all": _compare_section(before.get("all", {}), after.get("all", {}))}
    labels_before = before.get("labels", {})
    labels_after = after.get("labels", {})
    result["labels"] = {
        name: _compare_section(labels_before.get(name, {}), labels_after.get(name, {}))
        for name in sorted(set(labels_before) | set(labels_after))
    }
    return result


def _section(x: NDArray[np.float32], xy: NDArray[np.float64], gaps: list[Gap], grid: int,
             box: Bounds) -> dict[str, Any]:
    return {
        "rows": int(len(x)),
        "vendi": vendi_score(x) if len(x) else None,
        "mean_nn_distance": mean_nn_distance(x) if len(x) >= 2 else None,
        "occupied_area_share": occupied_area_share(xy, grid=grid, bounds=box),
        "gaps": len(gaps),
        "gap_score_total": float(sum(gap.score for gap in gaps)),
    }


def _compare_section(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        change = a - b if isinstance(a, int | float) and isinstance(b, int | float) else None
        out[key] = {"before": b, "after": a, "change": change}
    return out


def _majority_label(counts: Mapping[str, int]) -> str | None:
    if not counts:
        return None
    # Ties break by name so the report is deterministic.
    return sorted(Counter(counts).items(), key=lambda item: (-item[1], item[0]))[0][0]


def _unit_rows(embeddings: NDArray[np.floating]) -> NDArray[np.float32]:
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise InputError(f"embeddings must be a 2-D array, got shape {x.shape}")
    # Encoder output is unit length already: no second copy of a million rows.
    if len(x) and np.allclose(np.einsum("ij,ij->i", x, x), 1.0, atol=1e-4):
        return x
    return l2_normalise(x)
