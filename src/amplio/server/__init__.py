"""The web server and packaged UI: ``create_app(ws)`` and ``run(path)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi import FastAPI

    from amplio.workspace.workspace import Workspace


def create_app(ws: Workspace, **options: Any) -> FastAPI:
    """Build the FastAPI app for ``ws`` (``token``, ``reference``...); see ``amplio.server.app.create_app``."""
    from amplio.server.app import create_app as build

    return build(ws, **options)


def run(ws_path: str | Path, **options: Any) -> None:
    """Serve the workspace at ``ws_path`` (``host``, ``port``, ``reference``...); see
    ``amplio.server.app.run``."""
    from amplio.server.app import run as serve

    serve(ws_path, **options)
