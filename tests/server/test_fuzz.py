"""Schemathesis fuzzes every route of a real server, over HTTP, against its own ``/openapi.json``.

The server is uvicorn on 127.0.0.1 (in a thread of this process, so the fake LLM can be injected:
``amplio serve`` has no way to take one) over a private copy of the 150-row AART workspace. Every
request names the server (``Host``) and comes from its own page (``Origin``), as the UI's do.

Schemathesis runs as ``st run`` would (its engine, from Python): the examples, coverage (boundary
and invalid values of every parameter, and methods a route does not take), fuzzing (positive and
negative) and stateful (chains that feed ids from one answer into the next request) phases.
Bounds: ``AMPLIO_FUZZ_EXAMPLES`` examples per operation and phase (default 6), a budget of
``AMPLIO_FUZZ_SECONDS`` (default 100) after which the run is stopped where it is, and a fixed
``AMPLIO_FUZZ_SEED`` (default 0), so that a failure reproduces. No shrinking.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
import uvicorn
from fastapi.testclient import TestClient
from server_fakes import FakeLLM

import amplio
from amplio.embedding.base import Encoder
from amplio.server import create_app

#: 5xx, and any status, content type or body that ``/openapi.json`` does not document; a method a
#: route does not take must be a 405 that names, in ``Allow``, the ones it does.
CHECKS = ["not_a_server_error", "response_schema_conformance", "status_code_conformance",
          "content_type_conformance", "unsupported_method", "allow_header_conformance"]
EXAMPLES = int(os.environ.get("AMPLIO_FUZZ_EXAMPLES", "6"))
BUDGET_S = float(os.environ.get("AMPLIO_FUZZ_SECONDS", "100"))
SEED = int(os.environ.get("AMPLIO_FUZZ_SEED", "0"))
# What a row's identity and content are; ``updated_at`` moves on every write, undone or not.
KEPT = ["id", "text", "label", "origin", "method", "status", "reviewed_by", "x", "y", "cluster"]


@dataclass
class LiveServer:
    base: str
    headers: dict[str, str]
    ws: amplio.Workspace
    app: Any
    stop: Callable[[], None]


def _serve(app: Any, port: int) -> Callable[[], None]:
    """Start uvicorn for ``app`` on 127.0.0.1:``port`` in a thread; return what stops it."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fuzzed-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fuzzed server did not start")
        time.sleep(0.05)

    def stop() -> None:  # twice is harmless: the test stops it early to reopen the workspace
        server.should_exit = True
        thread.join(timeout=30)

    return stop


def _snapshot(ws: amplio.Workspace) -> pd.DataFrame:
    # Plain objects with None for missing: a column's dtype follows what else it holds (all-null
    # ``method`` is object, beside an added row's method a string column), not the rows compared.
    frame = ws.rows()[KEPT].sort_values("id").reset_index(drop=True).astype(object)
    return frame.where(frame.notna(), None)


@pytest.fixture()
def live(built_workspace: Path, tmp_path: Path, encoder: Encoder, free_port: Callable[[], int]) -> Iterator[LiveServer]:
    target = tmp_path / "ws.amplio"
    shutil.copytree(built_workspace, target)
    ws = amplio.Workspace.load(target, encoder=encoder)
    ws.use_llm(FakeLLM())  # jobs decode through the fake: each takes well under a second
    port = free_port()
    app = create_app(ws, port=port)
    stop = _serve(app, port)
    base = f"http://127.0.0.1:{port}"
    try:
        yield LiveServer(base=base, headers={"Origin": base}, ws=ws, app=app, stop=stop)
    finally:
        stop()
        ws.close()


