"""What the routers share: the workspace, its lock and the job runner (kept on ``app.state``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from amplio.server.jobs import JobRunner

if TYPE_CHECKING:
    from amplio.workspace.workspace import Workspace


class WorkspaceLock:
    """A lock whose holder can lend it out around long computation (``released``).

    ``with lock:`` serialises calls into the workspace. Inside one, ``Workspace.unlocked`` is
    ``released``: training concepts or decoding a batch lets go of the lock, so searches, rows
    and job progress answer meanwhile, and takes it back before touching storage again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def __enter__(self) -> WorkspaceLock:
        self._lock.acquire()
        self._owner = threading.get_ident()
        return self

    def __exit__(self, *_: object) -> None:
        self._owner = None
        self._lock.release()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Let go of the lock for the block when this thread holds it; otherwise do nothing
        (the CLI, a notebook: nobody else is waiting)."""
        if self._owner != threading.get_ident():
            yield
            return
        self.__exit__()
        try:
            yield
        finally:
            self.__enter__()


@dataclass
class ServerState:
    """The open workspace and the lock that serialises every call into it.

    DuckDB connections are not thread-safe and FastAPI runs sync routes in a thread pool, so every
    route that touches ``ws`` holds ``lock``; background jobs hold it only while they run.
    """

    ws: Workspace
    token: str | None = None
    #: A file of other prompts chosen by whoever started the server (never by a request):
    #: ``GET /api/gaps?against=reference`` lists the regions it covers and the rows do not.
    reference: Path | None = None
    reference_text_column: str | None = None
    lock: WorkspaceLock = field(default_factory=WorkspaceLock)
    jobs: JobRunner = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobRunner(self.lock)
        if self.ws is not None:  # None only when the app is built for its OpenAPI document
            self.ws.unlocked = self.lock.released


def get_state(request: Request) -> ServerState:
    """FastAPI dependency: the app's ``ServerState``."""
    state: ServerState = request.app.state.amplio
    return state


#: Route parameter type that injects the shared ``ServerState``.
StateDep = Annotated[ServerState, Depends(get_state)]
