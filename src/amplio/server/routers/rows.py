"""Reading the workspace: info, map points, rows, search, clusters."""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query
from numpy.typing import NDArray

from amplio.data.records import plain
from amplio.errors import InputError
from amplio.server import schemas
from amplio.server.schemas import ERRORS
from amplio.server.state import StateDep

router = APIRouter(prefix="/api", tags=["rows"], responses=ERRORS)

#: Columns sent per point as uint8 codes into a list of names (keeps /api/points small at 1M rows).
_CATEGORICAL = ("label", "method", "origin", "status")


@router.get("/info", response_model=schemas.Info)
def info(state: StateDep) -> dict[str, Any]:
    """Workspace summary: counts by origin and status, labels, encoder, export formats."""
    from amplio.data.export import export_formats

    with state.lock:
        found = state.ws.info()
    from amplio.data.reference import reference_name

    reference = reference_name(state.reference) if state.reference else None
    return {**found, "export_formats": export_formats(), "token_required": state.token is not None,
            "reference": reference}


@router.get("/points", response_model=schemas.Points)
def points(state: StateDep) -> dict[str, Any]:
    """Every row as compact columns for the map.

    Numeric columns are base64 of little-endian typed arrays, so 1M rows cost ~13 MB rather
    than ~40 MB of JSON numbers: ``ids`` (int32), ``x``/``y`` (float32), ``cluster`` (int16,
    -1 = none), ``text_length`` (int32), and ``label``/``method``/``origin``/``status`` (uint8
    codes into ``categories[column]``, 255 = missing; at most 254 names, the rest fold into
    ``other``). ``encoding`` names each column's type.
    """
    with state.lock:
        frame = state.ws.points()
    columns = {
        "ids": frame["id"].to_numpy(np.int32),
        "x": frame["x"].to_numpy(np.float32),
        "y": frame["y"].to_numpy(np.float32),
        "cluster": frame["cluster"].fillna(-1).to_numpy(np.int16),
        "text_length": frame["text_length"].fillna(0).to_numpy(np.int32),
    }
    categories: dict[str, list[str]] = {}
    for column in _CATEGORICAL:
        codes, names = _codes(frame[column])
        columns[column] = codes
        categories[column] = names
    return {
        "count": len(frame),
        "encoding": {name: str(array.dtype) for name, array in columns.items()},
        "columns": {name: base64.b64encode(array.astype(array.dtype.newbyteorder("<")).tobytes()).decode()
                    for name, array in columns.items()},
        "categories": categories,
    }


def _codes(values: pd.Series) -> tuple[NDArray[np.uint8], list[str]]:
    """uint8 codes (255 = missing) for a string column; names by frequency, then name."""
    column = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    column = column.cat.rename_categories([str(c) for c in column.cat.categories])
    counts = column.value_counts()
    counts = counts[counts > 0]
    names = sorted(counts.index, key=lambda n: (-int(counts[n]), n))
    if len(names) > 254:  # keep the commonest; the map only has so many distinguishable colours
        names = [*names[:253], "other"]
    # Per category, not per row: its position in names (the folded tail is "other", the last).
    lookup = pd.Index(names).get_indexer(column.cat.categories)
    lookup[lookup < 0] = len(names) - 1
    raw = column.cat.codes.to_numpy()
    codes = np.full(len(values), 255, dtype=np.uint8)
    present = raw >= 0
    codes[present] = lookup[raw[present]].astype(np.uint8)
    return codes, names


# ``:int`` in every row route: otherwise ``GET /api/rows/status`` would read "status" as a row id
# (a 422) instead of answering 405, since that path takes only POST.
@router.get("/rows/{row_id:int}", response_model=schemas.Row)
def row(state: StateDep, row_id: int) -> dict[str, Any]:
    """One row with its provenance (origin, method, parents, params, models, status)."""
    with state.lock:
        return state.ws.row(row_id)


@router.get("/rows", response_model=list[schemas.RowBrief])
def rows(state: StateDep, status: Literal["candidate", "accepted", "rejected"] | None = None,
         origin: Literal["original", "augmented", "manual"] | None = None,
         limit: int = Query(200, ge=1, le=5000)) -> list[dict[str, Any]]:
    """Rows filtered by status and origin, newest first (e.g. the candidate list)."""
    with state.lock:
        frame = state.ws.rows(status=status, origin=origin)
    frame = frame.sort_values("id", ascending=False).head(limit)
    return [_brief(r) for r in frame.to_dict("records")]


@router.get("/search", response_model=schemas.SearchResult)
def search(state: StateDep, q: str = Query(..., min_length=1, max_length=2000),
           mode: Literal["substring", "semantic"] = "substring",
           k: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
    """Rows whose text contains ``q`` (case-insensitive), or the ``k`` nearest in meaning."""
    with state.lock:
        hits = state.ws.search(q, mode=mode, k=k)
    return {"query": q, "mode": mode, "hits": hits}


@router.get("/clusters", response_model=list[schemas.Cluster])
def clusters(state: StateDep) -> list[dict[str, Any]]:
    """Clusters with keyword labels and sizes, plus their centre on the map."""
    with state.lock:
        return state.ws.clusters()


def _brief(record: dict[str, Any]) -> dict[str, Any]:
    """A row for lists: provenance kept, numpy scalars and NaN made JSON-safe."""
    keep = ("id", "text", "label", "origin", "method", "parents", "params", "status", "x", "y", "cluster")
    return {key: plain(record.get(key)) for key in keep}


def check_ids(ids: list[int]) -> list[int]:
    """Reject an empty id list with a readable message."""
    if not ids:
        raise InputError("give at least one row id")
    return ids
