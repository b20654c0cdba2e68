"""The Amplio web server: ``create_app(ws)`` builds the FastAPI app, ``run(path)`` serves it.

A thin layer over the ``Workspace`` API: each router calls the same methods the CLI does.
"""

from __future__ import annotations

import secrets
import webbrowser
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from amplio.server.errors import envelope, install_error_handlers
from amplio.server.routers import augment, gaps, review, rows
from amplio.server.state import ServerState

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from amplio.workspace.workspace import Workspace

STATIC_DIR = Path(__file__).parent / "static"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def create_app(ws: Workspace, *, token: str | None = None, reference: str | Path | None = None,
               reference_text_column: str | None = None) -> FastAPI:
    """Build the app serving ``ws``.

    Args:
        ws: The open workspace; the app serialises every call into it with one lock.
        token: When given, every ``/api/`` request must carry it as the ``X-Amplio-Token``
            header or the ``token`` query parameter (``run`` sets one for non-local hosts).
        reference: A file of other prompts for ``GET /api/gaps?against=reference`` (see
            ``Workspace.gaps``); fixed here, so no request can make the server read a path.
        reference_text_column: Its text column (auto-detected when ``None``).

    Returns:
        The FastAPI app: JSON API under ``/api``, schema at ``/openapi.json``, the packaged UI at ``/``.

    Example:
        >>> from fastapi.testclient import TestClient
        >>> TestClient(create_app(ws)).get("/api/info").json()["rows"]  # doctest: +SKIP
    """
    state = ServerState(ws=ws, token=token, reference=Path(reference) if reference else None,
                        reference_text_column=reference_text_column)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        state.jobs.shutdown()

    app = FastAPI(lifespan=lifespan, title="Amplio", version="0.1.0",
                  description="Explore a text dataset on a map and augment it with concepts, "
                              "interpolation and an LLM. Errors are `{ok: false, error, status}`.")
    app.state.amplio = state
    install_error_handlers(app)

    @app.middleware("http")
    async def _check_token(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # Only the API needs the token: the static UI holds no data, and reads the token from
        # the page URL (?token=) to send it with each API call.
        if token is not None and request.url.path.startswith("/api"):
            given = request.headers.get("x-amplio-token") or request.query_params.get("token") or ""
            if not secrets.compare_digest(given.encode(), token.encode()):
                return envelope("missing or wrong token: open the URL printed by `amplio serve`", 401)
        return await call_next(request)

    for module in (rows, review, augment, gaps):
        app.include_router(module.router)

    @app.get("/api/{rest:path}", include_in_schema=False)
    def _unknown(rest: str) -> Response:
        return envelope(f"no API route /api/{rest}", 404)

    if STATIC_DIR.joinpath("index.html").exists():
        # Only the packaged, built UI folder is served; nothing from the workspace or cwd.
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="ui")
    return app


def run(ws_path: str | Path, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True,
        token: str | None = None, reference: str | Path | None = None,
        reference_text_column: str | None = None, **uvicorn_options: Any) -> None:
    """Open the workspace at ``ws_path`` and serve it until interrupted.

    Binding to anything but localhost requires a token: one is made (``secrets.token_urlsafe``)
    when none is given, and the printed URL carries it.

    Args:
        ws_path: A workspace folder (made by ``amplio.open``).
        host: Interface to bind; ``127.0.0.1`` by default.
        port: TCP port.
        open_browser: Open the UI in the default browser once the server is up.
        token: Access token; required (and generated if missing) for non-local hosts.
        reference: A file of other prompts for reference gaps (see ``create_app``).
        reference_text_column: Its text column (auto-detected when ``None``).
        **uvicorn_options: Passed to ``uvicorn.run`` (e.g. ``log_level``).
    """
    import uvicorn

    from amplio.workspace.workspace import Workspace

    if host not in LOCAL_HOSTS and not token:
        token = secrets.token_urlsafe(24)
    ws = Workspace.load(ws_path)
    app = create_app(ws, token=token, reference=reference, reference_text_column=reference_text_column)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    print(f"Amplio is serving {ws.path} at {url}", flush=True)
    if open_browser:
        import threading

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    try:
        uvicorn.run(app, host=host, port=port, log_level=uvicorn_options.pop("log_level", "warning"),
                    **uvicorn_options)
    finally:
        ws.close()
