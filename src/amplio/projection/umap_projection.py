"""The 2-D map: a UMAP fitted once per workspace, then only used to place new points.

Large sets are fitted on a sample (``sample_above`` / ``sample_size``) and every other point is
placed by ``NeighbourLayout``: the membership-weighted mean of the map positions of its
``PLACE_NEIGHBOURS`` nearest fitted rows (cosine), which is the starting point UMAP's own
``transform`` then optimises. It is plain numpy, with no numba JIT, so the first placement in a
fresh process takes milliseconds instead of the ~9 s UMAP's transform spent compiling, and 1M rows
are placed in minutes (measured in ``benchmarks/first_add.py`` and ``benchmarks/scale.py``, see
``docs/scale.md``).
"""

from __future__ import annotations

import io
import pickle
import warnings
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from amplio.progress import Progress, silent

SAMPLE_ABOVE = 25_000  # above this many rows, UMAP is fitted on a sample ...
SAMPLE_SIZE = 25_000  # ... of this many rows, and the rest are placed by their neighbours
FIT_SAMPLE = SAMPLE_SIZE  # former name, kept for callers
PLACE_NEIGHBOURS = 15  # fitted rows whose positions a placed point is averaged from
_PLACE_BLOCK = 1024  # queries per block: a block x fitted-rows similarity matrix at a time
_FORMAT = "amplio-neighbour-layout-1"

Placement = Literal["neighbours", "transform"]


class NeighbourLayout:
    """Places points at the weighted mean position of their nearest fitted rows (no JIT).

    The weights are UMAP's fuzzy memberships, ``exp(-(d - d_nearest) / sigma)`` with ``sigma``
    chosen so they sum to ``log2(k)`` (``smooth_knn_dist``), so the result is the position UMAP's
    ``transform`` starts its optimisation from.
    """

    def __init__(self, vectors: NDArray[np.floating], xy: NDArray[np.floating],
                 k: int = PLACE_NEIGHBOURS) -> None:
        self.vectors = _unit(vectors)
        self.xy = np.asarray(xy, dtype=np.float32)
        self.k = max(1, min(int(k), len(self.vectors)))

    def transform(self, embeddings: NDArray[np.floating]) -> NDArray[np.float32]:
        m = len(embeddings)
        out = np.zeros((m, 2), dtype=np.float32)
        if m == 0 or len(self.vectors) == 0:
            return out
        queries = _unit(embeddings)
        k = self.k
        for start in range(0, m, _PLACE_BLOCK):
            sims = queries[start:start + _PLACE_BLOCK] @ self.vectors.T
            if k < sims.shape[1]:
                near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            else:
                near = np.broadcast_to(np.arange(sims.shape[1]), sims.shape).copy()
            dist = np.clip(1.0 - np.take_along_axis(sims, near, axis=1), 0.0, 2.0).astype(np.float64)
            weights = _memberships(dist)
            out[start:start + len(near)] = (
                np.einsum("mk,mkc->mc", weights, self.xy[near].astype(np.float64))
                / weights.sum(axis=1, keepdims=True)
            ).astype(np.float32)
        return out


