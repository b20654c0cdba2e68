"""Reads answer while a job generates: the job lends out the workspace lock around the model."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from server_fakes import FakeLLM

import amplio
from amplio.llm.base import GenerationParams


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
