"""The ``Encoder`` protocol and the vector helpers every part shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into vectors.

    ``name`` identifies the model (it keys the embedding cache, so two encoders that can give
    different vectors must have different names); ``dim`` is the vector length.
    """

    name: str
    dim: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        """Return an ``(len(texts), dim)`` float32 array of L2-normalised rows.

        Deterministic: equal input gives equal output. Must accept an empty sequence.
        """
        ...


def l2_normalise(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    """Scale each row to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def as_unit(vector: NDArray[np.floating], dim: int) -> NDArray[np.float32]:
    """``vector`` as a unit vector of dimension ``dim``.

    Raises:
        InputError: a wrong dimension, or a zero or non-finite vector.
    """
    from amplio.errors import InputError

    vec = np.asarray(vector, dtype=np.float32).reshape(-1)
    if vec.shape[0] != dim:
        raise InputError(f"target has {vec.shape[0]} dimensions; the encoder gives {dim}")
    norm = float(np.linalg.norm(vec))
    if not np.isfinite(norm) or norm == 0.0:
        raise InputError("target must be a finite, non-zero vector")
    return vec / norm


def nearest(embeddings: NDArray[np.float32], vector: NDArray[np.float32], k: int) -> list[tuple[int, float]]:
    """The ``k`` rows of ``embeddings`` most alike ``vector`` (cosine, for unit rows), as
    ``(index, score)``, most alike first, ties by index. Exact; for a few hundred thousand rows
    it is one matrix-vector product."""
    if not len(embeddings) or k <= 0:
        return []
    scores = embeddings @ np.asarray(vector, dtype=np.float32)
    k = min(int(k), len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((top, -scores[top]))]
    return [(int(i), float(scores[i])) for i in top]
