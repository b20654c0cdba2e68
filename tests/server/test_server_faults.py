"""Faults around a running server, with real parts: an OpenAI-compatible endpoint on a socket that
breaks in the middle of a job, `amplio serve` processes whose disk fills or whose folder turns
read-only, and two servers on one workspace. See docs/faults.md."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

import amplio
from amplio.server import create_app
from amplio.server.jobs import JobRunner
from fault_prefixes import limited, unprivileged

AMPLIO = shutil.which("amplio") or str(Path(sys.executable).with_name("amplio"))
LLM_TIMEOUT = 1.0  # seconds, AMPLIO_LLM_TIMEOUT: short, so a hang ends quickly
INSTRUCTION = "set it on a pirate ship at sea"


# -- a real OpenAI-compatible endpoint that can break ------------------------------------------
class FlakyLLMServer:
    """Answers the OpenAI completions and chat APIs on 127.0.0.1: the first ``good`` requests
    properly, every later one as ``mode`` says:

    ``close`` drops the connection unanswered; ``hang`` answers only after the client's timeout;
    ``trickle`` sends a byte at a time, each within the timeout, the whole far past it;
    ``garbage`` answers an HTML page; ``gzip`` a body that is not the gzip its header claims;
    ``http500`` an internal server error; ``down`` stops listening altogether.
    """

    def __init__(self, mode: str = "ok", good: int = 0) -> None:
        self.mode, self.good, self.hits, self.answered = mode, good, 0, 0
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                outer.hits += 1
                mode = "ok" if outer.hits <= outer.good else outer.mode
                getattr(outer, f"_{mode}")(self, payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.mode != "down" or self.hits <= self.good:
            self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str = "application/json",
              extra: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)

    def _ok(self, handler: BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
        chat = handler.path.endswith("/chat/completions")
        texts = [f" How would a pirate smuggle stolen gold past the harbour patrol at night, plan {i}?"
                 for i in range(int(payload.get("n", 1)))]
        choices = [{"index": i, "message": {"role": "assistant", "content": t}} if chat else {"index": i, "text": t}
                   for i, t in enumerate(texts)]
        self._send(handler, 200, json.dumps({"object": "text_completion", "choices": choices}).encode())
        self.answered += 1

    def _close(self, handler: BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
        handler.close_connection = True  # return without a byte: the client sees the socket close

    def _hang(self, handler: BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
        self.stop.wait(LLM_TIMEOUT * 5)
        if not self.stop.is_set():
            self._ok(handler, payload)

    def _trickle(self, handler: BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        try:
            while not self.stop.wait(LLM_TIMEOUT / 4):
                handler.wfile.write(b" ")
                handler.wfile.flush()
        except OSError:  # the client gave up
            handler.close_connection = True

    def _garbage(self, handler: BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
        self._send(handler, 200, b"<html><body>It works!</body></html>", kind="text/html")

    def _gzip(self, handler: BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
        self._send(handler, 200, b"this is not gzip" * 8, extra={"Content-Encoding": "gzip"})

    def _http500(self, handler: BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
        self._send(handler, 500, b'{"error": {"message": "CUDA out of memory"}}')

    def _down(self, handler: BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
        # The process behind the endpoint is gone: nothing listens on the port any more.
        handler.close_connection = True
        threading.Thread(target=lambda: (self.httpd.shutdown(), self.httpd.server_close()), daemon=True).start()


class Served:
    """``create_app(ws)`` under a real uvicorn on 127.0.0.1, in a thread of this process."""

    def __init__(self, ws: amplio.Workspace) -> None:
        self.app = create_app(ws)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def served(ws: amplio.Workspace) -> Iterator[Served]:
    server = Served(ws)
    yield server
    server.close()


def use_endpoint(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point the configured LLM at ``url``, as a user would: environment variables."""
    for key, value in {"LLM": "openai-compatible", "LLM_BASE_URL": url, "LLM_MODEL": "flaky",
                       "LLM_TIMEOUT": str(LLM_TIMEOUT), "LLM_RETRIES": "1"}.items():
        monkeypatch.setenv(f"AMPLIO_{key}", value)


def events(http: httpx.Client, job_id: str, within: float = 45.0) -> list[tuple[str, dict[str, Any]]]:
    """What the UI's EventSource receives for a job: (event name, job JSON) until it ends,
    which must be ``within`` seconds (the stream sends keep-alives, so it never times out)."""
    found: list[tuple[str, dict[str, Any]]] = []
    name = ""
    deadline = time.monotonic() + within
    with http.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            assert time.monotonic() < deadline, f"job {job_id} still running after {within:g} s: {found[-1:]}"
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                found.append((name, json.loads(line[len("data: "):])))
    return found


