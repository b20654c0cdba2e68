"""Randomised kill -9 trials against a workspace, shared by the test suite and the benchmark.

A trial starts a writer process (this file run as a script) that performs a seeded random run of
adds, accepts/rejects, edits and undos, with the odd checkpoint, on the workspace. Before each
operation it prints ``op <json>`` and after the call returns ``ok <json>``. The parent SIGKILLs it
at a random moment, reopens the workspace and compares it with its own model of the workspace:
every operation reported ``ok`` must be there, and the one in flight must be there entirely or not
at all. The model survives from trial to trial, so each trial also crashes a workspace that was
itself recovered from a crash.

The model is kept apart from the workspace's own bookkeeping (its undo log is not consulted): it
knows only which operations the writer started and which returned.

Used by ``tests/workspace/test_workspace_durability.py`` and ``benchmarks/durability.py``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

HERE = Path(__file__).resolve()
BUDGET_ENV = "AMPLIO_DURABILITY_SECONDS"
SEED_ENV = "AMPLIO_DURABILITY_SEED"
OPS = ("add", "status", "edit", "undo", "checkpoint")
# add/accept/edit/undo as the brief asks; a rare explicit checkpoint so some kills land while
# DuckDB moves its log into the database file, as it does on its own once the log grows.
WEIGHTS = (0.34, 0.3, 0.2, 0.12, 0.04)
WRITER_TIMEOUT_S = 120.0  # a writer still alive after this is hung, not slow


# -- stand-ins for the models ----------------------------------------------------------------
# Loading the sentence encoder and JIT-compiling UMAP's transform takes a writer 10-20 s, which
# would spend the budget on start-up rather than crashes. What is stored does not depend on which
# model made the numbers, so the writer uses these deterministic stand-ins, and the parent uses
# the same ones to predict a row's map position.

class HashEncoder:
    """A deterministic unit vector per text, under the workspace's encoder name."""

    def __init__(self, name: str, dim: int) -> None:
        self.name = name
        self.dim = dim

    def encode(self, texts: Any, *, batch_size: int = 64) -> NDArray[np.float32]:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vec = np.random.default_rng(seed).standard_normal(self.dim)
            out[i] = vec / np.linalg.norm(vec)
        return out


class LinearMap:
    """Stands in for the fitted UMAP: its ``transform`` is all a write uses."""

    def transform(self, embeddings: NDArray[np.float32]) -> NDArray[np.float32]:
        return np.asarray(embeddings[:, :2] * 10.0, dtype=np.float32)


def place(encoder: HashEncoder, text: str) -> tuple[float, float]:
    x, y = LinearMap().transform(encoder.encode([text]))[0]
    return float(x), float(y)


# -- the writer (child process) --------------------------------------------------------------

def writer_main(folder: str, encoder_name: str, dim: int, seed: int, trial: int) -> None:
    from amplio.projection.umap_projection import Projection
    from amplio.workspace.workspace import Workspace

    rng = random.Random(seed)
    _announce_commits()
    ws = Workspace.load(folder, encoder=HashEncoder(encoder_name, dim),
                        projection=Projection(LinearMap(), fitted_rows=0))
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        ids = [int(i) for i in ws.store.ids_and_hashes()[0]]
        kind = rng.choices(OPS, WEIGHTS)[0]
        if kind == "add":
            op: dict[str, Any] = {"op": "add", "texts": [
                f"Trial {trial} op {n} row {j}: how would someone move goods past a checkpoint?"
                for j in range(rng.randint(1, 8))]}
        elif kind == "status":
            op = {"op": "status", "ids": rng.sample(ids, rng.randint(1, min(6, len(ids)))),
                  "status": rng.choice(["accepted", "rejected", "candidate"]),
                  "reviewer": f"t{trial}-op{n}"}
        elif kind == "edit":
            op = {"op": "edit", "id": rng.choice(ids),
                  "text": f"Edited in trial {trial}, op {n}: a rewritten prompt about fraud."}
        else:
            op = {"op": kind}
        print("op " + json.dumps(op), flush=True)
        result: Any = None
        if kind == "add":
            result = ws.add_rows(op["texts"], method="manual")
        elif kind == "status":
            ws.set_status(op["ids"], op["status"], reviewer=op["reviewer"])
        elif kind == "edit":
            ws.edit_row(op["id"], op["text"])
        elif kind == "undo":
            done = ws.undo()
            result = done["action"] if done else None
        else:
            ws.store.checkpoint()
        print("ok " + json.dumps(result), flush=True)


def _announce_commits() -> None:
    """Print ``commit`` as each transaction's COMMIT starts, so the parent can aim a kill at the
    commit itself: killing at a random time mostly lands in the preparation before it."""
    from contextlib import contextmanager

    from amplio.workspace.store import Store

    plain = Store.transaction

    @contextmanager
    def announced(self: Store) -> Iterator[None]:
        with plain(self):
            yield
            print("commit", flush=True)

    Store.transaction = announced  # type: ignore[method-assign]


# -- the model (parent) ----------------------------------------------------------------------

