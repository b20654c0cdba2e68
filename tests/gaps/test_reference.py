"""Reference gaps: regions a reference set covers and the dataset does not (real encoder)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amplio.errors import InputError
from amplio.gaps.reference import EXAMPLES, RIM, find_reference_gaps
from testdata import DNA_CSV

MISSING = "Discrimination, Exclusion, Toxicity, Hateful, Offensive"


@pytest.fixture(scope="module")
def missing_topic(dna_slice: dict) -> dict:
    """The Do-Not-Answer slice without one risk area; the reference is 25 other rows per area
    (none of them in the slice), so only the missing area is reference territory the set lacks."""
    frame = pd.read_csv(DNA_CSV)
    in_slice = set(dna_slice["texts"])
    others = frame[~frame["prompt"].astype(str).isin(in_slice)]
    ref = others.groupby("risk_area").sample(n=25, random_state=1).reset_index(drop=True)
    keep = np.array([label != MISSING for label in dna_slice["labels"]])
    ref_texts = ref["prompt"].astype(str).tolist()
    return {
        "x": dna_slice["x"][keep], "xy": dna_slice["xy"][keep],
        "texts": [t for t, k in zip(dna_slice["texts"], keep, strict=True) if k],
        "labels": [lab for lab, k in zip(dna_slice["labels"], keep, strict=True) if k],
        "ref": dna_slice["encoder"].encode(ref_texts), "ref_texts": ref_texts,
        "ref_labels": ref["risk_area"].tolist(),
    }


def _find(data: dict, **kwargs: object) -> list:
    return find_reference_gaps(data["x"], data["xy"], data["texts"], data["labels"], data["ref"],
                               data["ref_texts"], **kwargs)


def test_the_top_gap_is_the_missing_topic(missing_topic: dict) -> None:
    gaps = _find(missing_topic, top=3)
    assert gaps
    top = gaps[0]
    areas = [missing_topic["ref_labels"][r] for r in top.reference_rows]
    # A fifth of the reference is the missing area; the top gap is mostly made of it.
    assert np.mean([a == MISSING for a in areas]) >= 0.7, areas
    assert len(top.examples) == min(EXAMPLES, len(top.reference_rows))
    assert top.examples == [missing_topic["ref_texts"][r] for r in top.reference_rows[:EXAMPLES]]
    assert sum(ex in set(missing_topic["texts"]) for ex in top.examples) == 0
    # The description names the reference rows' topic, not the dataset's rim.
    assert top.description and all(isinstance(w, str) for w in top.description)


def test_gaps_have_the_documented_fields(missing_topic: dict) -> None:
    gaps = _find(missing_topic, top=3)
    x = missing_topic["x"] / np.linalg.norm(missing_topic["x"], axis=1, keepdims=True)
    scores = [g.score for g in gaps]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert len({g.id for g in gaps}) == len(gaps) and all(g.id.startswith("refgap-") for g in gaps)
    seen: set[int] = set()
    for gap in gaps:
        d = gap.to_dict()
        assert {"id", "score", "x", "y", "size", "radius", "description", "rim_rows", "labels",
                "examples", "reference_rows"} <= set(d)
        assert d["size"] == len(d["reference_rows"]) >= 3
        assert not seen & set(d["reference_rows"])  # a reference row belongs to one gap
        seen |= set(d["reference_rows"])
        dist = 1 - x @ gap.center_embedding
        assert d["rim_rows"] == np.argsort(dist, kind="stable")[:RIM].tolist()
        assert gap.radius == pytest.approx(dist.min(), abs=1e-5)
        assert np.linalg.norm(gap.center_embedding) == pytest.approx(1.0, abs=1e-5)
        assert MISSING not in d["labels"]  # the rim is dataset rows


def test_deterministic_and_projected(missing_topic: dict) -> None:
    first = [g.to_dict() for g in _find(missing_topic, top=3, seed=4)]
    again = [g.to_dict() for g in _find(missing_topic, top=3, seed=4)]
    assert first == again
    placed = _find(missing_topic, top=2, project=lambda c: np.full((len(c), 2), 7.0))
    assert all((g.x, g.y) == (7.0, 7.0) for g in placed)


def test_a_reference_the_dataset_contains_scores_lower(dna_slice: dict, missing_topic: dict) -> None:
    # The reference is a sample of the dataset's own rows: nothing there is missing, so whatever
    # it finds is weaker than the missing topic.
    ref = dna_slice["x"][::4]
    gaps = find_reference_gaps(dna_slice["x"], dna_slice["xy"], dna_slice["texts"], dna_slice["labels"],
                               ref, dna_slice["texts"][::4], top=3)
    best = _find(missing_topic, top=1)[0].score
    assert all(g.score < 0.75 * best for g in gaps), ([g.score for g in gaps], best)


def test_bad_inputs_are_input_errors(missing_topic: dict) -> None:
    data = missing_topic
    with pytest.raises(InputError, match="empty"):
        find_reference_gaps(data["x"], data["xy"], data["texts"], data["labels"],
                            np.zeros((0, 384), np.float32), [])
    with pytest.raises(InputError, match="same encoder"):
        find_reference_gaps(data["x"], data["xy"], data["texts"], data["labels"],
                            np.ones((5, 16), np.float32), ["t"] * 5)
    with pytest.raises(InputError, match="reference texts"):
        find_reference_gaps(data["x"], data["xy"], data["texts"], data["labels"], data["ref"], ["t"])
