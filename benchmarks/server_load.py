"""Load benchmark of the web server: 8 clients read the map, search and the row list while an
augmentation job runs.

    python benchmarks/server_load.py [--clients 8] [--seconds 30] [--llm real|canned]

A real server (``amplio.server.run``, what ``amplio serve`` runs, in a child process) serves a copy
of a workspace built from the bundled demo dataset (600 AART prompts; built once into
``benchmarks/.work/``). On 127.0.0.1 only, ``--clients`` threads each send, in turn,
``GET /api/points``, ``GET /api/search`` (substring, then semantic, with words from the data) and
``GET /api/rows``, for ``--seconds`` with no job and then for ``--seconds`` while augmentation jobs
run back to back, one at a time (``POST /api/augment``, LLM method, n = 3): the load a reviewer's
page puts on the server while a job decodes. Per route and phase: requests, p50 and p99 latency
(ms, wall clock at the client, which shares the cores with the server), and failures (a non-2xx
answer or no answer). Exits 1 when any request fails.

``--llm real`` (default) decodes with the default backend, the packaged Gemma 3 270M through
llama.cpp on the CPU, so the job competes with the readers for the cores as it would for a user;
``--llm canned`` answers instantly with fixed text (the smoke test's choice).

Writes benchmarks/results/server_load.json and benchmarks/results/server_load.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import requests

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WORK = HERE / ".work" / "server_load"
WORDS = ["bank", "money", "drug", "weapon", "hack", "steal", "fraud", "police", "bomb", "poison"]
JOB = {"method": "llm", "instruction": "ask for the same thing in a different setting", "n": 3}


class CannedLLM:
    """Answers at once with fixed, distinct sentences: a job that costs only its embedding and gates."""

    name = "canned:benchmark"

    def complete(self, prompt: str, params: Any) -> list[str]:
        return [f" How would someone plan it in town number {params.seed}-{i}?" for i in range(params.n)]


def routes(rng: np.random.Generator) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Endless ``(label, path, query)`` requests: the three reads in turn, search words varying."""
    for turn in itertools.count():
        yield "GET /api/points", "/api/points", {}
        mode = "substring" if turn % 2 == 0 else "semantic"
        word = WORDS[int(rng.integers(len(WORDS)))]
        yield f"GET /api/search ({mode})", "/api/search", {"q": word, "mode": mode, "k": 50}
        yield "GET /api/rows", "/api/rows", {"limit": 200}