class Projection:
    """A fitted map and the knowledge of how it was fitted.

    ``transform`` places new embeddings on the existing map without refitting, so points already
    shown never move. ``model`` is a ``NeighbourLayout`` for maps fitted by this version; older
    workspaces stored the UMAP object itself, which ``from_bytes`` turns into one.
    """

    def __init__(self, model: object, fitted_rows: int) -> None:
        self.model = model
        self.fitted_rows = fitted_rows

    def transform(self, embeddings: NDArray[np.float32]) -> NDArray[np.float32]:
        """Map positions, ``(n, 2)`` float32, for ``(n, dim)`` embeddings."""
        if len(embeddings) == 0:
            return np.zeros((0, 2), dtype=np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            xy = self.model.transform(np.asarray(embeddings, dtype=np.float32))  # type: ignore[attr-defined]
        return np.asarray(xy, dtype=np.float32)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        if isinstance(self.model, NeighbourLayout):
            # Plain arrays, no pickle: reading it back imports neither umap nor numba.
            np.savez(buffer, format=np.array(_FORMAT), vectors=self.model.vectors,
                     xy=self.model.xy, k=np.array(self.model.k),
                     fitted_rows=np.array(self.fitted_rows))
        else:
            pickle.dump({"model": self.model, "fitted_rows": self.fitted_rows}, buffer,
                        protocol=pickle.HIGHEST_PROTOCOL)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Projection:
        if data[:2] == b"PK":  # an .npz archive: this version's NeighbourLayout
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                layout = NeighbourLayout(arrays["vectors"], arrays["xy"], int(arrays["k"]))
                return cls(layout, int(arrays["fitted_rows"]))
        # Only ever called on the artifact this workspace wrote itself (see Workspace.projection).
        state = pickle.loads(data)  # noqa: S301
        model = state["model"]
        raw, positions = getattr(model, "_raw_data", None), getattr(model, "embedding_", None)
        if raw is not None and positions is not None and not hasattr(raw, "tocsr"):
            # A UMAP pickled by an earlier version: place by its fitted rows, without its JIT.
            model = NeighbourLayout(np.asarray(raw), np.asarray(positions),
                                    min(PLACE_NEIGHBOURS, int(getattr(model, "n_neighbors", 15))))
        elif isinstance(model, _TinyLayout):
            model = NeighbourLayout(model.embeddings, model.xy, 1)
        return cls(model, int(state["fitted_rows"]))


def fit_projection(
    embeddings: NDArray[np.float32],
    *,
    seed: int = 0,
    n_neighbors: int = 15,
    sample_above: int | None = None,
    sample_size: int | None = None,
    placement: Placement = "neighbours",
    progress: Progress = silent,
) -> tuple[Projection, NDArray[np.float32]]:
    """Fit UMAP on ``embeddings`` and return it with the ``(n, 2)`` positions of every row.

    Above ``sample_above`` rows (default ``SAMPLE_ABOVE``) UMAP is fitted on a seeded random
    sample of ``sample_size`` rows (default ``SAMPLE_SIZE``) and the rest are placed: by
    ``NeighbourLayout`` (``placement="neighbours"``, the default), or by UMAP's ``transform``
    (``"transform"``, slower: kept for the comparison in ``benchmarks/scale.py``). New rows added
    later are always placed by ``NeighbourLayout``.
    """
    n = len(embeddings)
    above = SAMPLE_ABOVE if sample_above is None else int(sample_above)
    size = SAMPLE_SIZE if sample_size is None else int(sample_size)
    if size < 4 or above < 4:
        raise ValueError("sample_above and sample_size must be at least 4")
    progress("project", 0, n)
    if n < 4:
        # UMAP needs a neighbourhood; a handful of rows get a trivial layout, each new point
        # placed at its nearest row.
        xy = _tiny_layout(embeddings)
        progress("project", n, n)
        return Projection(NeighbourLayout(embeddings, xy, 1), n), xy
    rng = np.random.default_rng(seed)
    sampled = n > above and n > size
    fit_idx = np.sort(rng.choice(n, size, replace=False)) if sampled else np.arange(n)
    reducer, fitted = _fit_umap(np.asarray(embeddings[fit_idx], dtype=np.float32), seed, n_neighbors)
    xy = np.zeros((n, 2), dtype=np.float32)
    xy[fit_idx] = fitted
    progress("project", len(fit_idx), n)
    layout = NeighbourLayout(embeddings[fit_idx], fitted, min(PLACE_NEIGHBOURS, len(fit_idx) - 1))
    projection = Projection(layout, len(fit_idx))
    rest = np.setdiff1d(np.arange(n), fit_idx) if sampled else np.zeros(0, dtype=np.int64)
    step = 20_000
    for start in range(0, len(rest), step):
        chunk = rest[start : start + step]
        if placement == "transform":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                xy[chunk] = reducer.transform(  # type: ignore[attr-defined]
                    np.asarray(embeddings[chunk], dtype=np.float32))
        else:
            xy[chunk] = _place_bulk(reducer, layout, embeddings[chunk])
        progress("project", len(fit_idx) + start + len(chunk), n)
    return projection, xy.astype(np.float32, copy=False)


def _place_bulk(reducer: object, layout: NeighbourLayout, embeddings: NDArray[np.floating]) -> NDArray[np.float32]:
    """``layout.transform``, with the neighbours found by the fitted UMAP's NN-descent index.

    An exact search of many points against the sample is a ``(points x sample)`` matrix product
    (hours for 1M x 25k on 2 cores); the approximate index UMAP built while fitting answers in
    ``O(log sample)`` each. Small samples have no index (UMAP searched them exactly): exact then.
    """
    index = getattr(reducer, "_knn_search_index", None)
    if index is None:
        return layout.transform(embeddings)
    near, dist = index.query(np.asarray(embeddings, dtype=np.float32), k=layout.k)
    weights = _memberships(np.asarray(dist, dtype=np.float64))
    return (np.einsum("mk,mkc->mc", weights, layout.xy[near].astype(np.float64))
            / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _fit_umap(vectors: NDArray[np.float32], seed: int, n_neighbors: int) -> tuple[object, NDArray[np.float32]]:
    import umap

    reducer = umap.UMAP(
        n_neighbors=min(n_neighbors, len(vectors) - 1),
        n_components=2,
        metric="cosine",
        random_state=seed,
        transform_seed=seed,
        low_memory=True,
        n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = reducer.fit_transform(vectors)
    return reducer, np.asarray(fitted, dtype=np.float32)


def _tiny_layout(embeddings: NDArray[np.floating]) -> NDArray[np.float32]:
    n = len(embeddings)
    if n <= 2:
        return np.zeros((n, 2), dtype=np.float32)
    from sklearn.decomposition import PCA

    return np.asarray(PCA(n_components=2).fit_transform(embeddings), dtype=np.float32)


def _unit(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim != 2:
        v = v.reshape(len(v), -1)
    return np.ascontiguousarray(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12),
                                dtype=np.float32)


def _memberships(dist: NDArray[np.float64], iterations: int = 48) -> NDArray[np.float64]:
    """UMAP's ``smooth_knn_dist`` weights for ``(m, k)`` sorted-or-not neighbour distances."""
    k = dist.shape[1]
    rho = dist.min(axis=1, keepdims=True)
    excess = dist - rho
    if k == 1:
        return np.ones_like(dist)
    target = np.log2(k)
    lo = np.zeros((len(dist), 1))
    hi = np.full((len(dist), 1), np.inf)
    sigma = np.ones((len(dist), 1))
    for _ in range(iterations):  # bisection on sigma, all rows at once
        total = np.exp(-excess / sigma).sum(axis=1, keepdims=True)
        too_big = total > target
        hi = np.where(too_big, sigma, hi)
        lo = np.where(too_big, lo, sigma)
        sigma = np.where(np.isinf(hi), sigma * 2.0, (lo + hi) / 2.0)
    mean_excess = excess.mean(axis=1, keepdims=True)
    sigma = np.maximum(sigma, 1e-3 * np.maximum(mean_excess, 1e-12))
    return np.exp(-excess / sigma)


class _TinyLayout:
    """Stand-in for UMAP on fewer than four rows in workspaces from earlier versions (unpickled)."""

    def __init__(self, embeddings: NDArray[np.float32], xy: NDArray[np.float32]) -> None:
        self.embeddings = embeddings
        self.xy = xy

    def transform(self, embeddings: NDArray[np.float32]) -> NDArray[np.float32]:
        if len(self.embeddings) == 0:
            return np.zeros((len(embeddings), 2), dtype=np.float32)
        nearest = np.argmax(embeddings @ self.embeddings.T, axis=1)
        return self.xy[nearest]
