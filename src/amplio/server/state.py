"""What the routers share: the workspace, its lock and the job runner (kept on ``app.state``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from amplio.server.jobs import JobRunner

if TYPE_CHECKING:
    from amplio.workspace.workspace import Workspace


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
    lock: threading.Lock = field(default_factory=threading.Lock)
    jobs: JobRunner = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobRunner(self.lock)


def get_state(request: Request) -> ServerState:
    """FastAPI dependency: the app's ``ServerState``."""
    state: ServerState = request.app.state.amplio
    return state


#: Route parameter type that injects the shared ``ServerState``.
StateDep = Annotated[ServerState, Depends(get_state)]
