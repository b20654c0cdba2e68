"""Background jobs: long workspace calls run in a worker thread and report progress.

A job holds the workspace lock while it runs, except while it decodes or trains
(``Workspace.unlocked``), and the job table has its own lock, so ``GET /api/jobs/...`` answers
(and streams progress), and reads answer, while an augmentation is decoding.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

from amplio.errors import AmplioError, NotFoundError
from amplio.workspace.store import storage_error

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]


@dataclass
class Job:
    """One background call: its state, last progress report, result or error."""

    id: str
    kind: str
    state: JobState = "queued"
    stage: str = ""
    done: int = 0
    total: int = 0
    result: Any = None
    error: str | None = None
    status_code: int | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    version: int = 0

    def public(self) -> dict[str, Any]:
        """The job as JSON for ``GET /api/jobs/{id}``."""
        return {
            "id": self.id, "kind": self.kind, "state": self.state, "stage": self.stage,
            "done": self.done, "total": self.total, "result": self.result, "error": self.error,
            "status": self.status_code,
            "seconds": round((self.finished or time.time()) - self.started, 2),
        }


class JobRunner:
    """Runs callables one at a time (the workspace is single-writer) and keeps their state."""

    def __init__(self, ws_lock: AbstractContextManager[object], *, keep: int = 200) -> None:
        self._ws_lock = ws_lock
        self._jobs: dict[str, Job] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amplio-job")
        self._keep = keep

    def submit(self, kind: str, fn: Callable[[Callable[[str, int, int], None]], Any]) -> Job:
        """Queue ``fn(progress)``; return its job at once."""
        with self._cond:
            job = Job(id=str(next(self._ids)), kind=kind)
            self._jobs[job.id] = job
            if len(self._jobs) > self._keep:  # forget the oldest finished jobs
                for old in [j for j in self._jobs.values() if j.finished][: len(self._jobs) - self._keep]:
                    del self._jobs[old.id]
        self._pool.submit(self._run, job, fn)
        return job

    def _update(self, job: Job, **changes: Any) -> None:
        with self._cond:
            for key, value in changes.items():
                setattr(job, key, value)
            job.version += 1
            self._cond.notify_all()

    def _run(self, job: Job, fn: Callable[[Callable[[str, int, int], None]], Any]) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            self._update(job, stage=stage, done=int(done), total=int(total))

        self._update(job, state="running", started=time.time())
        try:
            with self._ws_lock:
                result = fn(progress)
        except Exception as exc:
            # A damaged file or a full disk met inside DuckDB is the user's to fix, like an
            # AmplioError; anything else is a bug: log it whole, show the user one line.
            failure = exc if isinstance(exc, AmplioError) else storage_error(exc)
            if failure is None:
                log.exception("job %s (%s) failed", job.id, job.kind)
                self._update(job, state="failed", error=f"internal error: {type(exc).__name__}: {exc}",
                             status_code=500, finished=time.time())
            else:
                self._update(job, state="failed", error=str(failure), status_code=failure.status_code,
                             finished=time.time())
        else:
            self._update(job, state="done", result=result, finished=time.time())

    def get(self, job_id: str) -> Job:
        """The job ``job_id``. Raises ``NotFoundError``."""
        with self._cond:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job with id {job_id}")
        return job

    def wait_change(self, job: Job, version: int, timeout: float) -> dict[str, Any]:
        """Block until ``job`` changes past ``version`` (or ``timeout``); return its public view."""
        with self._cond:
            self._cond.wait_for(lambda: job.version != version, timeout=timeout)
            return {**job.public(), "version": job.version}

    def shutdown(self) -> None:
        """Stop accepting jobs; running ones finish in their thread."""
        self._pool.shutdown(wait=False, cancel_futures=True)
