"""The map projection, clusters and keywords, directly, on real AART embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amplio.embedding.base import Encoder
from amplio.projection.clusters import cluster_embeddings, default_cluster_count
from amplio.projection.keywords import ctfidf_keywords
from amplio.projection.umap_projection import Projection, fit_projection
from testdata import AART_CSV


@pytest.fixture(scope="module")
def aart(encoder: Encoder) -> tuple[list[str], np.ndarray]:
    texts = pd.read_csv(AART_CSV)["prompt"].drop_duplicates().astype(str).head(400).tolist()
    return texts, encoder.encode(texts)


def test_projection_places_new_rows_beside_their_neighbours(aart: tuple[list[str], np.ndarray]) -> None:
    texts, embs = aart
    fit, held = embs[:360], embs[360:]
    projection, xy = fit_projection(fit, seed=0)
    assert xy.shape == (360, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    placed = projection.transform(held)
    assert placed.shape == (40, 2) and np.isfinite(placed).all()
    # A held-out row lands nearer its nearest fitted row than a random fitted row does.
    nearest = np.argmax(held @ fit.T, axis=1)
    to_nearest = np.linalg.norm(placed - xy[nearest], axis=1)
    rng = np.random.default_rng(0)
    to_random = np.linalg.norm(placed - xy[rng.integers(0, 360, size=40)], axis=1)
    assert np.median(to_nearest) < 0.5 * np.median(to_random)
    # Stored and read back, it places rows where it did.
    again = Projection.from_bytes(projection.to_bytes())
    assert np.allclose(again.transform(held), placed, atol=1e-4)
    assert again.fitted_rows == 360


def test_projection_is_deterministic_under_seed(aart: tuple[list[str], np.ndarray]) -> None:
    _, embs = aart
    _, first = fit_projection(embs[:200], seed=3)
    _, again = fit_projection(embs[:200], seed=3)
    assert np.allclose(first, again)


def test_clusters_cover_every_row_with_keywords(aart: tuple[list[str], np.ndarray]) -> None:
    texts, embs = aart
    found = cluster_embeddings(embs, texts, seed=0)
    k = default_cluster_count(len(texts))
    assert found.centroids.shape == (k, embs.shape[1]) and len(found.assignments) == len(texts)
    assert sum(found.sizes.values()) == len(texts) and set(found.sizes) == set(range(k))
    assert all(found.keywords[c] for c in found.sizes)
    # A row's centroid is the nearest of all centroids more often than not (k-means on cosines).
    own = np.argmax(embs @ found.centroids.T, axis=1)
    assert (own == found.assignments).mean() > 0.8


def test_ctfidf_keywords_find_the_planted_words() -> None:
    texts = ["how to launder money in a casino", "launder money through a casino",
             "casino money laundering tips", "poison the water supply", "contaminate the water supply",
             "water supply poison plan", "ignored row"]
    found = ctfidf_keywords(texts, [0, 0, 0, 1, 1, 1, -1], top=2)
    assert set(found) == {0, 1}
    assert set(found[0]) <= {"casino", "money", "launder"} and set(found[1]) <= {"water", "supply", "poison"}
    assert ctfidf_keywords(["a", "the"], [0, 0]) == {0: []}  # nothing but stop words
