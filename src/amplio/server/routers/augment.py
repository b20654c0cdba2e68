"""Augmentation as background jobs with progress, plus concepts and prompt ideas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from amplio.augment.request import AugmentRequest
from amplio.server import schemas
from amplio.server.routers import SEED_MAX, UnicodeText
from amplio.server.schemas import ERRORS
from amplio.server.state import StateDep

router = APIRouter(prefix="/api", tags=["augment"], responses=ERRORS)


class AugmentBody(BaseModel):
    """One augmentation request; which fields matter depends on ``method``."""

    method: Literal["concepts", "interpolate", "llm"]
    row_id: int
    weights: dict[int, float] = Field(default_factory=dict, description="concepts: concept id -> weight in [-1, 1]")
    to_row: int | None = Field(None, description="interpolate: the second row")
    to_point: tuple[float, float] | None = Field(None, description="interpolate: a map point (x, y)")
    row_ids: list[int] = Field(default_factory=list, description="llm: more rows to vary with row_id")
    instruction: UnicodeText = Field("", max_length=2000, description="llm: what to change")
    n: int = Field(3, ge=1, le=10)
    seed: int = Field(0, ge=0, le=SEED_MAX)


@router.post("/augment", response_model=schemas.JobStarted)
def augment(state: StateDep, body: AugmentBody) -> dict[str, Any]:
    """Start an augmentation job; poll ``/api/jobs/{job_id}`` or stream ``.../events``.

    The job's result is ``{"candidates", "held_back", "note", "suggestions"}``: the stored
    candidate dicts (id, text, method, parents, fidelity, novelty, duplicate_of, flags, x, y,
    status, params); the texts held back, each with its reasons; why fewer than ``n`` came
    back; rows to try instead. A request that is incomplete answers 400 at once, naming the
    ``field``.
    """
    request = AugmentRequest(**body.model_dump()).check()
    ws = state.ws
    job = state.jobs.submit(body.method, lambda p: ws.augment(request, progress=p).to_dict())
    return {"job_id": job.id}


@router.get("/jobs/{job_id}", response_model=schemas.Job, response_model_exclude_unset=True)
def job(state: StateDep, job_id: str) -> dict[str, Any]:
    """A job's state (queued, running, done, failed), progress, result or error. Needs no
    workspace lock, so it answers while the job runs."""
    return state.jobs.get(job_id).public()


class EventStream(StreamingResponse):
    """Server-sent events, so ``/openapi.json`` documents ``text/event-stream``, not JSON."""

    media_type = "text/event-stream"


@router.get("/jobs/{job_id}/events", response_class=EventStream, responses={
    **schemas.ERRORS_AS_JSON,
    200: {"description": "one event per change of the job", "content": {"text/event-stream": {"schema": schemas.JOB_EVENT}}},
})
async def job_events(state: StateDep, job_id: str) -> StreamingResponse:
    """Server-sent events: one ``data:`` line of job JSON per change, ending when it finishes."""
    found = state.jobs.get(job_id)

    async def stream() -> AsyncIterator[str]:
        version = -1
        while True:
            view = await asyncio.to_thread(state.jobs.wait_change, found, version, 10.0)
            if view["version"] != version:
                version = view["version"]
                yield f"event: {view['state']}\ndata: {json.dumps(view)}\n\n"
            else:
                yield ": keep-alive\n\n"
            if view["state"] in ("done", "failed"):
                return

    return EventStream(stream(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/rows/{row_id:int}/concepts", response_model=schemas.RowConcepts, response_model_exclude_unset=True)
def row_concepts(state: StateDep, row_id: int, top: int = Query(10, ge=1, le=50)) -> dict[str, Any]:
    """The row's top concepts and related ones (trains the concept model on first use)."""
    with state.lock:
        return state.ws.concepts_for_row(row_id, top=top)


@router.get("/concepts/search", response_model=list[schemas.Concept], response_model_exclude_unset=True)
def concept_search(state: StateDep, q: str = Query(..., min_length=1, max_length=500), k: int = Query(10, ge=1, le=100)) -> list[dict[str, Any]]:
    """Concepts matching ``q`` by label or meaning."""
    with state.lock:
        return state.ws.search_concepts(q, k=k)


@router.get("/concepts/{concept_id}/related", response_model=list[schemas.Concept], response_model_exclude_unset=True)
def related(state: StateDep, concept_id: int, k: int = Query(5, ge=1, le=50)) -> list[dict[str, Any]]:
    """Concepts whose directions are closest to ``concept_id``'s."""
    with state.lock:
        return state.ws.related_concepts(concept_id, k=k)


@router.get("/rows/{row_id:int}/ideas", response_model=schemas.Ideas)
def ideas(state: StateDep, row_id: int, n: int = Query(5, ge=1, le=10),
          seed: int = Query(0, ge=0, le=SEED_MAX)) -> dict[str, Any]:
    """Suggested instructions for Augment with LLM."""
    with state.lock:
        return {"ideas": state.ws.prompt_ideas(row_id, n=n, seed=seed)}
