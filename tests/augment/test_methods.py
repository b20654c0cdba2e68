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
from amplio.errors import InputError, NotFoundError
from amplio.workspace.concepts import ensure_concepts

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


def test_every_shown_concept_candidate_raises_its_concept(ws) -> None:
    model = ensure_concepts(ws)
    shown = 0
    for row_id in (3, 40, 77, 150):
        suggested = ws.concepts_for_row(row_id)["suggested"]
        assert suggested and all(0 < s["share"] <= 1 for s in suggested)
        cid = suggested[0]["id"]
        before = model.encode(ws.embeddings([row_id]))[0, cid]
        result = ws.augment_concepts(row_id, {cid: 0.8}, n=2, seed=1)
        assert len(result) <= 2 and (len(result) == 2 or result.note)
        for cand in result:
            after = model.encode(ws.embeddings([cand["id"]]))[0, cid]
            assert after > before  # by construction: the gate holds back the others
            assert cand["method"] == "concepts" and cand["parents"] == [row_id]
            assert cand["params"]["concepts"] == {str(cid): 0.8}
            assert cand["params"]["concept_activation"][str(cid)][1] == pytest.approx(after, abs=1e-3)
            assert cand["flags"] == [] and 0 < cand["fidelity"] <= 1
        for held in result.held_back:
            assert held["reasons"] and len(held["why"]) == len(held["reasons"])
        shown += len(result)
    assert shown >= 3


def test_interpolation_is_ordered_from_start_to_end(ws) -> None:
    shown = 0
    for a, b in ((5, 120), (60, 200)):
        made = ws.augment_interpolate(a, to_row=b, n=3, seed=0)
        positions = [c["params"]["position"] for c in made]
        alphas = [c["params"]["alpha"] for c in made]
        assert positions == sorted(positions) and all(0 < p < 1 for p in positions)
        assert alphas == sorted(alphas) and set(alphas) <= {0.25, 0.5, 0.75}
        assert all(c["parents"] == [a, b] for c in made)
        b_vec, a_vec = ws.embeddings([b])[0], ws.embeddings([a])[0]
        for c in made:  # each sits between the ends, not on one of them
            v = ws.embeddings([c["id"]])[0]
            assert v @ a_vec < 0.97 and v @ b_vec < 0.97
        shown += len(made)
    assert shown >= 2


def test_far_apart_ends_warn_and_suggest_nearer_partners(ws) -> None:
    ids, embs = ws.all_embeddings()
    start = embs[0]
    far = int(ids[int(np.argmin(embs @ start))])
    result = ws.augment_interpolate(int(ids[0]), to_row=far, n=1, seed=0)
    assert result.note and "far apart" in result.note
    assert result.suggestions and all(s["cosine_to_start"] >= 0.5 for s in result.suggestions)
    assert far not in [s["id"] for s in result.suggestions]


def test_llm_variations_are_stored_as_candidates_with_provenance(ws) -> None:
    made = ws.augment_llm([10], "rewrite it as a question from a journalist", n=2, seed=3)
    assert len(made) <= 2 and (len(made) == 2 or made.note)
    for cand in made:
        row = ws.row(cand["id"])
        assert row["status"] == "candidate" and row["origin"] == "augmented" and row["method"] == "llm"
        assert row["models"]["llm"].startswith("local:") and row["params"]["instruction"].startswith("rewrite")
        assert "instruction_gain" in row["params"] and cand["novelty"] >= 0
    data = made.to_dict()
    assert set(data) == {"candidates", "held_back", "note", "suggestions"}


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
    result = CliRunner().invoke(cli, ["augment", str(ws.path), "--method", "llm", "--row", "2",
                                      "--instruction", "set it in a hospital", "-n", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"candidates", "held_back", "note", "suggestions"}
    items = data["candidates"]
    assert len(items) <= 2 and (len(items) == 2 or data["note"])
    for item in items:
        assert set(item) >= {"id", "text", "method", "parents", "fidelity", "novelty",
                             "duplicate_of", "x", "y"}
        assert ws.row(item["id"])["method"] == "llm"
    human = CliRunner().invoke(cli, ["augment", str(ws.path), "--method", "llm", "--row", "2",
                                     "--instruction", "set it in a hospital", "-n", "3", "--seed", "4"])
    assert human.exit_code == 0 and "held back" in human.stdout
    bad = CliRunner().invoke(cli, ["augment", str(ws.path), "--method", "concepts", "--row", "2",
                                   "--concept", "nonsense"])
    assert bad.exit_code == 2 and "ID:WEIGHT" in bad.stderr
