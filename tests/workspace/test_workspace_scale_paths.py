"""The paths a large workspace takes, exercised on a small one with their limits lowered."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from amplio.workspace import concepts as workspace_concepts
from amplio.workspace import gaps as workspace_gaps
from amplio.workspace.workspace import Workspace


def test_concepts_train_on_a_sample_and_coverage_counts_every_row_in_chunks(
        small_workspace_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ws.amplio"
    shutil.copytree(small_workspace_path, folder)
    ws = Workspace.load(folder)
    before = ws.coverage()
    monkeypatch.setattr(workspace_concepts, "TRAIN_SAMPLE", 40)
    monkeypatch.setattr(workspace_gaps, "COVERAGE_CHUNK", 17)
    ws.train_concepts(seed=0)
    model = workspace_concepts.load_concepts(ws)
    assert model is not None
    original = set(ws.rows(origin="original")["id"].tolist())
    ids = workspace_concepts.row_id_map(ws)
    # Top rows and frequencies describe a seeded sample of 40 original rows ...
    assert len(ids) == 40 and set(ids.tolist()) <= original and np.all(np.diff(ids) > 0)
    assert all(0 <= i < 40 for c in range(len(model.labels)) for i in model.top_rows(c, 5))
    # ... while coverage still counts every accepted row, 17 at a time.
    after = ws.coverage()
    accepted = len(ws.rows(status="accepted"))
    assert after["rows"] == before["rows"] == accepted and accepted > 40
    assert sum(after["label_rows"]) == sum(before["label_rows"])
    ws.close()