def run_load(base: str, *, clients: int, seconds: float, job: dict[str, Any] | None,
             row_ids: list[int], seed: int = 0) -> dict[str, Any]:
    """Send reads from ``clients`` threads for ``seconds``; with ``job``, keep one augmentation
    job running (next one as soon as the last has finished). Returns per-route latencies and
    failures, and the jobs run."""
    stop = threading.Event()
    samples: dict[str, list[float]] = {}
    failures: dict[str, list[str]] = {}
    lock = threading.Lock()

    def record(label: str, elapsed: float | None, problem: str | None) -> None:
        with lock:
            samples.setdefault(label, [])
            failures.setdefault(label, [])
            if problem is None and elapsed is not None:
                samples[label].append(elapsed)
            else:
                failures[label].append(problem or "no answer")

    def reader(index: int) -> None:
        rng = np.random.default_rng(seed + index)
        with requests.Session() as session:
            for label, path, query in routes(rng):
                if stop.is_set():
                    return
                start = time.perf_counter()
                try:
                    answer = session.get(base + path, params=query, timeout=60)
                    answer.content  # noqa: B018 - the whole body, as a page would read it
                except requests.RequestException as exc:
                    record(label, None, f"{type(exc).__name__}: {exc}")
                    continue
                elapsed = time.perf_counter() - start
                record(label, elapsed, None if answer.ok else f"{answer.status_code}: {answer.text[:200]}")

    jobs: list[dict[str, Any]] = []

    def jobs_loop() -> None:
        rng = np.random.default_rng(seed)
        with requests.Session() as session:
            session.headers["Origin"] = base  # a change must come from the server's own page
            for number in itertools.count():
                if stop.is_set():
                    return
                body = {**(job or {}), "row_id": int(rng.choice(row_ids)), "seed": number}
                start = time.perf_counter()
                started = session.post(f"{base}/api/augment", json=body, timeout=60)
                if not started.ok:
                    record("POST /api/augment", None, f"{started.status_code}: {started.text[:200]}")
                    time.sleep(0.5)
                    continue
                record("POST /api/augment", time.perf_counter() - start, None)
                job_id = started.json()["job_id"]
                while True:  # a job runs to its end even past the window: its reads overlap it
                    state = session.get(f"{base}/api/jobs/{job_id}", timeout=60).json()
                    if state["state"] in ("done", "failed"):
                        break
                    time.sleep(0.25)
                jobs.append({"id": job_id, "state": state["state"], "seconds": state["seconds"],
                             "candidates": len((state.get("result") or {}).get("candidates", [])),
                             "error": state.get("error")})

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(clients)]
    if job is not None:
        threads.append(threading.Thread(target=jobs_loop, daemon=True))
    started_at = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    window = time.perf_counter() - started_at  # the readers stop here; a job may run on past it
    for thread in threads:
        thread.join(timeout=120)

    report: dict[str, Any] = {"clients": clients, "seconds": round(window, 1), "routes": {}}
    for label in sorted(samples):
        times = np.array(samples[label]) * 1000
        report["routes"][label] = {
            "requests": len(times) + len(failures[label]),
            "failures": len(failures[label]),
            "p50_ms": round(float(np.percentile(times, 50)), 1) if len(times) else None,
            "p99_ms": round(float(np.percentile(times, 99)), 1) if len(times) else None,
            "max_ms": round(float(times.max()), 1) if len(times) else None,
            "per_second": round(len(times) / window, 1),
            "first_failures": failures[label][:3],
        }
    if job is not None:
        failed = [j for j in jobs if j["state"] != "done"]
        report["jobs"] = {"run": len(jobs), "failed": len(failed), "first_failures": failed[:3],
                          "seconds_median": round(float(np.median([j["seconds"] for j in jobs])), 2) if jobs else None,
                          "candidates": sum(j["candidates"] for j in jobs)}
    return report


