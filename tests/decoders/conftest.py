"""Shared fixture for decoder tests: a fixed AART sample and its embeddings (the encoder and
the LLM are the root fixtures)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amplio.embedding.base import Encoder
from testdata import AART_CSV


@pytest.fixture(scope="session")
def aart(encoder: Encoder) -> tuple[list[str], np.ndarray]:
    """300 unique AART prompts (a fixed sample) and their embeddings."""
    texts = pd.read_csv(AART_CSV)["prompt"].dropna().astype(str)
    unique = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    rng = np.random.default_rng(7)
    picked = [unique[i] for i in sorted(rng.choice(len(unique), size=300, replace=False))]
    return picked, encoder.encode(picked)
