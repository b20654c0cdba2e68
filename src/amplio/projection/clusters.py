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


def default_cluster_count(n: int) -> int:
    """About sqrt(n/10) clusters, between 2 and 50: a dozen-odd for thousands of rows."""
    return int(np.clip(round(np.sqrt(n / 10)), 2, 50)) if n >= 4 else 1


def cluster_embeddings(
    embeddings: NDArray[np.float32], texts: Sequence[str], *, k: int | None = None, seed: int = 0
) -> Clustering:
    """k-means on the unit embeddings (cosine geometry), labelled by class-based TF-IDF."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    n = len(embeddings)
    k = min(k or default_cluster_count(n), n)
    if k <= 1:
        assignments = np.zeros(n, dtype=np.int32)
        centroids = embeddings.mean(axis=0, keepdims=True) if n else np.zeros((1, embeddings.shape[1]))
    else:
        algorithm = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096) \
            if n > 20_000 else KMeans(n_clusters=k, random_state=seed, n_init=3)
        assignments = algorithm.fit_predict(embeddings).astype(np.int32)
        centroids = algorithm.cluster_centers_
    keywords = ctfidf_keywords(texts, assignments.tolist(), top=3)
    sizes = {int(c): int(s) for c, s in zip(*np.unique(assignments, return_counts=True), strict=True)}
    return Clustering(assignments, keywords, sizes, np.asarray(centroids, dtype=np.float32))
