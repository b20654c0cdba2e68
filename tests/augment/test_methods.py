"""The three augmentation methods end to end, with the packaged encoder and LLM."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import amplio
from amplio.augment.interpolation import embedding_at_point, interpolation_targets
from amplio.cli import commands  # noqa: F401  (registers the commands)
from amplio.cli.main import cli
from amplio.concepts.workspace import ensure_concepts
from amplio.errors import InputError, NotFoundError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ws(small_workspace_path: Path, tmp_path_factory: pytest.TempPathFactory, encoder):
    folder = tmp_path_factory.mktemp("augment") / "ws.amplio"
    shutil.copytree(small_workspace_path, folder)
    workspace = amplio.Workspace.load(folder, encoder=encoder)
    yield workspace
    workspace.close()


def test_interpolation_targets_are_normalised_and_evenly_spaced() -> None:
    a = np.array([1.0, 0.0], dtype=np.float32)
    b = np.array([0.0, 1.0], dtype=np.float32)
    alphas, targets = interpolation_targets(a, b, 3)
    assert alphas == [0.25, 0.5, 0.75]
    assert np.allclose(np.linalg.norm(targets, axis=1), 1.0)
    assert np.all(np.diff(targets @ b) > 0)  # each step is closer to b


def test_map_point_becomes_mean_of_nearest_rows() -> None:
    xy = np.array([[0, 0], [10, 10], [0.1, 0]], dtype=np.float32)
    emb = np.eye(3, dtype=np.float32)
    vector, near = embedding_at_point(xy, emb, (0.05, 0.0), k=2)
    assert set(near.tolist()) == {0, 2}
    assert vector[1] == 0 and vector[0] > 0.6 and vector[2] > 0.6


def test_positive_concept_weight_raises_that_concept_in_the_decoded_text(ws) -> None:
    model = ensure_concepts(ws)
    raised = []
    for row_id in (3, 40, 77, 150):
        embedding = ws.embeddings([row_id])[0]
        # the row's weakest active concept: present, with room to grow
        cid = model.top_concepts(embedding, k=model.k)[-1][0]
        (cand,) = ws.augment_concepts(row_id, {cid: 1.0}, n=1, seed=1)
        after = model.encode(ws.embeddings([cand["id"]]))[0, cid]
        before = model.encode(embedding[None, :])[0, cid]
        raised.append(after - before)
        assert cand["method"] == "concepts" and cand["parents"] == [row_id]
        assert cand["params"]["concepts"] == {str(cid): 1.0}
        assert 0 < cand["fidelity"] <= 1
    assert np.mean(raised) > 0


def test_interpolation_moves_towards_b(ws) -> None:
    slopes = []
    for a, b in ((5, 120), (60, 200)):
        made = ws.augment_interpolate(a, to_row=b, n=3, seed=0)
        alphas = [c["params"]["alpha"] for c in made]
        # a step whose every decoding copies a row is dropped, never stored as a copy
        assert alphas == sorted(alphas) and set(alphas) <= {0.25, 0.5, 0.75} and len(made) >= 2
        assert all(c["parents"] == [a, b] for c in made)
        b_vec = ws.embeddings([b])[0]
        sims = ws.embeddings([c["id"] for c in made]) @ b_vec
        slopes.append(np.polyfit(alphas, sims, 1)[0])
    assert np.mean(slopes) > 0


def test_llm_variations_are_stored_as_candidates_with_provenance(ws) -> None:
    made = ws.augment_llm([10], "rewrite it as a question from a journalist", n=2, seed=3)
    assert 1 <= len(made) <= 2
    row = ws.row(made[0]["id"])
    assert row["status"] == "candidate" and row["origin"] == "augmented" and row["method"] == "llm"
    assert row["models"]["llm"].startswith("local:") and row["params"]["instruction"].startswith("rewrite")
    assert made[0]["novelty"] is not None and made[0]["novelty"] >= 0


def test_bad_requests_are_input_errors(ws) -> None:
    with pytest.raises(InputError):
        ws.augment_concepts(1, {}, n=1)
    with pytest.raises(InputError):
        ws.augment_interpolate(1, to_row=1, n=1)
    with pytest.raises(InputError):
        ws.augment_llm([1], "x", n=11)
    with pytest.raises(NotFoundError):
        ws.augment_interpolate(1, to_row=10**9, n=1)


def test_cli_augment_prints_candidates_as_json(ws) -> None:
    # The CLI runs in this process; DuckDB shares one database between both connections.
    result = CliRunner().invoke(cli, ["augment", str(ws.path), "--method", "interpolate", "--row", "2",
                                      "--to", "9", "-n", "2", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert 1 <= len(items) <= 2
    assert set(items[0]) >= {"id", "text", "method", "parents", "fidelity", "novelty",
                             "duplicate_of", "x", "y"}
    assert ws.row(items[0]["id"])["method"] == "interpolate"
    bad = CliRunner().invoke(cli, ["augment", str(ws.path), "--method", "concepts", "--row", "2",
                                   "--concept", "nonsense"])
    assert bad.exit_code == 2 and "ID:WEIGHT" in bad.stderr
