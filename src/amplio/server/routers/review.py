"""Changing the workspace: accept/reject, edit, manual add, undo, history and export."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from amplio.errors import InputError
from amplio.server import schemas
from amplio.server.routers import UnicodeText
from amplio.server.schemas import ERRORS
from amplio.server.state import StateDep

router = APIRouter(prefix="/api", tags=["review"], responses=ERRORS)


class StatusBody(BaseModel):
    """Rows to accept, reject or return to candidates."""

    ids: list[int] = Field(min_length=1, max_length=100_000)
    status: Literal["candidate", "accepted", "rejected"]


class TextBody(BaseModel):
    """A row's new text, or the text of a row added by hand."""

    text: UnicodeText = Field(min_length=1)
    label: UnicodeText | None = None


@router.post("/rows/status", response_model=schemas.StatusChanged)
def set_status(state: StateDep, body: StatusBody) -> dict[str, Any]:
    """Set the status of ``ids`` (one undoable action)."""
    with state.lock:
        state.ws.set_status(body.ids, body.status)
    return {"ok": True, "ids": body.ids, "status": body.status}


@router.post("/rows/{row_id:int}/edit", response_model=schemas.Row)
def edit(state: StateDep, row_id: int, body: TextBody) -> dict[str, Any]:
    """Replace a row's text; it is re-embedded and moves on the map."""
    with state.lock:
        return state.ws.edit_row(row_id, body.text)


@router.post("/rows", response_model=schemas.Row)
def add(state: StateDep, body: TextBody) -> dict[str, Any]:
    """Add a row typed by hand (accepted, origin ``manual``)."""
    with state.lock:
        (row_id,) = state.ws.add_rows([body.text], origin="manual", method="manual", status="accepted",
                                      label=body.label)
        return state.ws.row(row_id)


@router.post("/undo", response_model=schemas.Undone)
def undo(state: StateDep) -> dict[str, Any]:
    """Undo the last add, status change or edit; ``undone`` is null when there is nothing left."""
    with state.lock:
        return {"ok": True, "undone": state.ws.undo()}


@router.get("/history", response_model=list[schemas.HistoryEntry])
def history(state: StateDep, limit: int = Query(200, ge=1, le=5000)) -> list[dict[str, Any]]:
    """Actions taken in this workspace, newest first."""
    with state.lock:
        return state.ws.history(limit=limit)


#: What a download is sent as: a folder format arrives zipped; any file but CSV is opaque bytes.
_EXPORT_TYPES = {".csv": "text/csv", ".zip": "application/zip"}
_BINARY = "application/octet-stream"


@router.get("/export", response_class=FileResponse, responses={200: {
    "description": "the file, as an attachment",
    "content": {kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in (*_EXPORT_TYPES.values(), _BINARY)}}})
def export(state: StateDep, format: str = Query("csv"),  # noqa: A002 - the public query parameter name
           status: Literal["all", "accepted", "candidate", "rejected"] = "accepted") -> FileResponse:
    """Download the rows as ``format`` (csv, jsonl, parquet, or hf as a zip of the folder)."""
    from amplio.data.export import export_formats

    if format not in export_formats():
        raise InputError(f"unknown export format {format!r}; choose one of: {', '.join(export_formats())}")
    folder = Path(tempfile.mkdtemp(prefix="amplio-export-"))
    name = f"amplio-{status}"
    try:
        with state.lock:
            written = state.ws.export(folder / (name if format == "hf" else f"{name}.{format}"), format,
                                      status=status)
        if written.is_dir():  # the Hugging Face format is a folder: send it zipped
            written = Path(shutil.make_archive(str(folder / name), "zip", root_dir=written))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(written, filename=written.name, media_type=_EXPORT_TYPES.get(written.suffix, _BINARY),
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))