Row = dict[str, Any]
KEYS = ("text", "text_hash", "origin", "method", "status", "reviewed_by", "x", "y")


@dataclass
class Model:
    """What the workspace must hold: rows by id, the action log, and the undo stack (each entry:
    the action's seq and the row values that undo it)."""

    rows: dict[int, Row]
    actions: list[tuple[str, bool]]
    stack: list[tuple[int, dict[int, Row | None]]] = field(default_factory=list)

    def apply(self, op: dict[str, Any], encoder: HashEncoder) -> Any:
        """Apply ``op``; return what the writer's call should have returned."""
        from amplio.data.ingest import text_hash

        kind = op["op"]
        if kind == "checkpoint":
            return None
        if kind == "undo":
            if not self.stack:
                return None
            seq, before = self.stack.pop()
            for i, row in before.items():
                if row is None:
                    del self.rows[i]
                else:
                    self.rows[i] = row
            self.actions[seq] = (self.actions[seq][0], True)
            return self.actions[seq][0]
        if kind == "add":
            start = max(self.rows, default=-1) + 1
            ids = list(range(start, start + len(op["texts"])))
            before: dict[int, Row | None] = dict.fromkeys(ids)
            for i, text in zip(ids, op["texts"], strict=True):
                x, y = place(encoder, text)
                self.rows[i] = {"text": text, "text_hash": text_hash(text), "origin": "augmented",
                                "method": "manual", "status": "candidate", "reviewed_by": None,
                                "x": x, "y": y}
            result: Any = ids
        elif kind == "status":
            before = {i: dict(self.rows[i]) for i in op["ids"]}
            for i in op["ids"]:
                self.rows[i] = {**self.rows[i], "status": op["status"], "reviewed_by": op["reviewer"]}
            result = None
        else:  # edit
            i = op["id"]
            before = {i: dict(self.rows[i])}
            x, y = place(encoder, op["text"])
            self.rows[i] = {**self.rows[i], "text": op["text"], "text_hash": text_hash(op["text"]),
                            "x": x, "y": y}
            result = None
        self.actions.append((kind, False))
        self.stack.append((len(self.actions) - 1, before))
        return result


def snapshot(folder: Path, *, read_only: bool = False
             ) -> tuple[dict[int, Row], list[tuple[str, bool]], dict[str, Any]]:
    """Reopen the workspace and read its rows and action log; checks on the way that every row
    still has its embedding."""
    import amplio

    with amplio.load(folder, read_only=read_only) as ws:
        frame = ws.store.rows(columns=("id", *KEYS))
        rows = {int(r["id"]): {k: _plain(r[k]) for k in KEYS} for r in frame.to_dict("records")}
        history = sorted(ws.history(limit=1 << 30), key=lambda a: a["seq"])
        if [a["seq"] for a in history] != list(range(len(history))):
            raise AssertionError(f"action log has gaps: {[a['seq'] for a in history]}")
        ids, vectors = ws.all_embeddings()
        if len(ids) != len(rows):
            raise AssertionError(f"{len(rows)} rows but {len(ids)} embeddings")
        return rows, [(a["action"], bool(a["undone"])) for a in history], dict(ws.meta)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.floating):
        return float(value)
    return value


def _diff(model: Model, rows: dict[int, Row], actions: list[tuple[str, bool]]) -> str:
    if actions != model.actions:
        return f"action log {actions[-5:]} (of {len(actions)}), expected {model.actions[-5:]} (of {len(model.actions)})"
    if rows.keys() != model.rows.keys():
        return (f"row ids: missing {sorted(model.rows.keys() - rows.keys())[:10]}, "
                f"unexpected {sorted(rows.keys() - model.rows.keys())[:10]}")
    for i, want in model.rows.items():
        if rows[i] != want:
            return f"row {i} is {rows[i]}, expected {want}"
    return ""


# -- trials ----------------------------------------------------------------------------------

