"""ConceptModel queries on a model trained on real AART embeddings."""

from __future__ import annotations

import re

import numpy as np
import pytest

from amplio.concepts import ConceptModel
from amplio.embedding.base import Encoder
from amplio.errors import InputError, NotFoundError

EXPLOSIVE_WORDS = re.compile(r"bomb|explos|detonat|molotov|grenade|ied|dynamite|pipe")


def test_top_concepts_sorted_and_match_encode(
    concept_model: ConceptModel, aart_sample: tuple[list[str], np.ndarray]
) -> None:
    _, embeddings = aart_sample
    row = embeddings[11]
    top = concept_model.top_concepts(row, k=5)
    assert len(top) == 5
    acts = [a for _, a in top]
    assert acts == sorted(acts, reverse=True) and acts[-1] > 0
    dense = concept_model.encode(row)[0]
    for cid, act in top:
        assert dense[cid] == pytest.approx(act)
    # The first entry is the row's strongest concept overall.
    assert top[0][0] == int(np.argmax(dense))


def test_top_rows_are_the_strongest_rows(
    concept_model: ConceptModel, aart_sample: tuple[list[str], np.ndarray]
) -> None:
    _, embeddings = aart_sample
    acts = concept_model.encode(embeddings)
    for cid in (0, 17, 101, 199):
        rows = concept_model.top_rows(cid, 10)
        column = acts[:, cid]
        assert rows, f"concept {cid} has no rows"
        assert all(column[r] > 0 for r in rows)
        assert [column[r] for r in rows] == sorted((column[r] for r in rows), reverse=True)
        assert column[rows[0]] == pytest.approx(column.max())
    with pytest.raises(NotFoundError):
        concept_model.top_rows(concept_model.n_features)


def test_related_excludes_self_and_is_sorted(concept_model: ConceptModel) -> None:
    for cid in (0, 50, 150):
        related = concept_model.related(cid, k=5)
        ids = [c for c, _ in related]
        cosines = [c for _, c in related]
        assert len(related) == 5 and cid not in ids
        assert cosines == sorted(cosines, reverse=True)
        direction = concept_model.direction(cid)
        for other, cosine in related:
            assert float(direction @ concept_model.direction(other)) == pytest.approx(
                cosine, abs=1e-5
            )
        # Nothing left out is closer than the last one returned.
        all_cos = concept_model.weights.w_dec @ direction
        all_cos[[cid, *ids]] = -np.inf
        assert all_cos.max() <= cosines[-1] + 1e-6
    with pytest.raises(NotFoundError):
        concept_model.related(-1)


def test_steer_positive_raises_negative_lowers(
    concept_model: ConceptModel, aart_sample: tuple[list[str], np.ndarray]
) -> None:
    _, embeddings = aart_sample
    rng = np.random.default_rng(0)
    rows = range(0, 800, 10)
    ids, _ = concept_model.encode_topk(embeddings)
    raised, lowered, cosines = [], [], []
    for row in rows:
        start = embeddings[row]
        before = concept_model.encode(start)[0]
        # A random concept, usually absent from the row, grows when steered towards.
        cid = int(rng.integers(concept_model.n_features))
        pushed = concept_model.steer(start, {cid: 1.0})
        assert np.linalg.norm(pushed) == pytest.approx(1.0, abs=1e-5)
        raised.append(concept_model.encode(pushed)[0, cid] - before[cid])
        cosines.append(float(pushed @ start))
        # The row's strongest concept shrinks when steered away from.
        top = int(ids[row, 0])
        pulled = concept_model.steer(start, {top: -1.0})
        lowered.append(concept_model.encode(pulled)[0, top] - before[top])
    raised_arr, lowered_arr = np.array(raised), np.array(lowered)
    assert raised_arr.mean() > 0.2 and (raised_arr > 0).mean() > 0.9
    assert lowered_arr.mean() < -0.2 and (lowered_arr < 0).mean() > 0.9
    # Weight 1 is a strong but not total change: the result stays related to the start.
    assert 0.6 < float(np.mean(cosines)) < 0.9
    # A half weight moves less than a full one.
    half = concept_model.steer(embeddings[0], {5: 0.5})
    full = concept_model.steer(embeddings[0], {5: 1.0})
    assert float(half @ embeddings[0]) > float(full @ embeddings[0])


