"""The 2-D map: a UMAP fitted once per workspace, then only used to place new points."""

from __future__ import annotations

import io
import pickle
import warnings

import numpy as np
from numpy.typing import NDArray

from amplio.progress import Progress, silent

FIT_SAMPLE = 25_000  # above this many rows, fit on a sample and place the rest with transform


class Projection:
    """A fitted UMAP (cosine metric) and the knowledge of how it was fitted.

    ``transform`` places new embeddings on the existing map without refitting, so points already
    shown never move.
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
        pickle.dump({"model": self.model, "fitted_rows": self.fitted_rows}, buffer,
                    protocol=pickle.HIGHEST_PROTOCOL)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Projection:
        # Only ever called on the artifact this workspace wrote itself (see Workspace.projection).
        state = pickle.loads(data)  # noqa: S301
        return cls(state["model"], int(state["fitted_rows"]))


def fit_projection(
    embeddings: NDArray[np.float32],
    *,
    seed: int = 0,
    n_neighbors: int = 15,
    progress: Progress = silent,
) -> tuple[Projection, NDArray[np.float32]]:
    """Fit UMAP on ``embeddings`` and return it with the ``(n, 2)`` positions of every row.

    Large sets are fitted on a random sample of ``FIT_SAMPLE`` rows and the rest placed with
    ``transform``: the layout is as good for a map and the fit stays within minutes on a laptop.
    """
    import umap

    n = len(embeddings)
    progress("project", 0, n)
    if n < 4:
        # UMAP needs a neighbourhood; a handful of rows get a trivial layout that transform extends.
        from sklearn.decomposition import PCA

        xy = PCA(n_components=2).fit_transform(embeddings) if n > 2 else np.zeros((n, 2))
        progress("project", n, n)
        return Projection(_TinyLayout(embeddings, np.asarray(xy, np.float32)), n), np.asarray(xy, np.float32)
    rng = np.random.default_rng(seed)
    fit_idx = np.sort(rng.choice(n, FIT_SAMPLE, replace=False)) if n > FIT_SAMPLE else np.arange(n)
    reducer = umap.UMAP(
        n_neighbors=min(n_neighbors, len(fit_idx) - 1),
        n_components=2,
        metric="cosine",
        random_state=seed,
        transform_seed=seed,
        low_memory=True,
        n_jobs=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = reducer.fit_transform(embeddings[fit_idx])
    xy = np.zeros((n, 2), dtype=np.float32)
    xy[fit_idx] = fitted
    progress("project", len(fit_idx), n)
    projection = Projection(reducer, len(fit_idx))
    rest = np.setdiff1d(np.arange(n), fit_idx)
    step = 10_000
    for start in range(0, len(rest), step):
        chunk = rest[start : start + step]
        xy[chunk] = projection.transform(embeddings[chunk])
        progress("project", len(fit_idx) + start + len(chunk), n)
    return projection, xy.astype(np.float32, copy=False)


class _TinyLayout:
    """Stand-in for UMAP on fewer than four rows: places a point at its nearest row."""

    def __init__(self, embeddings: NDArray[np.float32], xy: NDArray[np.float32]) -> None:
        self.embeddings = embeddings
        self.xy = xy

    def transform(self, embeddings: NDArray[np.float32]) -> NDArray[np.float32]:
        if len(self.embeddings) == 0:
            return np.zeros((len(embeddings), 2), dtype=np.float32)
        nearest = np.argmax(embeddings @ self.embeddings.T, axis=1)
        return self.xy[nearest]
