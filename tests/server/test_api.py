"""The HTTP API in-process (httpx ASGI client) over a real 150-row workspace."""

from __future__ import annotations

import base64
import csv
import io
import json
import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from server_fakes import FakeLLM

import amplio
from amplio.server import create_app


def wait_job(client: TestClient, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_info_counts_the_rows(client: TestClient) -> None:
    info = client.get("/api/info").json()
    assert info["rows"] == info["original"] == 150
    assert sum(info["labels"].values()) == 150
    assert set(info["export_formats"]) >= {"csv", "jsonl", "parquet"}
    assert info["token_required"] is False


def test_points_are_columnar_and_match_rows(client: TestClient, ws: amplio.Workspace) -> None:
    pts = client.get("/api/points").json()
    frame = ws.rows()
    assert pts["encoding"] == {"ids": "int32", "x": "float32", "y": "float32", "cluster": "int16",
                               "text_length": "int32", "label": "uint8", "method": "uint8", "origin": "uint8",
                               "status": "uint8"}
    cols = {name: np.frombuffer(base64.b64decode(data), dtype=np.dtype(pts["encoding"][name]).newbyteorder("<"))
            for name, data in pts["columns"].items()}
    assert pts["count"] == len(cols["ids"]) == len(cols["x"]) == len(cols["label"]) == 150
    assert cols["ids"].tolist() == frame["id"].tolist()
    assert cols["x"][7] == pytest.approx(float(frame["x"].iloc[7]), abs=1e-4)
    assert cols["text_length"][7] == len(frame["text"].iloc[7])
    names = pts["categories"]["label"]
    assert [names[c] for c in cols["label"][:20]] == frame["label"].head(20).tolist()
    assert pts["categories"]["status"] == ["accepted"] and set(cols["status"].tolist()) == {0}


def test_row_and_missing_row_envelope(client: TestClient) -> None:
    row = client.get("/api/rows/3").json()
    assert row["id"] == 3 and row["origin"] == "original" and row["text"]
    missing = client.get("/api/rows/99999")
    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error": "no row with id 99999", "status": 404}


def test_validation_errors_use_the_envelope(client: TestClient) -> None:
    bad = client.post("/api/rows/status", json={"ids": [], "status": "accepted"})
    assert bad.status_code == 422
    body = bad.json()
    assert body["ok"] is False and body["status"] == 422 and "ids" in body["error"]
    wrong = client.get("/api/search", params={"q": "x", "mode": "regex"})
    assert wrong.status_code == 422 and wrong.json()["ok"] is False
    assert client.get("/api/nothing-here").json() == {"ok": False, "error": "no API route /api/nothing-here",
                                                      "status": 404}
    assert client.get("/api/export", params={"format": "xls"}).json()["status"] == 400


def test_substring_search_is_literal_and_case_insensitive(client: TestClient, ws: amplio.Workspace) -> None:
    hits = client.get("/api/search", params={"q": "LONDON"}).json()["hits"]
    expected = [int(i) for i, t in zip(ws.rows()["id"], ws.rows()["text"], strict=True) if "london" in t.lower()]
    assert [h["id"] for h in hits] == expected[:50] and expected
    # SQL/LIKE metacharacters are data, not syntax
    assert client.get("/api/search", params={"q": "%' OR 1=1 --"}).json()["hits"] == []


def test_semantic_search_ranks_the_row_itself_first(client: TestClient, ws: amplio.Workspace) -> None:
    text = ws.row(42)["text"]
    hits = client.get("/api/search", params={"q": text, "mode": "semantic", "k": 5}).json()["hits"]
    assert hits[0]["id"] == 42 and hits[0]["score"] > 0.99
    assert hits[0]["score"] >= hits[-1]["score"]


def test_clusters_have_labels_and_centres(client: TestClient) -> None:
    found = client.get("/api/clusters").json()
    assert found and all(c["label"] and c["size"] > 0 for c in found)
    assert sum(c["size"] for c in found) == 150


def test_review_edit_add_undo_history(client: TestClient) -> None:
    added = client.post("/api/rows", json={"text": "  a new prompt typed by hand  ", "label": "fraud"}).json()
    assert added["text"] == "a new prompt typed by hand" and added["origin"] == "manual"
    rid = added["id"]
    assert client.post("/api/rows/status", json={"ids": [rid], "status": "rejected"}).json()["ok"]
    assert client.get(f"/api/rows/{rid}").json()["status"] == "rejected"
    edited = client.post(f"/api/rows/{rid}/edit", json={"text": "an edited prompt"}).json()
    assert edited["text"] == "an edited prompt"
    actions = [h["action"] for h in client.get("/api/history").json()]
    assert actions[:3] == ["edit", "status", "add"]
    assert client.post("/api/undo").json()["undone"]["action"] == "edit"
    assert client.get(f"/api/rows/{rid}").json()["text"] == "a new prompt typed by hand"
    assert client.post(f"/api/rows/{rid}/edit", json={"text": "   "}).json()["status"] == 400


def test_export_csv_download(client: TestClient) -> None:
    client.post("/api/rows", json={"text": "exported manual row"})
    resp = client.get("/api/export", params={"format": "csv", "status": "accepted"})
    assert resp.status_code == 200
    assert "attachment" in resp.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert len(rows) == 151 and rows[-1]["text"] == "exported manual row"
    jsonl = client.get("/api/export", params={"format": "jsonl", "status": "all"}).text.splitlines()
    assert len(jsonl) == 151 and json.loads(jsonl[0])["text"]


def test_llm_augment_job_with_progress_events(client: TestClient, ws: amplio.Workspace) -> None:
    fake = FakeLLM()
    ws.use_llm(fake)
    start = client.post("/api/augment", json={"method": "llm", "row_id": 5, "instruction": "make it a question",
                                              "n": 2, "seed": 7})
    job_id = start.json()["job_id"]
    with client.stream("GET", f"/api/jobs/{job_id}/events") as events:
        payloads = [json.loads(line[5:]) for line in events.iter_lines() if line.startswith("data:")]
    assert payloads[-1]["state"] == "done"
    assert any(p["stage"] == "generate" for p in payloads)
    result = payloads[-1]["result"]
    assert set(result) == {"candidates", "held_back", "note", "suggestions"}
    made = result["candidates"]
    assert len(made) == 2 and fake.calls >= 1
    assert all(c["method"] == "llm" and c["parents"] == [5] and c["status"] == "candidate" for c in made)
    assert all("day " in c["text"] for c in made)  # the fake wrote them
    again = client.post("/api/augment", json={"method": "llm", "row_id": 5, "instruction": "make it a question",
                                              "n": 2, "seed": 8}).json()["job_id"]
    other = wait_job(client, again)["result"]["candidates"]
    assert {c["text"] for c in other}.isdisjoint(c["text"] for c in made)  # the seed reached the model
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "done" and job["result"]["candidates"] == made
    listed = client.get("/api/rows", params={"status": "candidate"}).json()
    assert {c["id"] for c in made} <= {r["id"] for r in listed}
    ideas = client.get("/api/rows/5/ideas", params={"n": 2}).json()["ideas"]
    assert ideas and all("question" in i for i in ideas)


def test_failed_job_reports_the_domain_error(client: TestClient, ws: amplio.Workspace) -> None:
    ws.use_llm(FakeLLM())
    job_id = client.post("/api/augment", json={"method": "llm", "row_id": 99999, "instruction": "x"}).json()["job_id"]
    job = wait_job(client, job_id)
    assert job["state"] == "failed" and job["status"] == 404 and "99999" in job["error"]
    bad = client.post("/api/augment", json={"method": "interpolate", "row_id": 1})
    assert bad.status_code == 400 and bad.json()["error"] == "give exactly one end: another row or a map point"
    assert bad.json()["field"] == "to_row"  # the library names the field; the server passes it on
    blank = client.post("/api/augment", json={"method": "llm", "row_id": 1, "instruction": "  "})
    assert blank.status_code == 400 and blank.json()["field"] == "instruction"
    assert client.get("/api/jobs/nope").json()["status"] == 404


def test_concepts_routes(client: TestClient) -> None:
    found = client.get("/api/rows/3/concepts").json()
    assert found
    top = found.get("top") or found.get("concepts")
    assert top, found.keys()
    results = client.get("/api/concepts/search", params={"q": "violence"}).json()
    assert isinstance(results, list) and results


def test_openapi_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("/api/info", "/api/points", "/api/augment", "/api/jobs/{job_id}/events", "/api/export",
                  "/api/rows/{row_id}/concepts", "/api/undo", "/api/history", "/api/search"):
        assert route in paths


def test_token_is_required_when_set(ws: amplio.Workspace) -> None:
    with TestClient(create_app(ws, token="s3cret"), base_url="http://127.0.0.1") as client:
        denied = client.get("/api/info")
        assert denied.status_code == 401 and denied.json()["ok"] is False
        assert client.get("/api/info", headers={"X-Amplio-Token": "wrong"}).status_code == 401
        assert client.get("/api/info", headers={"X-Amplio-Token": "s3cret"}).json()["token_required"] is True
        assert client.get("/api/info", params={"token": "s3cret"}).status_code == 200
