"""Reads answer while a job generates: the job lends out the workspace lock around the model."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi.testclient import TestClient
from server_fakes import FakeLLM

import amplio
from amplio.embedding.base import Encoder
from amplio.llm.base import GenerationParams
from amplio.server import create_app
from testdata import AART_CSV


class GatedLLM(FakeLLM):
    """FakeLLM that stops inside its first ``complete`` until the test opens the gate."""

    name = "fake:gated"

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def complete(self, prompt: str, params: GenerationParams) -> list[str]:
        self.entered.set()
        assert self.gate.wait(120), "the test never opened the gate"
        return super().complete(prompt, params)


def _in_thread(call: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def test_reads_and_writes_answer_while_a_job_is_generating(client: TestClient, ws: amplio.Workspace) -> None:
    llm = GatedLLM()
    ws.use_llm(llm)
    job_id = client.post("/api/augment", json={"method": "llm", "row_id": 5, "instruction": "make it a question",
                                               "n": 2}).json()["job_id"]
    try:
        assert llm.entered.wait(120), "the job never reached the model"
        # The job is now inside the model call. Before the lock was lent out, every route below
        # waited for the whole job; run each in a thread so a regression fails instead of hanging.
        calls = {
            "search": lambda: client.get("/api/search", params={"q": "crime"}),
            "row": lambda: client.get("/api/rows/5"),
            "add": lambda: client.post("/api/rows", json={"text": "A row added while the job runs"}),
        }
        for name, call in calls.items():
            thread, out = _in_thread(call)
            thread.join(60)
            assert not thread.is_alive(), f"{name} waited for the running job"
            assert out[0].status_code == 200, (name, out[0].text)
        assert client.get(f"/api/jobs/{job_id}").json()["state"] == "running"
    finally:
        llm.gate.set()
    with client.stream("GET", f"/api/jobs/{job_id}/events") as events:
        last = [line for line in events.iter_lines() if line.startswith("data:")][-1]
    assert '"state":"done"' in last.replace(" ", "")
    # The job stored its candidates after the row added meanwhile, each exactly once.
    added = ws.search("A row added while the job runs")
    assert len(added) == 1
    candidates = ws.rows(status="candidate")
    assert len(candidates) == 2 and candidates["id"].is_unique
    assert (candidates["id"] > added[0]["id"]).all()


class _Stop(Exception):
    """Ends the gated reference embedding once the test has seen what it needed."""


class GatedEncoder:
    """Wraps the real encoder; a call with many texts (the reference set, not a search query)
    waits for the gate and then stops the request."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.entered = threading.Event()
        self.gate = threading.Event()

    def encode(self, texts: list[str], **options: Any) -> Any:
        if len(texts) > 100:
            self.entered.set()
            assert self.gate.wait(120), "the test never opened the gate"
            raise _Stop
        return self.inner.encode(texts, **options)


def test_reads_answer_while_the_first_concept_view_embeds_the_reference(
        tmp_path: Path, encoder: Encoder) -> None:
    # The UI's first row view trains concepts, which first embeds the bundled reference set (a
    # minute on a laptop); the search box froze for that minute while it held the lock. A fresh
    # workspace: the shared one has its concepts and the reference's vectors stored already.
    csv = tmp_path / "rows.csv"
    pd.read_csv(AART_CSV).head(40).to_csv(csv, index=False)
    ws = amplio.open(csv, text_col="prompt", label_col="crime", workspace=tmp_path / "ws.amplio",
                     encoder=encoder)
    with ws, TestClient(create_app(ws), base_url="http://127.0.0.1") as client:
        _reads_answer_while_reference_embeds(client, ws)


def _reads_answer_while_reference_embeds(client: TestClient, ws: amplio.Workspace) -> None:
    gated = GatedEncoder(ws.encoder)
    ws._encoder = gated
    thread, out = _in_thread(lambda: _caught(lambda: client.get("/api/rows/5/concepts")))
    try:
        assert gated.entered.wait(120), "the concept view never started embedding the reference"
        for name, call in {"search": lambda: client.get("/api/search", params={"q": "crime"}),
                           "row": lambda: client.get("/api/rows/5")}.items():
            reader, answer = _in_thread(call)
            reader.join(60)
            assert not reader.is_alive(), f"{name} waited for the reference to embed"
            assert answer[0].status_code == 200, (name, answer[0].text)
    finally:
        gated.gate.set()
    thread.join(60)
    assert isinstance(out[0], _Stop)
    # The lock came back after the failure: the workspace still answers.
    assert client.get("/api/rows/5").status_code == 200


def _caught(call: Any) -> Any:
    try:
        return call()
    except _Stop as stop:
        return stop