def failure_count(report: dict[str, Any]) -> int:
    """Failed requests and failed jobs in a ``run_load`` report."""
    return sum(r["failures"] for r in report["routes"].values()) + report.get("jobs", {}).get("failed", 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_workspace() -> Path:
    """The demo dataset as a workspace, built once (embedding 600 prompts takes a minute or two)."""
    import amplio
    from amplio.data.demo import DEMO_LABEL_COLUMN, DEMO_TEXT_COLUMN, demo_dataset_path

    folder = WORK / "demo.amplio"
    if not (folder / "ready").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        with amplio.open(demo_dataset_path(), text_col=DEMO_TEXT_COLUMN, label_col=DEMO_LABEL_COLUMN,
                         workspace=folder):
            pass
        (folder / "ready").write_text("built by benchmarks/server_load.py\n")
    return folder


@contextmanager
def server(workspace: Path, llm: str) -> Iterator[str]:
    """A child process serving ``workspace`` on a free loopback port; yields its base URL."""
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(workspace), "--port", str(port),
                              "--llm", llm], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(f"{base}/api/info", timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the benchmarked server did not start")
            time.sleep(0.5)
        yield base
    finally:
        child.terminate()
        child.wait(timeout=60)


def serve(workspace: Path, port: int, llm: str) -> None:
    """The child process: the server ``amplio serve`` runs, or the same app with the canned LLM."""
    if llm == "real":
        from amplio.server import run

        run(workspace, port=port, open_browser=False)
        return
    import uvicorn

    import amplio
    from amplio.server import create_app

    with amplio.Workspace.load(workspace) as ws:
        ws.use_llm(CannedLLM())
        uvicorn.run(create_app(ws, port=port), host="127.0.0.1", port=port, log_level="warning")


def warm_up(base: str, job: dict[str, Any], row_id: int) -> None:
    """Load the encoder and the LLM, outside the timings: one semantic search, one job."""
    with requests.Session() as session:
        session.headers["Origin"] = base
        session.get(f"{base}/api/search", params={"q": "warm up", "mode": "semantic"}, timeout=300)
        job_id = session.post(f"{base}/api/augment", json={**job, "row_id": row_id}, timeout=60).json()["job_id"]
        while session.get(f"{base}/api/jobs/{job_id}", timeout=60).json()["state"] not in ("done", "failed"):
            time.sleep(0.5)


def markdown(out: dict[str, Any]) -> str:
    lines = [
        "# Server under load",
        "",
        f"`python benchmarks/server_load.py` on {out['date']}: {out['clients']} client threads on 127.0.0.1, "
        f"{out['seconds_per_phase']} s per phase, the demo workspace ({out['rows']} rows), "
        f"LLM: {out['llm']}. Machine: {out['machine']['cpus']} CPUs, load average "
        f"{out['machine']['load_average_at_start']} at the start{'; ' + out['machine']['note'] if out['machine']['note'] else ''}.",
        "Latency is wall clock at the client, whose threads share the cores with the server.",
        "",
        "| phase | route | requests | failures | p50 ms | p99 ms | max ms | per s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for phase, report in out["phases"].items():
        for route, r in report["routes"].items():
            lines.append(f"| {phase} | `{route}` | {r['requests']} | {r['failures']} | {r['p50_ms']} | "
                         f"{r['p99_ms']} | {r['max_ms']} | {r['per_second']} |")
    jobs = out["phases"]["with job"].get("jobs", {})
    lines += ["", f"Jobs while loaded: {jobs.get('run')} run, {jobs.get('failed')} failed, median "
                  f"{jobs.get('seconds_median')} s each, {jobs.get('candidates')} candidates stored.",
              f"Failed requests and jobs, all phases: {out['failures']}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="per phase (without, then with a job)")
    parser.add_argument("--llm", choices=("real", "canned"), default="real")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print the results, write no file")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.llm)
        return

    load = [round(v, 2) for v in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="amplio-bench-load-") as tmp:
        workspace = Path(tmp) / "demo.amplio"
        shutil.copytree(demo_workspace(), workspace)  # jobs add rows: the built copy stays clean
        with server(workspace, args.llm) as base:
            ids = [r["id"] for r in requests.get(f"{base}/api/rows", params={"limit": 5000}, timeout=60).json()]
            rows = len(ids)
            warm_up(base, JOB, ids[0])
            phases = {}
            for phase, job in (("no job", None), ("with job", JOB)):
                phases[phase] = run_load(base, clients=args.clients, seconds=args.seconds, job=job, row_ids=ids)
                print(phase, json.dumps(phases[phase], indent=1))
    out = {
        "benchmark": "server_load", "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": load, "note": os.environ.get("AMPLIO_BENCH_NOTE", "")},
        "clients": args.clients, "seconds_per_phase": args.seconds, "rows": rows,
        "llm": ("packaged Gemma 3 270M (llama.cpp, CPU), LLM method, n = 3" if args.llm == "real"
                else "canned (instant fixed text)"),
        "phases": phases,
    }
    out["failures"] = sum(failure_count(report) for report in phases.values())
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "server_load.json").write_text(json.dumps(out, indent=2) + "\n")
        (RESULTS / "server_load.md").write_text(markdown(out))
        print(f"wrote {RESULTS / 'server_load.json'} and {RESULTS / 'server_load.md'}")
    print(f"failures: {out['failures']}")
    sys.exit(1 if out["failures"] else 0)


if __name__ == "__main__":
    main()
