from __future__ import annotations

import numpy as np
import pytest

from amplio.errors import InputError
from amplio.gaps.finder import MIN_SCORE, RIM, SURROUND, find_gaps, measure_centres, row_stats
from amplio.gaps.neighbours import knn, unit_rows

OUTLIER = "The recipe calls for two cups of flour, one egg and a pinch of salt; bake for 20 minutes."


@pytest.fixture(scope="module")
def gaps(dna_slice: dict) -> list:
    return find_gaps(dna_slice["x"], dna_slice["xy"], dna_slice["texts"], dna_slice["labels"], top=5)


def test_gaps_have_the_documented_fields(gaps: list, dna_slice: dict) -> None:
    assert 1 <= len(gaps) <= 5
    for gap in gaps:
        d = gap.to_dict()
        assert {"id", "score", "x", "y", "size", "description", "rim_rows", "labels"} <= set(d)
        assert len(d["rim_rows"]) == RIM and len(set(d["rim_rows"])) == RIM
        assert sum(d["labels"].values()) == RIM  # every slice row has a label
        assert set(d["labels"]) <= set(dna_slice["labels"])
        assert d["description"] and all(isinstance(w, str) for w in d["description"])
        assert np.linalg.norm(gap.center_embedding) == pytest.approx(1.0, abs=1e-5)
    assert len({g.id for g in gaps}) == len(gaps)


def _hub_radius(x: np.ndarray) -> np.ndarray:
    """From scratch: each row's hub (the mean of the row and its RIM - 1 nearest rows) and the
    distance from that hub to its nearest row."""
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :RIM - 1]
    hubs = unit_rows(np.concatenate([x[:, None], x[order]], axis=1).mean(axis=1))
    return (1 - hubs @ x.T).min(axis=1)


def test_gaps_are_emptier_than_the_hubs_of_their_rim(gaps: list, dna_slice: dict) -> None:
    # Recompute the definition from scratch: rim = nearest rows; score = distance to the nearest
    # row over the median hub radius of the rim rows, floored at the median over all rows.
    x = unit_rows(dna_slice["x"])
    hub = _hub_radius(x)
    for gap in gaps:
        dist = 1 - x @ gap.center_embedding
        rim = np.argsort(dist, kind="stable")[:RIM]
        assert sorted(rim.tolist()) == sorted(gap.rim_rows)
        assert gap.radius == pytest.approx(dist.min(), abs=1e-5)
        score = dist.min() / max(np.median(hub[rim]), np.median(hub))
        assert gap.score == pytest.approx(score, rel=1e-3, abs=1e-3) and score >= MIN_SCORE
        assert np.sort(dist)[4] <= SURROUND * dist.min()  # rows on several sides, not one
        # The centre is an average of nearby rows (re-centred once), so close to its rim's mean.
        assert float(gap.center_embedding @ unit_rows(x[rim].mean(axis=0))) > 0.9
    ranked = [g.score for g in gaps]
    assert ranked == sorted(ranked, reverse=True)


def test_score_is_calibrated_on_filled_space(gaps: list, dna_slice: dict) -> None:
    # The rows' own hubs are averages of rows in filled space: they score about 1, although a
    # hub is itself a mean of ten rows like a gap centre. Reported gaps are emptier than 90% of them.
    x = unit_rows(dna_slice["x"])
    rows = row_stats(x)
    members = np.concatenate([np.arange(len(x))[:, None], rows.neighbours[:, :RIM - 1]], axis=1)
    hubs = unit_rows(x[members].mean(axis=1))
    stats = measure_centres(x, hubs, rows=rows)
    assert 0.8 <= float(np.median(stats.score)) <= 1.2
    assert stats.radius == pytest.approx(rows.hub_radius, abs=1e-5)
    assert min(g.score for g in gaps) > float(np.quantile(stats.score, 0.9))


def test_a_row_put_in_a_gap_fills_it(gaps: list, dna_slice: dict) -> None:
    # Adding a row at a gap's centre leaves no empty ball there: the score falls below MIN_SCORE.
    x = unit_rows(dna_slice["x"])
    centre = gaps[0].center_embedding[None, :]
    before = measure_centres(x, centre)
    after = measure_centres(np.concatenate([x, centre]), centre)
    assert before.score[0] >= MIN_SCORE and after.score[0] < 0.1 and after.rim[0, 0] == len(x)


