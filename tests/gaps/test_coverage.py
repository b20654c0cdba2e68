from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans

from amplio.errors import InputError
from amplio.gaps.coverage import concept_coverage, label_concept_matrix


@pytest.fixture(scope="module")
def memberships(dna_slice: dict) -> np.ndarray:
    # Stand-in "concepts": one-hot k-means memberships of the real embeddings.
    assign = KMeans(12, n_init=3, random_state=0).fit_predict(dna_slice["x"])
    return np.eye(12)[assign]


def test_matrix_rates_match_counts(dna_slice: dict, memberships: np.ndarray) -> None:
    labels = dna_slice["labels"]
    names, rates = label_concept_matrix(memberships, labels)
    assert names == sorted(set(labels)) and rates.shape == (len(names), 12)
    # One concept per row, so each label's rates sum to 1.
    assert rates.sum(axis=1) == pytest.approx(np.ones(len(names)))
    first = np.array(labels) == names[0]
    assert rates[0, 3] == pytest.approx(memberships[first, 3].mean())


def test_coverage_suggests_concepts_rare_in_label(dna_slice: dict, memberships: np.ndarray) -> None:
    labels = np.array(dna_slice["labels"])
    result = concept_coverage(memberships, labels.tolist(), [f"c{i}" for i in range(12)], top=3)
    assert set(result) == set(labels)
    for label, items in result.items():
        assert 1 <= len(items) <= 3
        gaps = [it["rate_elsewhere"] - it["rate_in_label"] for it in items]
        assert all(g > 0 for g in gaps) and gaps == sorted(gaps, reverse=True)
        first = items[0]
        mask = labels == label
        assert first["rate_in_label"] == pytest.approx(memberships[mask, first["concept"]].mean(), abs=1e-4)
        assert first["label"] == f"c{first['concept']}"


def test_concept_absent_from_a_label_ranks_first() -> None:
    labels = ["a"] * 10 + ["b"] * 10
    acts = np.zeros((20, 3))
    acts[10:, 0] = 2.0  # concept 0: everywhere in b, nowhere in a
    acts[:, 1] = 1.0  # concept 1: everywhere
    acts[:5, 2] = 1.0  # concept 2: half of a only
    result = concept_coverage(acts, labels, ["x", "y", "z"], top=5)
    assert result["a"][0] == {"concept": 0, "label": "x", "rate_in_label": 0.0, "rate_elsewhere": 1.0}
    assert [it["concept"] for it in result["a"]] == [0]
    assert [it["concept"] for it in result["b"]] == [2]


def test_coverage_rejects_bad_input() -> None:
    with pytest.raises(InputError):
        concept_coverage(-np.ones((2, 2)), ["a", "b"], ["x", "y"])
    with pytest.raises(InputError):
        concept_coverage(np.ones((2, 2)), ["a"], ["x", "y"])
    with pytest.raises(InputError):
        concept_coverage(np.ones((2, 2)), ["a", "b"], ["x"])


def test_counts_summed_in_chunks_give_the_whole_matrix_result(dna_slice: dict, memberships: np.ndarray) -> None:
    # A million rows are counted a chunk at a time; the summary must not depend on the chunks.
    from amplio.gaps.coverage import ActiveCounts, coverage_summary

    labels = list(dna_slice["labels"])
    labels[::7] = [None] * len(labels[::7])  # unlabelled rows count only as "elsewhere"
    names = [f"c{i}" for i in range(12)]
    whole = coverage_summary(memberships, labels, names, concepts=6, top=3)
    counts = ActiveCounts(12)
    for start in range(0, len(labels), 37):
        counts.add(memberships[start:start + 37], labels[start:start + 37])
    assert coverage_summary(counts, labels, names, concepts=6, top=3) == whole
    with pytest.raises(InputError, match="5 concepts, not 12"):
        counts.add(np.ones((2, 5)), ["a", "b"])
