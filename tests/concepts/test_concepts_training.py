"""Training a concept model on real AART embeddings: quality, sizes, determinism, inputs."""

from __future__ import annotations

import numpy as np
import pytest

from amplio.concepts import ConceptModel, train_concepts
from amplio.concepts.sae import (
    AUX_COEF,
    default_k,
    default_n_features,
    encode_topk,
    fraction_of_variance_explained,
    train_sae,
)
from amplio.errors import InputError

# Measured on the 800-row sample with the defaults: FVE 0.82, dead share 0.0.
MIN_FVE = 0.7
MAX_DEAD_SHARE = 0.05


def test_quality_stats(
    concept_model: ConceptModel, aart_sample: tuple[list[str], np.ndarray]
) -> None:
    _, embeddings = aart_sample
    stats = concept_model.stats
    assert stats["fve"] > MIN_FVE
    assert stats["dead_share"] < MAX_DEAD_SHARE
    assert stats["n_features"] == concept_model.n_features == default_n_features(800) == 200
    assert stats["k"] == concept_model.k == default_k(200)
    assert 8 <= concept_model.k <= 16
    assert stats["n_rows"] == 800 and stats["n_reference"] == 0
    # The recorded FVE is the one the model actually achieves.
    recon = concept_model.reconstruct(embeddings)
    assert fraction_of_variance_explained(embeddings, recon) == pytest.approx(
        stats["fve"], abs=1e-4
    )
    # And it beats a plain mean by far (the mean alone scores 0).
    assert np.mean(np.sum((embeddings - recon) ** 2, axis=1)) < 0.4 * np.mean(
        np.sum((embeddings - embeddings.mean(axis=0)) ** 2, axis=1)
    )


def test_encode_is_sparse_top_k(
    concept_model: ConceptModel, aart_sample: tuple[list[str], np.ndarray]
) -> None:
    _, embeddings = aart_sample
    acts = concept_model.encode(embeddings[:50])
    assert acts.shape == (50, concept_model.n_features) and acts.dtype == np.float32
    assert (acts >= 0).all()
    nonzero = (acts > 0).sum(axis=1)
    assert nonzero.max() <= concept_model.k and nonzero.min() >= 1
    assert concept_model.reconstruct(embeddings[:50]).shape == (50, embeddings.shape[1])
    # One row as a 1-D vector gives the same as that row in a batch (up to BLAS rounding).
    np.testing.assert_allclose(concept_model.encode(embeddings[3])[0], acts[3], atol=1e-5)


def test_frequency_matches_encoding(
    concept_model: ConceptModel, aart_sample: tuple[list[str], np.ndarray]
) -> None:
    _, embeddings = aart_sample
    active = concept_model.encode(embeddings) > 0
    np.testing.assert_allclose(concept_model.frequency, active.mean(axis=0), atol=1e-6)
    assert concept_model.frequency.shape == (concept_model.n_features,)


def test_same_seed_same_model_other_seed_differs(aart_sample: tuple[list[str], np.ndarray]) -> None:
    texts, embeddings = aart_sample
    texts, embeddings = texts[:300], embeddings[:300]
    first = train_concepts(embeddings, texts, n_features=64, k=8, epochs=8, seed=3)
    second = train_concepts(embeddings, texts, n_features=64, k=8, epochs=8, seed=3)
    other = train_concepts(embeddings, texts, n_features=64, k=8, epochs=8, seed=4)
    np.testing.assert_array_equal(first.encode(embeddings), second.encode(embeddings))
    np.testing.assert_array_equal(first.weights.w_dec, second.weights.w_dec)
    assert first.labels == second.labels
    assert first.to_bytes() == second.to_bytes()
    assert not np.allclose(first.weights.w_dec, other.weights.w_dec)


def test_decoder_directions_are_unit_length(concept_model: ConceptModel) -> None:
    norms = np.linalg.norm(concept_model.weights.w_dec, axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(concept_model.direction(7)), 1.0, atol=1e-5)


def test_progress_reports_each_epoch(aart_sample: tuple[list[str], np.ndarray]) -> None:
    texts, embeddings = aart_sample
    calls: list[tuple[str, int, int]] = []
    train_concepts(
        embeddings[:200],
        texts[:200],
        n_features=32,
        k=4,
        epochs=6,
        progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    epochs = [c for c in calls if c[0] == "concepts"]
    assert epochs == [("concepts", i, 6) for i in range(1, 7)]
    assert calls[-1] == ("concept labels", 1, 1)


def test_reference_corpus_trains_but_rows_index_embeddings(
    aart_sample: tuple[list[str], np.ndarray], aart_reference: np.ndarray
) -> None:
    texts, embeddings = aart_sample
    texts, embeddings = texts[:300], embeddings[:300]
    model = train_concepts(
        embeddings, texts, n_features=64, k=8, epochs=8, reference=aart_reference
    )
    assert model.stats["n_reference"] == aart_reference.shape[0]
    assert model.stats["n_rows"] == 300
    rows = [r for cid in range(model.n_features) for r in model.top_rows(cid, 50)]
    assert rows and max(rows) < 300
    # Default sizing counts the reference rows too.
    sized = train_concepts(embeddings, texts, epochs=1, reference=np.tile(aart_reference, (4, 1)))
    assert sized.n_features == default_n_features(300 + 800) == 275


def test_bad_inputs_raise_input_error(aart_sample: tuple[list[str], np.ndarray]) -> None:
    texts, embeddings = aart_sample
    with pytest.raises(InputError, match="texts"):
        train_concepts(embeddings[:10], texts[:9])
    bad = embeddings[:10].copy()
    bad[2, 5] = np.nan
    with pytest.raises(InputError, match="NaN"):
        train_concepts(bad, texts[:10])
    with pytest.raises(InputError, match="dimension"):
        train_concepts(embeddings[:10], texts[:10], reference=np.zeros((5, 7), np.float32))
    with pytest.raises(InputError, match="k must be"):
        train_concepts(embeddings[:10], texts[:10], n_features=4, k=5)
    with pytest.raises(InputError, match="non-empty"):
        train_concepts(np.zeros((0, 384), np.float32), [])


def test_auxk_revives_dead_features(aart_sample: tuple[list[str], np.ndarray]) -> None:
    # With only 2 active features per row, plain training leaves many features unused
    # (measured: 14.5 % dead without AuxK, 1 % with it).
    _, embeddings = aart_sample

    def dead_share(aux_coef: float) -> float:
        weights = train_sae(embeddings, n_features=200, k=2, epochs=40, aux_coef=aux_coef)
        ids, acts = encode_topk(weights, embeddings)
        return 1.0 - len(np.unique(ids[acts > 0])) / 200

    without, with_auxk = dead_share(0.0), dead_share(AUX_COEF)
    assert without > 0.08
    assert with_auxk < 0.04