def snapshot(ws: amplio.Workspace) -> dict[str, Any]:
    """Everything the workspace stores, hashed table by table."""
    con = ws.store.con
    tables = {}
    for table in ("meta", "rows", "clusters", "actions", "artifacts", "embeddings"):
        rows = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
        tables[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return tables


# -- (a) the LLM endpoint fails in the middle of a job ------------------------------------------
FAULTS = {  # mode: what the job's error must say
    "close": "broke off the connection (RemoteProtocolError",
    "hang": "timed out",
    "trickle": "timed out",
    "garbage": "answered garbage, not JSON: <html><body>It works!",
    "gzip": "answered garbage (DecodingError",
    "http500": "answered HTTP 500: {\"error\": {\"message\": \"CUDA out of memory\"}} (after 2 attempts)",
    "down": "is unreachable (ConnectError",
}


@pytest.mark.parametrize("mode", list(FAULTS))
def test_llm_endpoint_failing_mid_job_fails_the_job_and_changes_nothing(
        mode: str, served: Served, ws: amplio.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    llm = FlakyLLMServer(mode, good=1)  # the job's first request is answered, then the fault
    try:
        use_endpoint(monkeypatch, llm.url)
        with served.app.state.amplio.lock:
            before = snapshot(ws)
        started = time.monotonic()
        job_id = served.http.post("/api/augment", json={"method": "llm", "row_id": 3, "instruction": INSTRUCTION,
                                                        "n": 3}).json()["job_id"]
        seen = events(served.http, job_id)
        took = time.monotonic() - started
    finally:
        llm.close()

    assert llm.answered == 1 and llm.hits >= 2, "the fault must come in the middle of the job"
    name, last = seen[-1]
    assert name == "failed" and last["state"] == "failed"
    assert last["status"] == 502
    assert last["error"].startswith(f"LLM endpoint {llm.url}/completions ")
    assert FAULTS[mode] in last["error"]
    assert "internal error" not in last["error"] and "Traceback" not in last["error"]
    assert all(n != "done" for n, _ in seen)
    # Bounded: two attempts of at most LLM_TIMEOUT each, a backoff, and the model's own work.
    assert took < 30, f"the job took {took:.1f} s"
    polled = served.http.get(f"/api/jobs/{job_id}").json()  # the other way the UI asks
    assert polled["state"] == "failed" and polled["error"] == last["error"]
    with served.app.state.amplio.lock:
        assert snapshot(ws) == before
    assert served.http.get("/api/info").json()["rows"] == 150


def test_the_next_job_succeeds_once_the_endpoint_recovers(served: Served, ws: amplio.Workspace,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    llm = FlakyLLMServer("http500")
    try:
        use_endpoint(monkeypatch, llm.url)
        body = {"method": "llm", "row_id": 3, "instruction": INSTRUCTION, "n": 2}
        failed = events(served.http, served.http.post("/api/augment", json=body).json()["job_id"])
        assert failed[-1][0] == "failed"
        llm.mode = "ok"
        done = events(served.http, served.http.post("/api/augment", json=body).json()["job_id"])
    finally:
        llm.close()
    name, last = done[-1]
    assert name == "done" and last["error"] is None
    stored = [c["id"] for c in last["result"]["candidates"]]
    assert served.http.get("/api/info").json()["rows"] == 150 + len(stored)


@pytest.mark.parametrize("timeout", ["inf", "nan", "0", "-5"])
def test_an_unbounded_llm_timeout_is_refused(timeout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``inf`` would let a hung endpoint hold a job (and the workspace behind it) for ever."""
    from amplio.errors import InputError
    from amplio.llm.registry import create_llm

    use_endpoint(monkeypatch, "http://127.0.0.1:9/v1")
    monkeypatch.setenv("AMPLIO_LLM_TIMEOUT", timeout)
    with pytest.raises(InputError, match="the LLM timeout must be a positive number of seconds"):
        create_llm()


def test_a_damaged_file_met_inside_a_job_is_reported_not_a_bug(tmp_path: Path) -> None:
    """A job that reads a file damaged after it was opened gets DuckDB's IO error; the UI is told
    the workspace is damaged (409), not "internal error"."""
    import duckdb

    db = tmp_path / "cut.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT range AS i, repeat('x', 200) AS s FROM range(200000)")
    con.close()
    os.truncate(db, db.stat().st_size // 2)

    def read(progress: Callable[[str, int, int], None]) -> Any:
        reader = duckdb.connect(str(db), read_only=True)
        try:
            return reader.execute("SELECT sum(length(s)) FROM t").fetchall()
        finally:
            reader.close()

    runner = JobRunner(threading.Lock())
    job = runner.submit("read", read)
    view = {"version": -1, "state": "queued"}
    while view["state"] not in ("done", "failed"):
        view = runner.wait_change(job, view["version"], 30)
    runner.shutdown()
    assert view["state"] == "failed" and view["status"] == 409
    assert view["error"].startswith("the workspace is damaged or cannot be read: IO Error")


# -- real `amplio serve` processes --------------------------------------------------------------
class ServeProcess:
    """`amplio serve FOLDER` in its own process (``prefix`` runs before it: a limit, a drop of
    privileges); its output is collected, since a full pipe would stall it."""

    def __init__(self, folder: Path, port: int, prefix: list[str] | None = None) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([*(prefix or []), AMPLIO, "serve", str(folder), "--port", str(port),
                                      "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.output: list[str] = []
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        threading.Thread(target=lambda: self.output.extend(stdout), daemon=True).start()
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, f"amplio serve exited: {''.join(self.output)}"
            assert time.monotonic() < deadline, f"amplio serve did not answer: {''.join(self.output)}"
            try:
                if httpx.get(f"{self.url}/api/info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.http = httpx.Client(base_url=self.url, timeout=120)

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn stops cleanly and the workspace closes
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def folder(built_workspace: Path, tmp_path: Path) -> Path:
    target = tmp_path / "served.amplio"
    shutil.copytree(built_workspace, target)
    return target


def test_full_disk_answers_507_and_keeps_every_saved_row(folder: Path, free_port: Callable[[], int]) -> None:
    server = ServeProcess(folder, free_port(), prefix=limited(48 * 1024))
    saved: list[tuple[int, str]] = []
    try:
        for i in range(200):
            text = f"A prompt typed by hand while the disk fills up, number {i}, about forged tickets."
            answer = server.http.post("/api/rows", json={"text": text})
            if answer.status_code != 200:
                break
            saved.append((answer.json()["id"], text))
        else:
            pytest.fail("the file size limit never stopped a write")
        body = answer.json()
        assert answer.status_code == 507 and body["ok"] is False and body["status"] == 507
        assert body["error"].startswith(f"cannot save to workspace {folder}: the disk is full")
        assert "File too large" in body["error"] and "nothing was changed" in body["error"]
        assert saved, "the first write should have fitted"
        # The server lives on: reads work and show only what was saved.
        assert server.http.get("/api/info").json()["rows"] == 150 + len(saved)
        again = server.http.post("/api/rows", json={"text": text})  # the same write, still no room
        assert again.status_code == 507 and "disk is full" in again.json()["error"]
        assert server.http.get("/api/rows/0").json()["status"] == "accepted"
    finally:
        server.stop()
    with amplio.load(folder) as ws:
        rows = ws.rows()
        assert len(rows) == 150 + len(saved)
        assert {(int(r.id), r.text) for r in rows.itertuples() if r.origin == "manual"} == set(saved)
        assert (rows["status"] == "accepted").all()
        assert len(ws.all_embeddings()[0]) == len(rows)
        assert ws.add_rows(["Once there is room again, writes work."], method="manual") == [len(rows)]
    with amplio.load(folder, read_only=True) as ws:
        assert ws.info()["rows"] == 151 + len(saved)


def test_read_only_folder_answers_507_then_recovers(folder: Path, free_port: Callable[[], int]) -> None:
    prefix = unprivileged()
    server = ServeProcess(folder, free_port(), prefix=prefix)
    try:
        folder.chmod(0o555)  # e.g. a backup tool or a remount, while the server runs
        answer = server.http.post("/api/rows", json={"text": "Typed while the folder was read-only."})
        body = answer.json()
        assert answer.status_code == 507 and body == {"ok": False, "status": 507, "error": body["error"]}
        assert body["error"].startswith(f"cannot save to workspace {folder}: it is not writable")
        assert "Permission denied" in body["error"] and "nothing was changed" in body["error"]
        status = server.http.post("/api/rows/status", json={"ids": [4], "status": "rejected"})
        assert status.status_code == 507
        assert server.http.get("/api/info").json()["rows"] == 150
        folder.chmod(0o755)
        added = server.http.post("/api/rows", json={"text": "Typed once the folder was writable again."})
        assert added.status_code == 200  # no restart needed
    finally:
        folder.chmod(0o755)
        server.stop()
    with amplio.load(folder) as ws:
        texts = ws.rows()["text"].tolist()
        assert len(texts) == 151 and texts[-1] == "Typed once the folder was writable again."
        assert ws.row(4)["status"] == "accepted"
        assert [h["action"] for h in ws.history()] == ["add"]


# -- (c) two servers on one workspace -----------------------------------------------------------
def test_a_second_serve_on_the_same_workspace_exits_2_with_one_line(
        folder: Path, free_port: Callable[[], int]) -> None:
    first = ServeProcess(folder, free_port())
    try:
        second = subprocess.run([AMPLIO, "serve", str(folder), "--port", str(free_port()), "--no-browser"],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert second.stdout == ""
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert lines[0] == (f"amplio: error: workspace {folder} is open for writing in another process "
                            f"(process {first.proc.pid}); close that process (e.g. stop `amplio serve`) "
                            "and try again")
        assert first.http.get("/api/info").json()["rows"] == 150  # the first one is untouched
    finally:
        first.stop()
    assert first.proc.returncode == 0
