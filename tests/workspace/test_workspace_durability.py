"""Crash safety and the single-writer lock, with real processes.

``test_kill_9_randomised_trials`` runs for ``AMPLIO_DURABILITY_SECONDS`` (default 60) and at least
``MIN_TRIALS`` trials; ``AMPLIO_DURABILITY_SEED`` replays a run (the seed is printed).
``python benchmarks/durability.py`` runs the same trials for longer and records the count.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from durability_trials import budget_from_env, run_trials, seed_from_env

import amplio
from amplio.errors import WorkspaceLockedError

MIN_TRIALS = 10

HOLD = """
import sys, time
import amplio
ws = amplio.load(sys.argv[1])
print("ready", flush=True)
time.sleep(120)
"""

WRITER = """
import sys
import amplio
ws = amplio.load(sys.argv[1])
ws.encoder  # load the model before the loop so batches come quickly
print("ready", flush=True)
i = 0
while True:
    texts = [f"Crash test prompt {i}-{j} about smuggling goods across a border." for j in range(4)]
    ids = ws.add_rows(texts, method="manual")
    print(" ".join(map(str, ids)), flush=True)
    i += 1
"""


def _child(code: str, folder: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise AssertionError(f"child did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc


@pytest.fixture
def ws_copy(small_workspace_path: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "copy.amplio"
    shutil.copytree(small_workspace_path, folder)
    return folder


def test_second_writer_is_refused(ws_copy: Path, aart_slice_csv: Path, tmp_path: Path) -> None:
    holder = _child(HOLD, ws_copy)
    try:
        with pytest.raises(WorkspaceLockedError, match=rf"open for writing in another process \(process {holder.pid}\)"):
            amplio.load(ws_copy)
        amplio_bin = shutil.which("amplio") or str(Path(sys.executable).with_name("amplio"))
        result = subprocess.run([amplio_bin, "open", str(aart_slice_csv), "--workspace", str(ws_copy)],
                                capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert result.returncode == 2
        errors = [line for line in result.stderr.splitlines() if line.startswith("amplio: error:")]
        assert len(errors) == 1 and "open for writing in another process" in errors[0]
    finally:
        holder.kill()
        holder.wait()
    with amplio.load(ws_copy) as ws:  # released when the holder dies
        assert ws.info()["rows"] == 300


def test_kill_9_keeps_every_committed_row(ws_copy: Path) -> None:
    writer = _child(WRITER, ws_copy)
    assert writer.stdout is not None
    printed: list[int] = []
    deadline = time.monotonic() + 120
    try:
        while len(printed) < 5 * 4 and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            printed.extend(int(i) for i in line.split())
        time.sleep(0.05)  # land the kill somewhere inside the next add_rows
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        # Anything printed between our last read and the kill was committed too.
        printed.extend(int(i) for line in writer.stdout.read().splitlines() for i in line.split())
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == -signal.SIGKILL
    assert len(printed) >= 20, printed
    with amplio.load(ws_copy) as ws:
        rows = ws.rows()
        found = set(rows["id"])
        assert set(printed) <= found
        # Only whole batches exist: the interrupted add committed all of its rows or none.
        added = rows[rows["origin"] == "augmented"]
        assert len(added) % 4 == 0 and len(added) in (len(printed), len(printed) + 4)
        assert rows["id"].tolist() == list(range(len(rows)))
        ids, vectors = ws.all_embeddings()  # every row still has its embedding
        assert len(ids) == len(rows) and vectors.shape == (len(rows), 384)
        more = ws.add_rows(["After the crash, the workspace still takes writes."])
        assert more == [len(rows)]


@pytest.mark.slow
def test_kill_9_randomised_trials(ws_copy: Path, capsys: pytest.CaptureFixture[str],
                                  record_property: Callable[[str, object], None]) -> None:
    """Kill -9 a writer at random moments of random adds, accepts, edits and undos: after each
    kill the workspace reopens with every operation it reported done, and the one in flight
    entirely or not at all (see durability_trials)."""
    report = run_trials(ws_copy, budget_s=budget_from_env(), min_trials=MIN_TRIALS,
                        seed=seed_from_env())
    record_property("durability_trials", report.trials)
    with capsys.disabled():  # the trial count belongs in the suite's output, pass or fail
        print(f"\ndurability: {report.summary()}")
    assert not report.failures, "\n".join(report.failures)
    assert report.trials >= MIN_TRIALS
    # Trials that never land a kill inside an operation would prove little.
    assert report.ops_committed > 0 and report.kills_in_flight, report.summary()
