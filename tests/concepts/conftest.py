"""Session fixtures for the concept tests: real AART prompts, the default encoder, one model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amplio.concepts import ConceptModel, train_concepts
from amplio.embedding.base import Encoder
from testdata import AART_CSV

AART = AART_CSV
SAMPLE_ROWS = 800
REFERENCE_ROWS = 200


@pytest.fixture(scope="session")
def aart_all_texts() -> list[str]:
    if not AART.exists():
        pytest.skip(f"AART dataset not found at {AART}")
    return pd.read_csv(AART)["prompt"].astype(str).tolist()


@pytest.fixture(scope="session")
def aart_sample(aart_all_texts: list[str], encoder: Encoder) -> tuple[list[str], np.ndarray]:
    """800 AART prompts (a fixed random draw across all crimes) and their embeddings."""
    picked = np.sort(
        np.random.default_rng(0).choice(len(aart_all_texts), SAMPLE_ROWS, replace=False)
    )
    texts = [aart_all_texts[i] for i in picked]
    return texts, encoder.encode(texts)


@pytest.fixture(scope="session")
def aart_reference(aart_all_texts: list[str], encoder: Encoder) -> np.ndarray:
    """200 other AART prompts' embeddings, as a reference corpus."""
    sample = set(np.random.default_rng(0).choice(len(aart_all_texts), SAMPLE_ROWS, replace=False))
    rest = [i for i in range(len(aart_all_texts)) if i not in sample][:REFERENCE_ROWS]
    return encoder.encode([aart_all_texts[i] for i in rest])


@pytest.fixture(scope="session")
def concept_model(aart_sample: tuple[list[str], np.ndarray]) -> ConceptModel:
    """The model every read-only test shares, trained with the defaults."""
    texts, embeddings = aart_sample
    return train_concepts(embeddings, texts, seed=0)
