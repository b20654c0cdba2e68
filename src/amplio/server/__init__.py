"""The web server and packaged UI: ``create_app(ws)`` and ``run(path)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi import FastAPI

    from amplio.workspace.workspace import Workspace


def create_app(ws: Workspace, *, token: str | None = None) -> FastAPI:
    """Build the FastAPI app for ``ws``; see ``amplio.server.app.create_app``."""
    from amplio.server.app import create_app as build

    return build(ws, token=token)


def run(ws_path: str | Path, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True,
        token: str | None = None, **uvicorn_options: Any) -> None:
    """Serve the workspace at ``ws_path``; see ``amplio.server.app.run``."""
    from amplio.server.app import run as serve

    serve(ws_path, host=host, port=port, open_browser=open_browser, token=token, **uvicorn_options)
