"""One JSON error envelope for every failure: ``{"ok": false, "error": msg, "status": code}``,
plus ``"field"`` when the error names the input that was wrong (``AmplioError.field``)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from amplio.errors import AmplioError

log = logging.getLogger(__name__)


def envelope(message: str, status: int, field: str | None = None) -> JSONResponse:
    """The error response every route and handler uses."""
    body: dict[str, object] = {"ok": False, "error": message, "status": status}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors, HTTP errors and bugs onto the envelope."""

    @app.exception_handler(AmplioError)
    async def _amplio(_: Request, exc: AmplioError) -> JSONResponse:
        return envelope(str(exc), exc.status_code, exc.field)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return envelope("invalid request: " + "; ".join(parts), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return envelope(str(exc.detail), exc.status_code)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return envelope(f"internal error: {type(exc).__name__}", 500)
