"""Shared fixtures: the real default encoder, a small AART slice and a workspace built from it.

Every test folder may use these. ``small_workspace_path`` is built once per session; a test
that writes to a workspace must copy it first::

    folder = tmp_path / "ws.amplio"
    shutil.copytree(small_workspace_path, folder)
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray

from amplio.embedding.base import Encoder
from amplio.llm.base import LLM
from testdata import AART_CSV, DATASETS, DNA_CSV, SLICE_ROWS, aart_slice  # noqa: F401  (re-exported for the test folders)


class CountingEncoder:
    """Wraps a real encoder and records every text it is asked to embed.

    Inject it with ``encoder=`` to check which texts the workspace (re-)embeds.
    """

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.calls: list[list[str]] = []

    @property
    def texts(self) -> list[str]:
        return [t for call in self.calls for t in call]

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        self.calls.append(list(texts))
        return self.inner.encode(texts, batch_size=batch_size)


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The default offline encoder (all-MiniLM-L6-v2), loaded once per session."""
    from amplio.embedding.registry import create_encoder

    return create_encoder("sentence-transformers", "all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def local_llm() -> LLM:
    """The packaged Gemma 3 270M through llama.cpp, loaded once per run."""
    from amplio.llm.local import LocalLLM

    return LocalLLM(n_threads=2)


@pytest.fixture(scope="session")
def aart_slice_frame() -> pd.DataFrame:
    """The rows of ``aart_slice_csv`` as a DataFrame (all AART columns, strings)."""
    return aart_slice()


@pytest.fixture(scope="session")
def aart_slice_csv(tmp_path_factory: pytest.TempPathFactory, aart_slice_frame: pd.DataFrame) -> Path:
    """A CSV of 300 distinct AART rows (columns as in the source; text ``prompt``, label ``crime``)."""
    path = tmp_path_factory.mktemp("aart") / "aart_slice.csv"
    aart_slice_frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def small_workspace_path(tmp_path_factory: pytest.TempPathFactory, aart_slice_csv: Path,
                         encoder: Encoder) -> Path:
    """A workspace built once from ``aart_slice_csv`` (text ``prompt``, label ``crime``).

    Read-only for tests: copy it (``shutil.copytree``) into ``tmp_path`` before changing it.
    """
    import amplio

    folder = tmp_path_factory.mktemp("ws") / "aart_slice.amplio"
    ws = amplio.open(aart_slice_csv, text_col="prompt", label_col="crime", workspace=folder,
                     encoder=encoder)
    ws.train_concepts(seed=0)  # once, with the bundled reference: every copy has the model
    ws.close()
    return folder


@pytest.fixture(scope="session")
def dna_workspace_path(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Path:
    """A workspace over 400 Do-Not-Answer prompts (80 per risk area; label ``risk_area``).

    The AART slice above is too small and uniform for the gap finder to find anything; this
    slice has gaps (tests/gaps checks that). Read-only for tests, like ``small_workspace_path``.
    """
    import amplio

    folder = tmp_path_factory.mktemp("dna")
    frame = pd.read_csv(DNA_CSV)
    frame = frame.groupby("risk_area").sample(n=80, random_state=0).reset_index(drop=True)
    frame[["prompt", "risk_area"]].to_csv(folder / "dna.csv", index=False)
    with amplio.open(folder / "dna.csv", text_col="prompt", label_col="risk_area",
                     workspace=folder / "dna.amplio", encoder=encoder) as ws:
        ws.train_concepts(seed=0)
        return Path(ws.path)


@pytest.fixture
def counting_encoder(encoder: Encoder) -> CountingEncoder:
    """A fresh ``CountingEncoder`` around the session encoder (``.texts`` lists what it embedded)."""
    return CountingEncoder(encoder)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """A function returning a loopback port nothing listens on (for servers the tests start)."""
    return _free_port


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
def garden_questions() -> list[str]:
    """Twelve gardening questions: a topic none of the red-teaming sets holds."""
    return list(GARDEN)


@pytest.fixture(scope="session")
def garden_reference_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reference file: 12 Do-Not-Answer prompts per risk area that are not in the DNA
    workspace, plus 12 gardening questions (a topic the workspace lacks). Text column
    ``question``; an ``id`` column too, so the text column must be detected."""
    frame = pd.read_csv(DNA_CSV)
    used = frame.groupby("risk_area").sample(n=80, random_state=0)  # the dna workspace's rows
    others = frame.drop(used.index).groupby("risk_area").sample(n=12, random_state=2)
    texts = others["prompt"].astype(str).tolist() + GARDEN
    path = tmp_path_factory.mktemp("reference") / "reference.csv"
    pd.DataFrame({"id": range(len(texts)), "question": texts}).to_csv(path, index=False)
    return path
