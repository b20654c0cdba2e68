"""The map and clusters at scale, with low thresholds so the sampled paths run in seconds."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from amplio.errors import InputError
from amplio.projection.clusters import cluster_embeddings, nearest_centre
from amplio.projection.umap_projection import NeighbourLayout, Projection, _fit_umap, fit_projection

GROUPS = 8


def clustered(n: int, seed: int = 0, dim: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors in ``GROUPS`` well separated groups, and each row's group."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(GROUPS, dim))
    group = np.arange(n) % GROUPS
    x = centres[group] + rng.normal(scale=0.35, size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), group


@pytest.fixture(scope="module")
def sampled() -> tuple[np.ndarray, np.ndarray, Projection, np.ndarray]:
    x, group = clustered(1200)
    projection, xy = fit_projection(x, seed=0, sample_above=300, sample_size=300)
    return x, group, projection, xy


def _same_group_on_map(xy: np.ndarray, group: np.ndarray, rows: np.ndarray, k: int = 10) -> float:
    """Share of each row's ``k`` nearest map neighbours that are in its group."""
    d2 = ((xy[rows][:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    d2[np.arange(len(rows)), rows] = np.inf
    near = np.argsort(d2, axis=1)[:, :k]
    return float((group[near] == group[rows][:, None]).mean())


def test_sampled_fit_places_every_row_and_keeps_neighbours(sampled) -> None:
    x, group, projection, xy = sampled
    assert projection.fitted_rows == 300  # above the threshold: fitted on the sample only
    assert isinstance(projection.model, NeighbourLayout) and len(projection.model.vectors) == 300
    assert xy.shape == (1200, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    fitted = (x @ projection.model.vectors.T).max(axis=1) > 0.99999
    placed = np.flatnonzero(~fitted)
    assert len(placed) == 900
    # Placed rows sit among rows of their own group on the map, as the fitted rows do.
    assert _same_group_on_map(xy, group, placed[:200]) > 0.9
    # A new point is placed where the build placed the same vector, up to the approximate index.
    again = projection.transform(x[placed[:50]])
    spread = np.ptp(xy, axis=0).max()
    assert np.median(np.linalg.norm(again - xy[placed[:50]], axis=1)) < 0.02 * spread


def test_below_the_threshold_every_row_is_fitted() -> None:
    x, _ = clustered(200, seed=1)
    projection, xy = fit_projection(x, seed=0, sample_above=300, sample_size=100)
    assert projection.fitted_rows == 200 and np.isfinite(xy).all()
    with pytest.raises(ValueError, match="at least 4"):
        fit_projection(x, sample_above=2)


def test_projection_round_trips_without_pickle_or_numba(sampled, tmp_path: Path) -> None:
    x, _, projection, _ = sampled
    data = projection.to_bytes()
    assert data[:2] == b"PK"  # an .npz of plain arrays, loaded with allow_pickle=False
    artifact = tmp_path / "projection.npz"
    artifact.write_bytes(data)
    np.save(tmp_path / "queries.npy", x[:5])
    expected = projection.transform(x[:5])
    np.save(tmp_path / "expected.npy", expected)
    # A fresh process places new points without importing umap, pynndescent or numba (no JIT).
    script = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        from amplio.projection.umap_projection import Projection
        start = time.perf_counter()
        p = Projection.from_bytes(open({str(artifact)!r}, "rb").read())
        xy = p.transform(np.load({str(tmp_path / "queries.npy")!r}))
        seconds = time.perf_counter() - start
        assert np.allclose(xy, np.load({str(tmp_path / "expected.npy")!r}), atol=1e-5)
        assert not {{"umap", "pynndescent", "numba"}} & set(sys.modules), sorted(sys.modules)
        print(seconds)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert float(out.stdout.strip()) < 1.0


def test_a_pickled_umap_from_an_earlier_version_is_read_as_a_neighbour_layout() -> None:
    x, _ = clustered(300, seed=2)
    reducer, xy = _fit_umap(x, 0, 15)
    buffer = io.BytesIO()
    pickle.dump({"model": reducer, "fitted_rows": 300}, buffer)
    projection = Projection.from_bytes(buffer.getvalue())
    assert isinstance(projection.model, NeighbourLayout) and projection.fitted_rows == 300
    placed = projection.transform(x[:40])
    spread = np.ptp(xy, axis=0).max()
    assert np.median(np.linalg.norm(placed - xy[:40], axis=1)) < 0.05 * spread


def test_clusters_fit_on_a_sample_and_assign_every_row_to_its_nearest_centre() -> None:
    x, group = clustered(3000, seed=3)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    texts = [f"{words[g]} common text" for g in group]
    found = cluster_embeddings(x, texts, k=GROUPS, seed=0, sample_above=1000, sample_size=400)
    assert len(found.assignments) == 3000 and sum(found.sizes.values()) == 3000
    assert np.array_equal(found.assignments, nearest_centre(x, found.centroids))
    # Each true group falls (almost) wholly into one cluster.
    purity = sum(np.bincount(found.assignments[group == g]).max() for g in range(GROUPS)) / 3000
    assert purity > 0.95
    assert all(found.keywords[c][0] in words for c in found.sizes)
    # Below the threshold the old path (k-means on every row) runs.
    small = cluster_embeddings(x[:500], texts[:500], k=GROUPS, seed=0, sample_above=1000)
    assert len(small.assignments) == 500


def test_gap_finder_refuses_above_its_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from amplio.gaps import finder

    x, _ = clustered(40, seed=4)
    monkeypatch.setattr(finder, "MAX_ROWS", 30)
    with pytest.raises(InputError, match="at most 30 rows"):
        finder.find_gaps(x, np.zeros((40, 2)), ["t"] * 40)


def test_knn_blocks_shrink_with_many_rows_without_changing_results(monkeypatch: pytest.MonkeyPatch) -> None:
    from amplio.gaps import neighbours

    x, _ = clustered(500, seed=5)
    idx, dist = neighbours.knn(x, x, 5, exclude_self=True)
    monkeypatch.setattr(neighbours, "_BLOCK_CELLS", 500 * 20)  # 20 query rows per block
    idx2, dist2 = neighbours.knn(x, x, 5, exclude_self=True)
    assert np.array_equal(idx, idx2) and np.allclose(dist, dist2)
