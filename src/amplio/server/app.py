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
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from amplio.server.errors import envelope, install_error_handlers
from amplio.server.routers import augment, gaps, review, rows
from amplio.server.state import ServerState

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

    from amplio.workspace.workspace import Workspace

STATIC_DIR = Path(__file__).parent / "static"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: On every response: no other page may frame the UI (clickjacking onto Accept), no content is
#: sniffed into another type, and a token in the page URL is not sent on as a Referer.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# Methods that change the workspace: a request from another site's page is refused.
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Every method ``/api/{rest}`` answers: an unknown path is a 404 and a known one a 405 whatever the method.
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def create_app(ws: Workspace, *, token: str | None = None, reference: str | Path | None = None,
               reference_text_column: str | None = None,
               allowed_hosts: Sequence[str] | None = ("127.0.0.1", "localhost", "[::1]"),
               port: int | None = None) -> FastAPI:
    """Build the app serving ``ws``.

    Args:
        ws: The open workspace; the app serialises every call into it with one lock.
        token: When given, every ``/api/`` request must carry it as the ``X-Amplio-Token``
            header or the ``token`` query parameter (``run`` sets one for non-local hosts).
        reference: A file of other prompts for ``GET /api/gaps?against=reference`` (see
            ``Workspace.gaps``); fixed here, so no request can make the server read a path.
        reference_text_column: Its text column (auto-detected when ``None``).
        allowed_hosts: The names a request's ``Host`` header may carry (any other gets a 403:
            a page on another site that rebinds its own name to 127.0.0.1 cannot read or change
            the workspace); ``None`` accepts any, for a server bound to a public interface,
            where the token protects it.
        port: The port the server listens on; a ``Host`` with another port is refused too.

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

    hosts = None if allowed_hosts is None else {_host_name(h) for h in allowed_hosts}

    @app.middleware("http")
    async def _check_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # Host first: DNS rebinding gives another site's page a name that resolves here.
        name, given_port = _split_host(request.headers.get("host", ""))
        if hosts is not None and (name not in hosts or (port is not None and given_port not in (None, port))):
            return envelope(f"host {request.headers.get('host', '')!r} is not this server's; open it "
                            f"as http://127.0.0.1:{port or 8000}/ or start it with --allow-host NAME", 403)
        # Then origin: a cross-site page may send a form or a fetch that changes the workspace.
        origin = request.headers.get("origin")
        if request.method in _WRITES and origin is not None and not _same_origin(origin, request):
            return envelope(f"requests that change the workspace must come from its own page, not {origin!r}",
                            403)
        # Only the API needs the token: the static UI holds no data, and reads the token from
        # the page URL (?token=) to send it with each API call.
        if token is not None and request.url.path.startswith("/api"):
            given = request.headers.get("x-amplio-token") or request.query_params.get("token") or ""
            if not secrets.compare_digest(given.encode(), token.encode()):
                return envelope("missing or wrong token: open the URL printed by `amplio serve`", 401)
        return await call_next(request)

    @app.middleware("http")
    async def _harden(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # Added last, so it is the outermost layer: the checks' refusals get the headers too.
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    routers = [module.router for module in (rows, review, augment, gaps)]
    for router in routers:
        app.include_router(router)
    routes = [(route.path_regex, route.methods or set()) for router in routers for route in router.routes
              if isinstance(route, APIRoute)]

    def allowed(path: str) -> str:
        """The methods the API answers on ``path``, as an ``Allow`` header ("" for none)."""
        return ", ".join(sorted({m for regex, methods in routes if regex.match(path) for m in methods}))

    def not_allowed(request: Request, allow: str) -> Response:
        answer = envelope(f"{request.method} is not allowed on {request.url.path}; use {allow}", 405)
        answer.headers["Allow"] = allow  # RFC 9110: a 405 names the methods that would work
        return answer

    async def _unknown(request: Request) -> Response:
        # Every method lands here, so a known path with the wrong method is a 405, not a 404.
        allow = allowed(request.scope["path"])
        return not_allowed(request, allow) if allow else envelope(f"no API route {request.scope['path']}", 404)

    app.add_route("/api/{rest:path}", _unknown, methods=_METHODS, include_in_schema=False)

    @app.exception_handler(405)
    async def _method_not_allowed(request: Request, exc: StarletteHTTPException) -> Response:
        # The envelope handler would drop Starlette's Allow header, and the static UI sends none.
        allow = allowed(request.scope["path"]) or (exc.headers or {}).get("Allow") or "GET, HEAD"
        return not_allowed(request, allow)

    if STATIC_DIR.joinpath("index.html").exists():
        # Only the packaged, built UI folder is served; nothing from the workspace or cwd.
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="ui")
    return app


def _split_host(value: str) -> tuple[str, int | None]:
    """A ``Host`` header's name (lower-case; an IPv6 address keeps its brackets) and port."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value.partition("]")
        name += "]"
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = value.partition(":")
    return name, int(port) if port.isdigit() else None


def _host_name(value: str) -> str:
    name = value.strip().lower()
    if ":" in name and not name.startswith("["):
        name = f"[{name}]" if name.count(":") > 1 else name.split(":")[0]  # ::1 -> [::1]
    return name


def _same_origin(origin: str, request: Request) -> bool:
    """Whether ``origin`` (scheme://host[:port]) is the server's own: the page it served."""
    return origin.rstrip("/").lower() == f"{request.url.scheme}://{request.headers.get('host', '')}".lower()


def run(ws_path: str | Path, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True,
        token: str | None = None, reference: str | Path | None = None,
        reference_text_column: str | None = None, allow_hosts: Sequence[str] = (),
        **uvicorn_options: Any) -> None:
    """Open the workspace at ``ws_path`` and serve it until interrupted.

    Binding to anything but localhost requires a token: one is made (``secrets.token_urlsafe``)
    when none is given, and the printed URL carries it. On localhost, requests must name the
    server as 127.0.0.1, localhost or [::1] with its port, or one of ``allow_hosts``.

    Args:
        ws_path: A workspace folder (made by ``amplio.open``).
        host: Interface to bind; ``127.0.0.1`` by default.
        port: TCP port.
        open_browser: Open the UI in the default browser once the server is up.
        token: Access token; required (and generated if missing) for non-local hosts, and
            offered for local ones (``amplio serve --token``).
        reference: A file of other prompts for reference gaps (see ``create_app``).
        reference_text_column: Its text column (auto-detected when ``None``).
        allow_hosts: More names the ``Host`` header may carry (a name in /etc/hosts, a proxy).
        **uvicorn_options: Passed to ``uvicorn.run`` (e.g. ``log_level``).
    """
    import uvicorn

    from amplio.workspace.workspace import Workspace

    if host not in LOCAL_HOSTS and not token:
        token = secrets.token_urlsafe(24)
    ws = Workspace.load(ws_path)
    local = host in LOCAL_HOSTS
    hosts = ["127.0.0.1", "localhost", "[::1]", host, *allow_hosts] if local else (list(allow_hosts) or None)
    app = create_app(ws, token=token, reference=reference, reference_text_column=reference_text_column,
                     allowed_hosts=hosts, port=port or None)  # port 0: the OS picks; any port
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
