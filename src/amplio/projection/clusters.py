"""Clusters of the embeddings, with keyword labels, for colouring a map without labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from amplio.projection.keywords import ctfidf_keywords


@dataclass
class Clustering:
    assignments: NDArray[np.int32]  # cluster id per row
    keywords: dict[int, list[str]]
    sizes: dict[int, int]
    centroids: NDArray[np.float32]


SAMPLE_ABOVE = 200_000  # above this many rows, k-means is fitted on a sample ...
SAMPLE_SIZE = 100_000  # ... of this many rows and every row is assigned to its nearest centre
KEYWORD_ROWS = 200_000  # keywords are counted over at most this many rows (a seeded sample)
_ASSIGN_BLOCK = 65_536  # rows per block when assigning rows to centres


def default_cluster_count(n: int) -> int:
    """About sqrt(n/10) clusters, between 2 and 50: a dozen-odd for thousands of rows."""
    return int(np.clip(round(np.sqrt(n / 10)), 2, 50)) if n >= 4 else 1


def cluster_embeddings(
    embeddings: NDArray[np.float32], texts: Sequence[str], *, k: int | None = None, seed: int = 0,
    sample_above: int | None = None, sample_size: int | None = None,
) -> Clustering:
    """k-means on the unit embeddings (cosine geometry), labelled by class-based TF-IDF.

    Above ``sample_above`` rows (default ``SAMPLE_ABOVE``) the centres are fitted on a seeded
    sample of ``sample_size`` rows (default ``SAMPLE_SIZE``) and every row is then assigned to
    its nearest centre, so 1M rows cost one pass of ``n x k`` dot products after the fit; the
    keywords are counted over at most ``KEYWORD_ROWS`` rows.
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans

    n = len(embeddings)
    k = min(k or default_cluster_count(n), n)
    above = SAMPLE_ABOVE if sample_above is None else int(sample_above)
    size = SAMPLE_SIZE if sample_size is None else int(sample_size)
    rng = np.random.default_rng(seed)
    if k <= 1:
        assignments = np.zeros(n, dtype=np.int32)
        centroids = embeddings.mean(axis=0, keepdims=True) if n else np.zeros((1, embeddings.shape[1]))
    else:
        sampled = n > above and n > max(size, k)
        fit_idx = np.sort(rng.choice(n, max(size, k), replace=False)) if sampled else None
        fit_rows = embeddings[fit_idx] if fit_idx is not None else embeddings
        algorithm = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096) \
            if len(fit_rows) > 20_000 else KMeans(n_clusters=k, random_state=seed, n_init=3)
        fitted = algorithm.fit_predict(fit_rows).astype(np.int32)
        centroids = algorithm.cluster_centers_
        assignments = nearest_centre(embeddings, centroids) if sampled else fitted
    keyword_rows = (np.sort(rng.choice(n, KEYWORD_ROWS, replace=False)) if n > KEYWORD_ROWS
                    else np.arange(n))
    keywords = ctfidf_keywords([texts[i] for i in keyword_rows], assignments[keyword_rows].tolist(), top=3)
    sizes = {int(c): int(s) for c, s in zip(*np.unique(assignments, return_counts=True), strict=True)}
    return Clustering(assignments, keywords, sizes, np.asarray(centroids, dtype=np.float32))


def nearest_centre(embeddings: NDArray[np.floating], centres: NDArray[np.floating]) -> NDArray[np.int32]:
    """The index of the nearest centre (squared Euclidean, as k-means measures) of each row."""
    c = np.asarray(centres, dtype=np.float32)
    half_norms = 0.5 * (c * c).sum(axis=1)
    out = np.empty(len(embeddings), dtype=np.int32)
    for start in range(0, len(embeddings), _ASSIGN_BLOCK):
        block = np.asarray(embeddings[start:start + _ASSIGN_BLOCK], dtype=np.float32)
        out[start:start + len(block)] = np.argmax(block @ c.T - half_norms, axis=1)
    return out