@dataclass
class Report:
    seed: int
    budget_s: float
    trials: int = 0
    seconds: float = 0.0
    ops_committed: int = 0
    kills_at_startup: int = 0
    kills_between_ops: int = 0
    # kind -> [in flight and absent after the crash, in flight and present]
    kills_in_flight: dict[str, list[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        inside = ", ".join(f"{k} {a}+{b}" for k, (a, b) in sorted(self.kills_in_flight.items()))
        return (f"{self.trials} kill -9 trials in {self.seconds:.1f} s (seed {self.seed}): "
                f"{self.ops_committed} committed operations, kills during start-up "
                f"{self.kills_at_startup}, between operations {self.kills_between_ops}, inside "
                f"one (absent+present) {inside or 'none'}; {len(self.failures)} failures")

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "budget_s": self.budget_s, "trials": self.trials,
                "seconds": round(self.seconds, 1), "ops_committed": self.ops_committed,
                "kills_at_startup": self.kills_at_startup,
                "kills_between_ops": self.kills_between_ops,
                "kills_in_flight_absent_present": self.kills_in_flight, "failures": self.failures}


def budget_from_env(default: float = 60.0) -> float:
    return float(os.environ.get(BUDGET_ENV, default))


def seed_from_env() -> int:
    value = os.environ.get(SEED_ENV)
    return int(value) if value else random.SystemRandom().randrange(1 << 31)


def run_trials(folder: Path, *, budget_s: float, min_trials: int, seed: int,
               log: Callable[[str], None] = lambda _: None) -> Report:
    """Crash ``folder``'s workspace again and again until ``budget_s`` has passed and at least
    ``min_trials`` trials have run, or a trial fails."""
    rows, actions, meta = snapshot(folder)
    if any(not undone for _, undone in actions):
        raise ValueError("start from a workspace with nothing to undo: the model cannot undo "
                         "actions it did not see")
    model = Model(rows, actions)
    encoder = HashEncoder(meta["encoder"], int(meta["dim"]))
    rng = random.Random(seed)
    report = Report(seed=seed, budget_s=budget_s)
    start = time.monotonic()
    while report.trials < min_trials or time.monotonic() - start < budget_s:
        trial = report.trials
        trial_seed = rng.randrange(1 << 31)
        try:
            problem = _trial(folder, model, encoder, trial, trial_seed, rng, report)
        except Exception as exc:  # a reopen that raises is the failure being looked for
            problem = f"{type(exc).__name__}: {exc}"
        report.trials += 1
        report.seconds = time.monotonic() - start
        if problem:
            report.failures.append(f"trial {trial} (writer seed {trial_seed}): {problem}")
            log(report.failures[-1])
            break
    report.seconds = time.monotonic() - start
    return report


def _trial(folder: Path, model: Model, encoder: HashEncoder, trial: int, seed: int,
           rng: random.Random, report: Report) -> str:
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(HERE), str(folder), encoder.name, str(encoder.dim), str(seed), str(trial)],
            stdout=subprocess.PIPE, stderr=stderr, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        hung = threading.Event()

        def time_out() -> None:
            hung.set()
            proc.kill()

        watchdog = threading.Timer(WRITER_TIMEOUT_S, time_out)
        watchdog.start()
        assert proc.stdout is not None
        seen: list[str] = []
        try:
            if rng.random() < 0.1:
                # Anywhere in start-up, which may include replaying the last crash's log.
                time.sleep(rng.uniform(0.0, 1.5))
            else:
                # Half the kills follow the n-th COMMIT's start, half the n-th operation's.
                at_commit = rng.random() < 0.5
                target, count = rng.randint(1, 40), 0
                while count < target:
                    line = proc.stdout.readline()
                    if not line:
                        break
                    seen.append(line)
                    count += line == "commit\n" if at_commit else line.startswith("op ")
                # An operation takes 10-100 ms here, its COMMIT about a millisecond.
                time.sleep(rng.uniform(0.0, 0.003 if at_commit else 0.1))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            # Whatever was printed after our last read counts too.
            seen.append(proc.stdout.read())
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            stderr.seek(0)
            err = stderr.read()
    if hung.is_set():
        return f"writer still running after {WRITER_TIMEOUT_S:.0f} s: {err[-2000:]}"
    if proc.returncode != -signal.SIGKILL:
        return f"writer exited with {proc.returncode} before the kill: {err[-2000:]}"
    text = "".join(seen)
    # A line cut off by the kill was never fully reported.
    lines = text.split("\n")[:-1]
    if not lines or lines[0] != "ready":
        report.kills_at_startup += 1
        lines = []
    in_flight: dict[str, Any] | None = None
    for line in lines[1:]:
        word, _, payload = line.partition(" ")
        if word == "commit":
            continue
        if word == "op":
            in_flight = json.loads(payload)
        elif word == "ok" and in_flight is not None:
            expected = model.apply(in_flight, encoder)
            if json.loads(payload) != expected:
                return f"writer's {in_flight['op']} returned {payload}, model expected {expected}"
            report.ops_committed += 1
            in_flight = None
        else:
            return f"unexpected writer output {line!r}"
    # Opened for writing, the workspace is recovered and checkpointed here; read-only, the log is
    # left for the next writer to replay as it starts (where some kills then land).
    rows, actions, _ = snapshot(folder, read_only=rng.random() < 0.5)
    if in_flight is None:
        if lines:
            report.kills_between_ops += 1
        problem = _diff(model, rows, actions)
        return f"after a kill between operations: {problem}" if problem else ""
    after = copy.deepcopy(model)
    after.apply(in_flight, encoder)
    absent, present = _diff(model, rows, actions), _diff(after, rows, actions)
    counts = report.kills_in_flight.setdefault(in_flight["op"], [0, 0])
    if not absent:
        counts[0] += 1
        return ""
    if not present:
        counts[1] += 1
        model.rows, model.actions, model.stack = after.rows, after.actions, after.stack
        return ""
    return (f"killed inside {json.dumps(in_flight)[:300]}: neither before it ({absent}) "
            f"nor after it ({present})")


if __name__ == "__main__":
    writer_main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
