"""The real default encoder for the quality checks."""

from __future__ import annotations

import pytest

from amplio.embedding.base import Encoder, create_encoder


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return create_encoder("sentence-transformers", "all-MiniLM-L6-v2")