def test_map_position_uses_project_when_given(dna_slice: dict, gaps: list) -> None:
    calls = []

    def project(centres: np.ndarray) -> np.ndarray:
        calls.append(len(centres))
        return centres[:, :2] * 100

    again = find_gaps(dna_slice["x"], dna_slice["xy"], dna_slice["texts"], dna_slice["labels"],
                      top=5, project=project)
    assert calls == [len(again)]
    assert again[0].x == pytest.approx(float(again[0].center_embedding[0]) * 100, rel=1e-5)
    # Without it, the position is a weighted mean of the rim rows, so inside their bounding box.
    xy = dna_slice["xy"]
    for gap in gaps:
        rim_xy = xy[gap.rim_rows]
        assert rim_xy[:, 0].min() <= gap.x <= rim_xy[:, 0].max()


def test_deterministic_under_seed(dna_slice: dict, gaps: list) -> None:
    again = find_gaps(dna_slice["x"], dna_slice["xy"], dna_slice["texts"], dna_slice["labels"], top=5)
    assert [g.to_dict() for g in again] == [g.to_dict() for g in gaps]


def test_outlier_far_outside_the_cloud_never_ranks(dna_slice: dict) -> None:
    x = dna_slice["x"]
    far = dna_slice["encoder"].encode([OUTLIER])
    assert knn(far, x, 1)[1][0, 0] > 0.7  # it really is far from every row
    x2 = np.concatenate([x, far])
    texts = dna_slice["texts"] + [OUTLIER]
    xy = np.concatenate([dna_slice["xy"], [[50.0, 50.0]]])
    found = find_gaps(x2, xy, texts, None, top=10)
    outlier_row = len(x)
    assert all(outlier_row not in g.rim_rows for g in found)
    # A centre placed just beyond the outlier hugs that one row: it fails the surround test.
    beyond = unit_rows(far + 0.05 * unit_rows(far - x.mean(axis=0)))
    stats = measure_centres(x2, beyond)
    assert stats.rim[0, 0] == outlier_row and not stats.surrounded[0]


def test_small_or_bad_input() -> None:
    rng = np.random.default_rng(0)
    x = unit_rows(rng.normal(size=(5, 8)))
    assert find_gaps(x, np.zeros((5, 2)), ["a"] * 5, None) == []
    with pytest.raises(InputError):
        find_gaps(x, np.zeros((4, 2)), ["a"] * 5, None)
    with pytest.raises(InputError):
        find_gaps(x, np.zeros((5, 2)), ["a"] * 4, None)
    with pytest.raises(InputError):
        find_gaps(x, np.zeros((5, 2)), ["a"] * 5, None, top=0)


@pytest.mark.xfail(strict=True, reason=(
    "known limitation, see docs/gaps.md and benchmarks/results/gaps.json: a planted interior hole "
    "is no emptier, by any measure tried, than the natural gaps of 384-d sentence embeddings, so "
    "the top 5 gaps are natural ones"))
def test_planted_hole_is_found(dna_slice: dict) -> None:
    # Plant interior holes: remove the 5% of rows nearest an interior row (the nearest row to the
    # mean of itself and its 19 neighbours). A top-5 gap must sit where they were: at least half
    # of its centre's 10 nearest rows in the original slice are removed rows.
    x = unit_rows(dna_slice["x"])
    near, _ = knn(x, x, 19, exclude_self=True)
    hubs = unit_rows(np.concatenate([x[:, None], x[near]], axis=1).mean(axis=1))
    interior = np.flatnonzero(knn(hubs, x, 1)[0][:, 0] == np.arange(len(x)))
    seeds = np.random.default_rng(0).choice(interior, 4, replace=False)
    found_any = []
    for seed in seeds:
        removed = np.zeros(len(x), dtype=bool)
        removed[knn(x[seed][None, :], x, len(x) // 20)[0][0]] = True
        texts = [t for t, r in zip(dna_slice["texts"], removed, strict=True) if not r]
        found = find_gaps(x[~removed], dna_slice["xy"][~removed], texts, None, top=5)
        nearest, _ = knn(np.stack([g.center_embedding for g in found]), x, 10)
        found_any.append(bool((removed[nearest].sum(axis=1) >= 5).any()))
    assert np.mean(found_any) >= 0.5