def test_steer_checks_weights_and_ids(
    concept_model: ConceptModel, aart_sample: tuple[list[str], np.ndarray]
) -> None:
    _, embeddings = aart_sample
    unchanged = concept_model.steer(embeddings[1], {})
    np.testing.assert_allclose(unchanged, embeddings[1], atol=1e-6)
    with pytest.raises(InputError, match="between -1 and 1"):
        concept_model.steer(embeddings[1], {3: 1.5})
    with pytest.raises(NotFoundError):
        concept_model.steer(embeddings[1], {concept_model.n_features: 0.5})
    with pytest.raises(InputError, match="dimension"):
        concept_model.steer(embeddings[1][:10], {3: 0.5})


def test_search_finds_concept_by_meaning(concept_model: ConceptModel, encoder: Encoder) -> None:
    query = encoder.encode(["bomb explosives"])[0]
    hits = concept_model.search(query, k=3)
    assert len(hits) == 3
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    labels = [concept_model.labels[c] for c, _ in hits]
    assert any(EXPLOSIVE_WORDS.search(label) for label in labels), labels
    # A different query finds different concepts.
    other = concept_model.search(encoder.encode(["cockfighting roosters"])[0], k=3)
    assert {c for c, _ in other}.isdisjoint({c for c, _ in hits})


def test_search_labels_substring(concept_model: ConceptModel) -> None:
    hits = concept_model.search_labels("BOMB")
    assert hits and all("bomb" in concept_model.labels[c] for c in hits)
    assert len(hits) == sum("bomb" in label for label in concept_model.labels)
    freqs = [concept_model.frequency[c] for c in hits]
    assert freqs == sorted(freqs, reverse=True)
    assert concept_model.search_labels("   ") == []
    assert concept_model.search_labels("zzqqxx-not-a-word") == []


def test_bytes_round_trip(
    concept_model: ConceptModel, aart_sample: tuple[list[str], np.ndarray]
) -> None:
    _, embeddings = aart_sample
    data = concept_model.to_bytes()
    assert isinstance(data, bytes) and len(data) > 1000
    loaded = ConceptModel.from_bytes(data)
    np.testing.assert_array_equal(loaded.encode(embeddings), concept_model.encode(embeddings))
    assert loaded.labels == concept_model.labels
    assert loaded.stats == concept_model.stats
    np.testing.assert_array_equal(loaded.frequency, concept_model.frequency)
    np.testing.assert_array_equal(loaded.steer_scales, concept_model.steer_scales)
    assert loaded.top_rows(5, 20) == concept_model.top_rows(5, 20)
    np.testing.assert_array_equal(
        loaded.steer(embeddings[0], {4: -0.7}), concept_model.steer(embeddings[0], {4: -0.7})
    )


def test_from_bytes_rejects_garbage(concept_model: ConceptModel) -> None:
    import io

    import torch

    with pytest.raises(InputError):
        ConceptModel.from_bytes(b"not a model at all")
    with pytest.raises(InputError):
        ConceptModel.from_bytes(concept_model.to_bytes()[:5000])
    buffer = io.BytesIO()
    torch.save({"format": "amplio-concepts", "version": 1, "k": 3}, buffer)
    with pytest.raises(InputError, match="incomplete"):
        ConceptModel.from_bytes(buffer.getvalue())


def test_labels_setter_checks_length(concept_model: ConceptModel) -> None:
    with pytest.raises(InputError, match="labels"):
        concept_model.labels = ["too few"]
