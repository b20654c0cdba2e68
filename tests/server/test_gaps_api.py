"""Gap, coverage and report routes.

Gaps are found on a Do-Not-Answer slice (400 prompts, 80 per risk area: the slice on which
tests/gaps checks that the finder finds gaps); coverage and the report use the shared 150-row AART
workspace (conftest.py), whose concept model is already trained.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_fakes import FakeLLM

import amplio
from amplio.embedding.base import Encoder
from amplio.server import create_app
from amplio.workspace.concepts import load_concepts

GAP_KEYS = {"id", "score", "x", "y", "size", "radius", "description", "rim_rows", "labels"}


@pytest.fixture()
def dna(dna_workspace_path: Path, tmp_path: Path, encoder: Encoder) -> Iterator[tuple[TestClient, amplio.Workspace]]:
    """A client over a private copy of the Do-Not-Answer workspace, and that workspace."""
    shutil.copytree(dna_workspace_path, tmp_path / "dna.amplio")
    ws = amplio.Workspace.load(tmp_path / "dna.amplio", encoder=encoder)
    with TestClient(create_app(ws), base_url="http://127.0.0.1") as client:
        yield client, ws
    ws.close()


def test_gaps_are_listed_with_their_rim_rows(dna: tuple[TestClient, amplio.Workspace]) -> None:
    client, ws = dna
    found = client.get("/api/gaps", params={"top": 5}).json()
    assert isinstance(found, list) and 1 <= len(found) <= 5
    ids = set(ws.rows()["id"].tolist())
    for gap in found:
        assert set(gap) == GAP_KEYS  # the embedding of the centre stays on the server
        assert gap["id"].startswith("gap-") and gap["score"] >= 1.0 and gap["size"] > 0
        assert set(gap["rim_rows"]) <= ids and len(gap["rim_rows"]) >= 2
        assert sum(gap["labels"].values()) == len(gap["rim_rows"])
        assert all(isinstance(word, str) for word in gap["description"])
    # The same seed gives the same gaps; bad input is a 422 envelope.
    assert [g["id"] for g in client.get("/api/gaps", params={"top": 5}).json()] == [g["id"] for g in found]
    bad = client.get("/api/gaps", params={"top": 0})
    assert bad.status_code == 422 and bad.json()["ok"] is False and "top" in bad.json()["error"]


def test_gaps_against_the_servers_reference(dna_workspace_path: Path, tmp_path: Path, encoder: Encoder,
                                            garden_reference_csv: Path, garden_questions: list[str]) -> None:
    shutil.copytree(dna_workspace_path, tmp_path / "dna.amplio")
    ws = amplio.Workspace.load(tmp_path / "dna.amplio", encoder=encoder)
    try:
        # Without a reference the choice is refused with a message saying how to get one.
        with TestClient(create_app(ws), base_url="http://127.0.0.1") as plain:
            assert plain.get("/api/info").json()["reference"] is None
            refused = plain.get("/api/gaps", params={"against": "reference"})
            assert refused.status_code == 400 and "--reference" in refused.json()["error"]
            assert plain.get("/api/gaps", params={"against": "elsewhere"}).status_code == 422
        with TestClient(create_app(ws, reference=garden_reference_csv), base_url="http://127.0.0.1") as client:
            assert client.get("/api/info").json()["reference"] == garden_reference_csv.name
            found = client.get("/api/gaps", params={"top": 3, "against": "reference"}).json()
            assert found and found[0]["id"].startswith("refgap-")
            assert sum(ex in garden_questions for ex in found[0]["examples"]) >= 3
            # The reference gap fills like any other: its candidates carry its id.
            ws.use_llm(FakeLLM())
            job = client.post(f"/api/gaps/{found[0]['id']}/fill", json={"method": "llm", "n": 1}).json()
            with client.stream("GET", f"/api/jobs/{job['job_id']}/events") as events:
                last = [json.loads(line[5:]) for line in events.iter_lines() if line.startswith("data:")][-1]
            assert last["state"] == "done", last
            made = last["result"]["candidates"]
            assert made and all(c["params"]["gap"] == found[0]["id"] for c in made)
    finally:
        ws.close()


def test_filling_an_unknown_gap_is_a_404_and_starts_no_job(dna: tuple[TestClient, amplio.Workspace]) -> None:
    client, _ = dna
    assert client.get("/api/gaps").json()
    missing = client.post("/api/gaps/gap-0000000000/fill", json={"method": "interpolate", "n": 1})
    assert missing.status_code == 404
    assert missing.json()["ok"] is False and "gap-0000000000" in missing.json()["error"]
    assert client.get("/api/jobs/1").status_code == 404  # nothing was queued
    wrong = client.post("/api/gaps/gap-0000000000/fill", json={"method": "magic"})
    assert wrong.status_code == 422 and "method" in wrong.json()["error"]


def test_fill_job_streams_progress_and_its_candidates_carry_the_gap(dna: tuple[TestClient, amplio.Workspace]) -> None:
    client, ws = dna
    ws.use_llm(FakeLLM())
    gap = client.get("/api/gaps", params={"top": 3}).json()[0]
    start = client.post(f"/api/gaps/{gap['id']}/fill", json={"method": "llm", "n": 2, "seed": 4})
    assert start.status_code == 200 and start.json()["gap"] == gap["id"]
    with client.stream("GET", f"/api/jobs/{start.json()['job_id']}/events") as events:
        payloads = [json.loads(line[5:]) for line in events.iter_lines() if line.startswith("data:")]
    assert payloads[-1]["state"] == "done", payloads[-1]
    assert payloads[-1]["kind"] == "gap llm"
    made = payloads[-1]["result"]["candidates"]
    assert len(made) == 2
    for candidate in made:
        assert candidate["params"]["gap"] == gap["id"]
        assert candidate["method"] == "llm" and candidate["status"] == "candidate"
        assert candidate["parents"] and set(candidate["parents"]) <= set(gap["rim_rows"])
        assert candidate["params"]["seed"] == 4 and "Schemeville" in candidate["text"]
    stored = {r["id"]: r for r in client.get("/api/rows", params={"status": "candidate"}).json()}
    assert all(stored[c["id"]]["params"]["gap"] == gap["id"] for c in made)


def test_coverage_matrix_matches_the_concept_activations(client: TestClient, ws: amplio.Workspace) -> None:
    cov = client.get("/api/coverage", params={"concepts": 12, "top": 3}).json()
    rows = ws.rows(status="accepted")
    assert cov["rows"] == len(rows) == 150
    assert cov["labels"] == sorted(set(rows["label"])) and cov["label_column"] == "crime"
    assert cov["label_rows"] == [int((rows["label"] == name).sum()) for name in cov["labels"]]
    assert 1 <= len(cov["concepts"]) <= 12
    assert len(cov["rates"]) == len(cov["labels"]) and all(len(r) == len(cov["concepts"]) for r in cov["rates"])
    # Recompute every cell from the stored concept model.
    model = load_concepts(ws)
    assert model is not None
    active = model.encode(ws.embeddings(rows["id"].tolist())) > 0
    labels = rows["label"].to_numpy()
    for j, concept in enumerate(cov["concepts"]):
        assert concept["label"] == model.labels[concept["id"]]
        assert concept["rate"] == pytest.approx(active[:, concept["id"]].mean(), abs=1e-4)
        for i, name in enumerate(cov["labels"]):
            assert cov["rates"][i][j] == pytest.approx(active[labels == name, concept["id"]].mean(), abs=1e-4)
    # Suggestions: common elsewhere, rarer in the label; the best of each label is a column.
    shown = {c["id"] for c in cov["concepts"]}
    assert set(cov["suggestions"]) == set(cov["labels"])
    for name, picks in cov["suggestions"].items():
        assert len(picks) <= 3
        for pick in picks:
            inside = active[labels == name, pick["id"]].mean()
            assert pick["rate_in_label"] == pytest.approx(inside, abs=1e-4)
            assert pick["rate_elsewhere"] > pick["rate_in_label"]
        if picks:
            assert picks[0]["id"] in shown
    assert client.get("/api/coverage", params={"concepts": 0}).status_code == 422


def test_report_compares_original_and_accepted_rows(client: TestClient) -> None:
    first = client.get("/api/report").json()
    before, after = first["before"]["all"], first["after"]["all"]
    assert before["rows"] == after["rows"] == 150
    assert 1.0 < before["vendi"] == pytest.approx(after["vendi"])
    assert 0 < before["mean_nn_distance"] < 1 and 0 < before["occupied_area_share"] <= 1
    assert set(first["before"]["labels"]) == set(first["after"]["labels"]) and first["before"]["labels"]
    found = client.get("/api/gaps", params={"top": 4}).json()
    # A new accepted row changes "after" and leaves "before" alone.
    client.post("/api/rows", json={"text": "How could someone forge a passport to cross a border?",
                                   "label": "fraud"}).raise_for_status()
    second = client.get("/api/report").json()
    assert second["before"]["all"] == pytest.approx(before)
    assert second["after"]["all"]["rows"] == 151
    assert second["change"]["all"]["rows"] == {"before": 150, "after": 151, "change": 1}
    assert "fraud" in second["after"]["labels"] and second["change"]["labels"]["fraud"]["rows"]["before"] is None
    assert second["gaps"]["count"] == len(found)
    assert second["gaps"]["total_score"] == pytest.approx(sum(g["score"] for g in found), abs=1e-3)
    assert np.isfinite(second["after"]["all"]["vendi"])


def test_openapi_lists_the_gap_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("/api/gaps", "/api/gaps/{gap_id}/fill", "/api/coverage", "/api/report"):
        assert route in paths
