"""A small real workspace (150 AART rows, the packaged encoder) shared by the server tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import amplio
from amplio.embedding.base import Encoder
from amplio.server import create_app
from testdata import AART_CSV

ROWS = 150


@pytest.fixture(scope="session")
def built_workspace(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Path:
    """Build once: 150 AART prompts embedded and mapped; tests copy the folder."""
    folder = tmp_path_factory.mktemp("server-ws")
    frame = pd.read_csv(AART_CSV).head(ROWS)
    csv = folder / "aart150.csv"
    frame.to_csv(csv, index=False)
    with amplio.open(csv, text_col="prompt", label_col="crime", workspace=folder / "ws.amplio") as ws:
        ws.train_concepts(seed=0)  # once here, so each copy has the concept model already
        return Path(ws.path)


@pytest.fixture()
def ws(built_workspace: Path, tmp_path: Path, encoder: Encoder) -> Iterator[amplio.Workspace]:
    """A private copy of the workspace, so tests that write do not see each other's rows."""
    target = tmp_path / "ws.amplio"
    shutil.copytree(built_workspace, target)
    workspace = amplio.Workspace.load(target, encoder=encoder)
    yield workspace
    workspace.close()


@pytest.fixture()
def client(ws: amplio.Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(ws), base_url="http://127.0.0.1") as test_client:
        yield test_client
