"""The shapes of every API response, so ``/openapi.json`` says what each route returns.

The web UI's TypeScript types are generated from that schema (``web/src/schema.d.ts``), and
the fuzzing tests check every response against it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["candidate", "accepted", "rejected"]
Origin = Literal["original", "augmented", "manual"]


class Model(BaseModel):
    """A response model: extra keys a newer server adds are kept, not refused."""

    model_config = ConfigDict(extra="allow")


class ErrorEnvelope(Model):
    """Every 4xx and 5xx answer."""

    ok: Literal[False] = False
    error: str = Field(description="what was wrong, and what to do")
    status: int
    field: str | None = Field(None, description="the input that was wrong, in the API's own names")


class Info(Model):
    path: str
    rows: int
    original: int
    augmented: int
    manual: int
    accepted: int
    candidates: int
    rejected: int
    methods: dict[str, int]
    text_column: str | None = None
    label_column: str | None = None
    encoder: str | None = None
    dim: int | None = None
    labels: dict[str, int]
    clusters: int
    source: str | None = None
    skipped_empty: int = 0
    duplicates_folded: int = 0
    projection_fitted_rows: int | None = None
    schema_version: int | None = None
    concepts: dict[str, Any] | None = None
    export_formats: list[str]
    token_required: bool
    reference: str | None = None


class Points(Model):
    """Every row as compact columns: base64 of little-endian typed arrays (see ``encoding``)."""

    count: int
    encoding: dict[str, str]
    columns: dict[str, str]
    categories: dict[str, list[str]]


class Row(Model):
    id: int
    text: str
    label: str | None = None
    origin: Origin
    method: str | None = None
    parents: list[int] = []
    params: dict[str, Any] = {}
    models: dict[str, Any] = {}
    status: Status
    created_at: str | None = None
    updated_at: str | None = None
    x: float | None = None
    y: float | None = None
    cluster: int | None = None
    source_index: int | None = None
    dup_count: int | None = None
    reviewed_by: str | None = None


class RowBrief(Model):
    id: int
    text: str
    label: str | None = None
    origin: Origin
    method: str | None = None
    parents: list[int] = []
    params: dict[str, Any] = {}
    status: Status
    x: float | None = None
    y: float | None = None
    cluster: int | None = None


class Hit(Model):
    id: int
    text: str
    label: str | None = None
    x: float | None = None
    y: float | None = None
    status: Status
    score: float | None = Field(None, description="semantic search: cosine to the query")


class SearchResult(Model):
    query: str
    mode: Literal["substring", "semantic"]
    hits: list[Hit]


class Cluster(Model):
    id: int
    keywords: list[str]
    label: str
    size: int
    x: float | None = None
    y: float | None = None


class Candidate(Model):
    id: int
    text: str
    method: str | None = None
    parents: list[int]
    fidelity: float | None = None
    novelty: float | None = None
    duplicate_of: int | None = None
    flags: list[str] = []
    x: float
    y: float
    status: Status
    params: dict[str, Any] = {}


class HeldBack(Model):
    text: str
    reasons: list[str]
    why: list[str]


class Partner(Model):
    id: int
    why: str
    cosine_to_start: float | None = None
    cosine_to_end: float | None = None


class AugmentationResult(Model):
    candidates: list[Candidate]
    held_back: list[HeldBack]
    note: str | None = None
    suggestions: list[Partner]


class JobStarted(Model):
    job_id: str


class FillStarted(JobStarted):
    gap: str


class Job(Model):
    id: str
    kind: str
    state: Literal["queued", "running", "done", "failed"]
    stage: str
    done: int
    total: int
    result: AugmentationResult | None = None
    error: str | None = None
    status: int | None = Field(None, description="the HTTP status of a failed job's error")
    seconds: float


class Concept(Model):
    id: int
    label: str
    frequency: float
    activation: float | None = None
    cosine: float | None = None
    share: float | None = Field(None, description="suggested: share of the row's neighbours that have it")
    related: list[Concept] | None = None
    top_rows: list[dict[str, Any]] | None = None


class RowConcepts(Model):
    row: int
    concepts: list[Concept]
    suggested: list[Concept]


class Ideas(Model):
    ideas: list[str]


class Gap(Model):
    id: str
    score: float
    x: float
    y: float
    size: float
    radius: float
    description: list[str]
    rim_rows: list[int]
    labels: dict[str, int]
    examples: list[str] | None = None
    reference: dict[str, Any] | None = None


class CoverageConcept(Model):
    id: int
    label: str
    rate: float = Field(description="share of all rows on which the concept is active")


class Suggestion(Model):
    id: int
    concept: int
    label: str
    rate_in_label: float
    rate_elsewhere: float


class Coverage(Model):
    """``rates[label][column]``: the share of the label's rows with that concept active."""

    rows: int
    threshold: float
    labels: list[str]
    label_rows: list[int]
    concepts: list[CoverageConcept]
    rates: list[list[float]]
    suggestions: dict[str, list[Suggestion]]
    label_column: str | None = None


class DiversitySection(Model):
    rows: int
    vendi: float | None = None
    mean_nn_distance: float | None = None
    occupied_area_share: float | None = None
    gaps: int
    gap_score_total: float


class DiversityReport(Model):
    all: DiversitySection
    labels: dict[str, DiversitySection]
    grid: int
    bounds: list[float]


class GapTotals(Model):
    count: int
    total_score: float


class Report(Model):
    before: DiversityReport
    after: DiversityReport
    gaps: GapTotals


class StatusChanged(Model):
    ok: bool
    ids: list[int]
    status: Status


class Undone(Model):
    ok: bool
    undone: dict[str, Any] | None = Field(None, description="what was undone; null when nothing was left")


class HistoryEntry(Model):
    seq: int
    action: str
    at: str
    undone: bool


# Documented on every route: what an error answer looks like.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": meaning}
    for code, meaning in ((400, "bad input"), (401, "missing or wrong token"), (403, "refused host or origin"),
                          (404, "no such row, concept, gap, job or route"), (409, "the workspace is locked or damaged"),
                          (422, "a request that does not match its schema"), (500, "a bug"),
                          (501, "a backend whose package is not installed"), (502, "a backend failed"),
                          (507, "the workspace could not be written (disk full, read-only folder)"))
}

# For a route whose own answer is not JSON (an event stream): FastAPI would document the errors in
# the route's media type, so these name theirs. The envelope's schema is in components already.
ERRORS_AS_JSON: dict[int | str, dict[str, Any]] = {
    code: {"description": spec["description"],
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}}
    for code, spec in ERRORS.items()
}

#: One server-sent event of ``GET /api/jobs/{job_id}/events`` (OpenAPI 3.1: ``schema`` is per event).
JOB_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["queued", "running", "done", "failed"],
                  "description": "the job's state"},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": {"$ref": "#/components/schemas/Job"}, "description": "the job, as JSON"},
    },
}
