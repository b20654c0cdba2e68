from __future__ import annotations

import numpy as np
import pytest

from amplio.errors import InputError
from amplio.gaps.finder import Gap
from amplio.gaps.metrics import (
    compare,
    diversity_report,
    mean_nn_distance,
    nearest_neighbour_distances,
    occupied_area_share,
    vendi_score,
)


def test_vendi_identical_rows_is_one() -> None:
    x = np.tile(np.array([[0.6, 0.8, 0.0]], dtype=np.float32), (50, 1))
    assert vendi_score(x) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("k", [2, 3, 7])
def test_vendi_orthogonal_groups_counts_groups(k: int) -> None:
    rng = np.random.default_rng(k)
    basis = np.linalg.qr(rng.normal(size=(32, k)))[0].T  # k orthonormal directions
    x = np.repeat(basis, 20, axis=0)
    assert vendi_score(x) == pytest.approx(k, rel=1e-5)


def test_vendi_unequal_groups_is_between() -> None:
    x = np.concatenate([np.tile([[1.0, 0.0]], (90, 1)), np.tile([[0.0, 1.0]], (10, 1))])
    expected = np.exp(-(0.9 * np.log(0.9) + 0.1 * np.log(0.1)))
    assert vendi_score(x) == pytest.approx(expected, rel=1e-6)


def test_vendi_real_rows(dna_slice: dict) -> None:
    x = dna_slice["x"]
    score = vendi_score(x)
    assert 5.0 < score < len(x)
    # Doubling every row leaves K/n's spectrum unchanged; fewer rows from one risk area score lower.
    assert vendi_score(np.concatenate([x, x])) == pytest.approx(score, rel=1e-4)
    labels = np.array(dna_slice["labels"])
    assert vendi_score(x[labels == labels[0]]) < score


def test_mean_nn_distance_on_a_hexagon() -> None:
    angles = np.deg2rad(np.arange(0, 360, 60))
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    # Neighbours on a hexagon are 60 degrees apart: cosine distance 1 - cos 60 = 0.5.
    assert mean_nn_distance(x) == pytest.approx(0.5, abs=1e-6)
    x2 = np.concatenate([x, x[:1]])  # an exact duplicate: both copies now have distance 0
    d = nearest_neighbour_distances(x2)
    assert d[0] == pytest.approx(0.0, abs=1e-6) and d[-1] == pytest.approx(0.0, abs=1e-6)
    assert d[1:-1] == pytest.approx([0.5] * 5, abs=1e-6)


def test_mean_nn_distance_above_its_exact_limit_is_a_sampled_estimate(dna_slice: dict) -> None:
    # Above exact_max the mean comes from a sample of rows, each searched against all rows.
    x = np.asarray(dna_slice["x"])
    exact = nearest_neighbour_distances(x)
    queries = np.array([0, 5, len(x) - 1])
    assert nearest_neighbour_distances(x, queries) == pytest.approx(exact[queries], abs=1e-6)
    estimate = mean_nn_distance(x, exact_max=50, sample=200, seed=1)
    assert estimate != pytest.approx(float(exact.mean()), abs=1e-9)  # a sample, not all rows
    assert estimate == pytest.approx(float(exact.mean()), abs=4 * exact.std() / np.sqrt(200))
    assert mean_nn_distance(x, exact_max=len(x)) == pytest.approx(float(exact.mean()), abs=1e-6)


def test_vendi_in_blocks_matches_the_kernel_spectrum() -> None:
    # More rows than dimensions: the d x d matrix is summed in blocks (65,536 rows each).
    x = np.random.default_rng(0).normal(size=(70_000, 4)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x64 = x.astype(np.float64)
    eig = np.linalg.eigvalsh(x64.T @ x64 / len(x64))
    assert vendi_score(x) == pytest.approx(float(np.exp(-np.sum(eig * np.log(eig)))), rel=1e-6)


def test_mean_nn_distance_needs_two_rows() -> None:
    with pytest.raises(InputError):
        mean_nn_distance(np.ones((1, 3)))


def test_occupied_area_share() -> None:
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    assert occupied_area_share(corners, grid=2) == 1.0
    assert occupied_area_share(corners, grid=4) == pytest.approx(4 / 16)
    # Fixed bounds: a point outside is ignored, and the same points in a bigger box cover less.
    points = np.array([[0, 0], [0.1, 0.1], [1, 1]], dtype=float)
    assert occupied_area_share(points, grid=2) == pytest.approx(2 / 4)
    outside = np.concatenate([points, [[5.0, 5.0]]])
    assert occupied_area_share(outside, grid=2, bounds=(0, 4, 0, 4)) == pytest.approx(1 / 4)


def test_diversity_report_and_compare(dna_slice: dict) -> None:
    x, xy, labels = dna_slice["x"], dna_slice["xy"], dna_slice["labels"]
    gap = Gap(id="g", score=1.5, size=1.0, center_embedding=x[0], x=0.0, y=0.0, radius=0.3,
              rim_rows=[0, 1], labels={labels[0]: 2})
    before = diversity_report(x[:200], xy[:200], labels[:200], [gap])
    assert before["all"]["rows"] == 200
    assert before["all"]["vendi"] == pytest.approx(vendi_score(x[:200]))
    assert before["all"]["gaps"] == 1 and before["all"]["gap_score_total"] == 1.5
    assert before["labels"][labels[0]]["gaps"] == 1
    assert sum(s["rows"] for s in before["labels"].values()) == 200
    after = diversity_report(x, xy, labels, [], bounds=tuple(before["bounds"]))
    diff = compare(before, after)
    assert diff["all"]["rows"] == {"before": 200, "after": len(x), "change": len(x) - 200}
    assert diff["all"]["vendi"]["change"] == pytest.approx(after["all"]["vendi"] - before["all"]["vendi"])
    assert diff["all"]["gaps"]["change"] == -1
