"""Shared fixtures for decoder tests: the real default encoder, LLM and an AART slice."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amplio.embedding.base import Encoder, create_encoder
from amplio.llm.base import LLM

DATASETS = Path(os.environ.get("AMPLIO_DATASETS", "/work/shared/datasets"))


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return create_encoder("sentence-transformers", "all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def llm() -> LLM:
    from amplio.llm.local import LocalLLM

    return LocalLLM(n_threads=2)


@pytest.fixture(scope="session")
def aart(encoder: Encoder) -> tuple[list[str], np.ndarray]:
    """300 unique AART prompts (a fixed sample) and their embeddings."""
    texts = pd.read_csv(DATASETS / "aart_v1_20231117.csv")["prompt"].dropna().astype(str)
    unique = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    rng = np.random.default_rng(7)
    picked = [unique[i] for i in sorted(rng.choice(len(unique), size=300, replace=False))]
    return picked, encoder.encode(picked)
