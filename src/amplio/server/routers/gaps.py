"""Gaps (ranked empty spaces) and filling them as background jobs, concept coverage, and the
before/after diversity report."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from amplio.errors import InputError
from amplio.server import schemas
from amplio.server.routers import SEED_MAX, UnicodeText
from amplio.server.schemas import ERRORS
from amplio.server.state import StateDep

router = APIRouter(prefix="/api", tags=["gaps"], responses=ERRORS)


class FillBody(BaseModel):
    """How to fill one gap: the augmentation method and how many candidates."""

    method: Literal["concepts", "interpolate", "llm"]
    n: int = Field(3, ge=1, le=10)
    seed: int = Field(0, ge=0, le=SEED_MAX)
    instruction: UnicodeText | None = Field(None, max_length=2000, description="llm: what to change (optional)")


@router.get("/gaps", response_model=list[schemas.Gap], response_model_exclude_unset=True)
def gaps(state: StateDep, top: int = Query(10, ge=1, le=50), seed: int = Query(0, ge=0, le=SEED_MAX),
         against: Literal["data", "reference"] = "data") -> list[dict[str, Any]]:
    """Rank the empty spaces among the live rows (recomputed and stored on each call).

    Each gap: id, score, x, y (map position), size, radius, description (keywords), rim_rows
    (row ids around it, nearest first), labels (label counts on the rim). Fill one with
    ``POST /api/gaps/{gap_id}/fill``.

    ``against=reference``: the regions that the server's reference file (``amplio serve
    --reference FILE``; ``GET /api/info`` names it) covers and the rows do not; such gaps also
    carry ``examples`` (reference texts) and ``reference``, and ``size`` counts reference rows.
    A 400 when the server was started without one.
    """
    if against == "reference" and state.reference is None:
        raise InputError("this server has no reference set: start it with "
                         "`amplio serve WORKSPACE --reference FILE` to find gaps against one")
    reference = state.reference if against == "reference" else None
    with state.lock:
        return state.ws.gaps(top=top, seed=seed, reference=reference,
                             reference_text_column=state.reference_text_column)


@router.post("/gaps/{gap_id}/fill", response_model=schemas.FillStarted)
def fill(state: StateDep, gap_id: str, body: FillBody) -> dict[str, Any]:
    """Start a job filling gap ``gap_id`` (from the last ``GET /api/gaps``); like ``POST /api/augment``,
    poll ``/api/jobs/{job_id}`` or stream ``.../events``. Its candidates carry ``params.gap``.

    An unknown gap id answers 404 at once.
    """
    from amplio.workspace.gaps import get_gap

    with state.lock:
        get_gap(state.ws, gap_id)  # raises NotFoundError before any job starts
    ws = state.ws
    instruction = (body.instruction or "").strip() or None
    job = state.jobs.submit(f"gap {body.method}", lambda p: ws.fill_gap(
        gap_id, method=body.method, n=body.n, seed=body.seed, instruction=instruction, progress=p).to_dict())
    return {"job_id": job.id, "gap": gap_id}


@router.get("/coverage", response_model=schemas.Coverage)
def coverage(state: StateDep, concepts: int = Query(20, ge=1, le=100),
             top: int = Query(5, ge=1, le=20)) -> dict[str, Any]:
    """Concept coverage of the accepted rows (trains the concept model on first use).

    ``labels`` and ``label_rows``; ``concepts`` (id, label, rate over all rows) for the
    ``concepts`` most informative ones; ``rates[label][concept]``, the share of the label's rows on
    which the concept is active; ``suggestions[label]``: concepts common elsewhere but rare in it.
    """
    with state.lock:
        return state.ws.coverage(concepts=concepts, top=top)


@router.get("/report", response_model=schemas.Report)
def report(state: StateDep) -> dict[str, Any]:
    """Diversity before (original rows) and after (accepted rows), overall and per label:
    ``before``/``after`` sections with rows, vendi, mean_nn_distance, occupied_area_share; ``change``
    pairs them; ``gaps`` counts the gaps from the last gap search."""
    with state.lock:
        return state.ws.report()