def _jobs_after(live: LiveServer, timeout: float = 120.0) -> list[dict[str, Any]]:
    """Every job the server still knows, once all have finished.

    Jobs run one at a time in the order they came: one more, once done, means all are.
    """
    with requests.Session() as session:
        session.headers.update(live.headers)
        last = session.post(f"{live.base}/api/augment", json={
            "method": "llm", "row_id": 5, "instruction": "ask it as a question", "n": 1}).json()["job_id"]
        deadline = time.monotonic() + timeout
        while session.get(f"{live.base}/api/jobs/{last}").json()["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline, "the jobs the fuzzer started did not finish"
            time.sleep(0.2)
        answers = [session.get(f"{live.base}/api/jobs/{i}") for i in range(1, int(last) + 1)]
    return [a.json() for a in answers if a.status_code == 200]  # the oldest may be forgotten


def _schemathesis(live: LiveServer) -> tuple[dict[tuple[str, str], str], Counter[str], str]:
    """Run Schemathesis against ``live``: the first failure of each kind per operation (with a
    curl line to reproduce it), the requests sent per operation, and why the run stopped."""
    schemathesis = pytest.importorskip("schemathesis")  # the `test` extra; the other tests here need none
    from schemathesis.engine import events, from_schema

    config = schemathesis.Config.from_dict({
        "seed": SEED, "base-url": live.base, "headers": live.headers, "workers": 1,
        "continue-on-failure": True, "request-timeout": 60, "cache": {"enabled": False},
        "generation": {"mode": "all", "max-examples": EXAMPLES, "no-shrink": True, "database": "none"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "phases": {name: {"enabled": True} for name in ("examples", "coverage", "fuzzing", "stateful")},
    })
    schema = schemathesis.openapi.from_url(f"{live.base}/openapi.json", config=config)
    stream = from_schema(schema).execute()
    watchdog = threading.Timer(BUDGET_S, stream.stop)
    watchdog.start()
    failures: dict[tuple[str, str], str] = {}
    sent: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    stop = "unknown"
    try:
        for event in stream:
            if isinstance(event, events.ScenarioFinished):
                for case_id, node in event.recorder.cases.items():
                    sent[node.value.operation.label] += 1
                    phases[str(event.phase.value)] += 1
                    for check in event.recorder.checks.get(case_id, []):
                        info = check.failure_info
                        if info is not None:
                            key = (node.value.operation.label, f"{check.name}: {info.failure.title}")
                            failures.setdefault(key, f"{info.failure.message}\n    {info.code_sample}")
            elif isinstance(event, events.NonFatalError | events.FatalError):
                failures.setdefault((getattr(event, "label", "run"), "error"), repr(getattr(event, "value", event)))
            elif isinstance(event, events.EngineFinished):
                stop = str(event.stop_reason)
    finally:
        watchdog.cancel()
    print(f"requests per phase: {dict(phases)}")
    return failures, sent, stop


@pytest.mark.slow
def test_every_route_survives_fuzzing_and_matches_its_schema(live: LiveServer) -> None:
    """No 5xx, every status code, content type and body as ``/openapi.json`` documents them, on
    every operation (jobs, gaps and exports included), in positive and negative generation modes.

    State-changing routes are fuzzed too: rows may be added, edited, accepted, rejected and undone,
    and jobs may add candidates. What must hold afterwards is what protects the user's data: the
    workspace reopens from disk; no row that existed before is gone (the API deletes nothing but
    rows it added, through undo); every row that no recorded action names is unchanged; and
    undoing every recorded action gives back exactly the rows there were before, so each change
    the fuzzer made went through the undo log and can be reverted.
    """
    before = _snapshot(live.ws)
    started = time.monotonic()
    failures, sent, stop = _schemathesis(live)
    elapsed = time.monotonic() - started
    print(f"schemathesis sent {sum(sent.values())} requests to {len(sent)} operations in {elapsed:.0f} s "
          f"(stopped: {stop}): {dict(sorted(sent.items()))}")
    assert not failures, "\n\n".join(f"{label} -> {kind}\n{text}" for (label, kind), text in failures.items())
    documented = {f"{method.upper()} {path}" for path, item in live.app.openapi()["paths"].items() for method in item}
    assert documented <= set(sent), f"never fuzzed: {sorted(documented - set(sent))}"

    jobs = _jobs_after(live)
    broken = [job for job in jobs if job["state"] == "failed" and (job["status"] or 500) >= 500]
    assert not broken, broken  # a job's internal error is a 5xx the client only sees later

    live.stop()
    live.ws.close()
    reopened = amplio.Workspace.load(live.ws.path, encoder=live.ws.encoder)
    try:
        after = _snapshot(reopened)
        assert set(before["id"]) <= set(after["id"]), "a row that existed before was deleted"
        touched: set[int] = set()
        for action in reopened.history(limit=1_000_000):
            touched.update(action.get("rows", []))
            touched.update([action["id"]] if "id" in action else [])
        untouched = before[~before["id"].isin(touched)]
        same = after[after["id"].isin(untouched["id"])].reset_index(drop=True)
        pd.testing.assert_frame_equal(same, untouched.reset_index(drop=True))
        undone = 0
        while reopened.undo() is not None:
            undone += 1
        print(f"{len(after) - len(before)} rows added, {len(touched)} rows changed, {undone} actions undone")
        pd.testing.assert_frame_equal(_snapshot(reopened), before)
        assert reopened.info()["rows"] == len(before)
    finally:
        reopened.close()


# What earlier fuzzing found, pinned so it stays fixed whatever the fuzzer draws next time.


@pytest.mark.parametrize(("route", "body", "field"), [
    ("/api/rows", '{"text": "fine", "label": "\\ud800"}', "label"),
    ("/api/rows", '{"text": "half a pair \\udc80"}', "text"),
    ("/api/rows/3/edit", '{"text": "\\ud83d alone"}', "text"),
    ("/api/augment", '{"method": "llm", "row_id": 3, "instruction": "x \\ud800"}', "instruction"),
    ("/api/gaps/gap-1/fill", '{"method": "llm", "instruction": "\\udfff"}', "instruction"),
])
def test_text_that_utf8_cannot_hold_is_refused_by_name(client: TestClient, ws: amplio.Workspace, route: str,
                                                       body: str, field: str) -> None:
    # JSON may escape a lone surrogate; DuckDB cannot store it (a label holding one was a 500).
    answer = client.post(route, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["error"] and "lone surrogate" in answer.json()["error"]
    assert len(ws.rows()) == 150 and not ws.history()


@pytest.mark.parametrize(("method", "route", "params", "body"), [
    ("GET", "/api/gaps", {"top": 40, "seed": -12678}, None),  # numpy refused it: a 500
    ("GET", "/api/rows/3/ideas", {"seed": -1}, None),
    ("POST", "/api/augment", None, {"method": "llm", "row_id": 3, "instruction": "x", "seed": -1}),
    ("POST", "/api/augment", None, {"method": "llm", "row_id": 3, "instruction": "x", "seed": 2**70}),
    ("POST", "/api/gaps/gap-1/fill", None, {"method": "llm", "seed": -5}),
])
def test_a_seed_out_of_range_is_a_422(client: TestClient, method: str, route: str, params: dict[str, Any] | None,
                                      body: dict[str, Any] | None) -> None:
    answer = client.request(method, route, params=params, json=body)
    assert answer.status_code == 422 and "seed" in answer.json()["error"], answer.text


def test_the_event_stream_and_exports_are_documented_as_what_they_send(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    events = paths["/api/jobs/{job_id}/events"]["get"]["responses"]
    assert list(events["200"]["content"]) == ["text/event-stream"]
    assert list(events["404"]["content"]) == ["application/json"]  # its errors are the JSON envelope
    missing = client.get("/api/jobs/nope/events")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"
    exports = paths["/api/export"]["get"]["responses"]["200"]["content"]
    for fmt in ("csv", "jsonl", "parquet", "hf"):
        sent = client.get("/api/export", params={"format": fmt, "status": "all"})
        assert sent.status_code == 200 and sent.headers["content-type"].split(";")[0] in exports, fmt


def test_the_load_benchmark_runs_and_counts_failures(live: LiveServer) -> None:
    """``benchmarks/server_load.py``'s loop with tiny bounds: 2 readers, 1 s, a job alongside."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "server_load.py"
    spec = importlib.util.spec_from_file_location("server_load", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.run_load(live.base, clients=2, seconds=1.0, job=bench.JOB, row_ids=[5, 6, 7])
    assert set(report["routes"]) >= {"GET /api/points", "GET /api/rows", "GET /api/search (substring)"}
    assert all(r["requests"] > 0 and r["p50_ms"] is not None for r in report["routes"].values())
    assert report["jobs"]["run"] >= 1 and bench.failure_count(report) == 0, report
    # A failure is counted, not lost: jobs on a row that does not exist fail.
    broken = bench.run_load(live.base, clients=1, seconds=0.5, job=bench.JOB, row_ids=[99_999])
    assert broken["jobs"]["failed"] >= 1 and bench.failure_count(broken) >= 1
