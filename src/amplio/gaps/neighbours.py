"""Exact cosine nearest neighbours in blocks, shared by the gap finder and the metrics."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_BLOCK = 2048  # query rows per block: a block x n similarity matrix is held at a time ...
_BLOCK_CELLS = 2048 * 65_536  # ... of at most this many cells (512 MiB), fewer rows when n is large


def knn(
    queries: NDArray[np.float32], rows: NDArray[np.float32], k: int, *, exclude_self: bool = False
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """The ``k`` nearest ``rows`` of each query by cosine distance, nearest first.

    Args:
        queries: ``(m, d)`` unit rows.
        rows: ``(n, d)`` unit rows.
        k: neighbours per query (at most ``n``, or ``n - 1`` with ``exclude_self``).
        exclude_self: ``queries`` is ``rows`` and a row is not its own neighbour.

    Returns:
        ``(indices, distances)``, both ``(m, k)``; distances are ``1 - cosine``.
    """
    import torch  # a dependency already (the encoder); its top-k is ~10x numpy's argpartition

    m = len(queries)
    block = max(16, min(_BLOCK, _BLOCK_CELLS // max(len(rows), 1)))
    out_idx = np.empty((m, k), dtype=np.int64)
    out_dist = np.empty((m, k), dtype=np.float32)
    for start in range(0, m, block):
        sims = np.ascontiguousarray(queries[start:start + block] @ rows.T, dtype=np.float32)
        if exclude_self:
            sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
        top = torch.topk(torch.from_numpy(sims), k, dim=1, largest=True, sorted=False)
        part = top.indices.numpy().astype(np.int64)
        part_sims = top.values.numpy()
        # Sort by similarity, ties by row index, so results do not depend on argpartition.
        order = np.lexsort((part, -part_sims), axis=1)
        out_idx[start:start + block] = np.take_along_axis(part, order, axis=1)
        out_dist[start:start + block] = 1.0 - np.take_along_axis(part_sims, order, axis=1)
    return out_idx, np.clip(out_dist, 0.0, 2.0)


def unit_rows(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    """Scale each row to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)
