"""Targets between two embeddings, and map points turned back into embeddings."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from amplio.embedding.base import l2_normalise
from amplio.errors import InputError


def interpolation_targets(
    a: NDArray[np.float32], b: NDArray[np.float32], n: int
) -> tuple[list[float], NDArray[np.float32]]:
    """``n`` unit vectors evenly between ``a`` and ``b``: αₖ = k/(n+1), normalize((1-α)a + αb)."""
    if n < 1:
        raise InputError("n must be at least 1")
    alphas = [k / (n + 1) for k in range(1, n + 1)]
    mixed = np.stack([(1 - alpha) * a + alpha * b for alpha in alphas])
    return alphas, l2_normalise(mixed)


def embedding_at_point(
    xy: NDArray[np.float32], embeddings: NDArray[np.float32], point: tuple[float, float], *, k: int = 8
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """An embedding for a map point: the distance-weighted mean of its ``k`` nearest rows on the map.

    Returns the unit vector and the indices (into ``xy``) of the rows it was built from.
    """
    if len(xy) == 0:
        raise InputError("the workspace has no rows to place a point among")
    d = np.linalg.norm(xy - np.asarray(point, dtype=np.float32), axis=1)
    k = min(k, len(xy))
    nearest = np.argsort(d, kind="stable")[:k]
    weights = 1.0 / (d[nearest] + 1e-3)
    vector = (weights[:, None] * embeddings[nearest]).sum(axis=0)
    return l2_normalise(vector[None, :])[0], nearest.astype(np.int64)
