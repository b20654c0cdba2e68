"""Real embeddings of a small Do-Not-Answer slice, encoded once per test session."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amplio.embedding.base import Encoder
from testdata import DNA_CSV


@pytest.fixture(scope="session")
def dna_slice(encoder: Encoder) -> dict:
    """400 Do-Not-Answer prompts (80 per risk area) with their default-encoder embeddings."""
    frame = pd.read_csv(DNA_CSV)
    frame = frame.groupby("risk_area").sample(n=80, random_state=0).reset_index(drop=True)
    texts = frame["prompt"].astype(str).tolist()
    x = encoder.encode(texts, batch_size=64)
    rng = np.random.default_rng(0)
    return {"x": x, "texts": texts, "labels": frame["risk_area"].astype(str).tolist(),
            "xy": rng.normal(size=(len(texts), 2)).astype(np.float32), "encoder": encoder}
