"""Gaps and diversity of a workspace, and filling a gap with an augmentation method."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from amplio.errors import InputError, NotFoundError
from amplio.llm.continuation import flatten
from amplio.progress import Progress, silent
from amplio.workspace.references import load_reference
from amplio.workspace.store import GAPS

if TYPE_CHECKING:
    from amplio.augment.result import Augmentation
    from amplio.workspace.workspace import Workspace



def _live_rows(ws: Workspace) -> tuple[Any, np.ndarray]:
    rows = ws.rows()
    rows = rows[rows["status"] != "rejected"].reset_index(drop=True)
    return rows, ws.embeddings(rows["id"].tolist())


def compute_gaps(ws: Workspace, *, top: int = 10, seed: int = 0, reference: str | Path | None = None,
                 reference_text_column: str | None = None,
                 progress: Progress = silent) -> list[dict[str, Any]]:
    """Find and rank the gaps among the workspace's live (not rejected) rows, and store them.

    Without ``reference``: empty regions inside the rows (``amplio.gaps.finder``). With it (a
    CSV/TSV/JSON/JSONL/Parquet file of prompts): regions the reference covers and the rows do not
    (``amplio.gaps.reference``); its texts are embedded with the workspace's encoder once and
    cached in the workspace by the file's content hash. Rim rows are reported as row ids. The
    stored list (with each reference gap's examples) is what ``--gap ID`` refers to, so filling a
    reference gap does not need the reference again.
    """
    rows, embeddings = _live_rows(ws)
    xy = rows[["x", "y"]].to_numpy(dtype=np.float32)
    source: dict[str, Any] | None = None
    if reference is None:
        from amplio.gaps.finder import find_gaps

        found: list[Any] = find_gaps(embeddings, xy, rows["text"].tolist(), row_labels(rows),
                                     top=top, seed=seed, project=ws.place)
    else:
        from amplio.gaps.reference import find_reference_gaps

        ref = load_reference(ws, reference, text_column=reference_text_column, progress=progress)
        found = find_reference_gaps(embeddings, xy, rows["text"].tolist(), row_labels(rows),
                                    ref.embeddings, ref.texts, top=top, seed=seed, project=ws.place)
        source = ref.describe()
    ids = rows["id"].to_numpy()
    gaps = []
    for gap in found:
        data = gap.to_dict()
        data["rim_rows"] = [int(ids[i]) for i in data["rim_rows"]]
        if source is not None:
            data["reference"] = source
        data["center_embedding"] = [round(float(v), 6) for v in gap.center_embedding]
        gaps.append(data)
    with ws.store.transaction():
        ws.store.put_artifact(GAPS, json.dumps(gaps).encode("utf-8"))
    return [_public(g) for g in gaps]


MAX_EXAMPLE_CHARS = 300  # reference examples are cut to this length in the LLM's topic hint
COVERAGE_CHUNK = 50_000  # rows whose concept activations are held at once


def stored_gaps(ws: Workspace) -> list[dict[str, Any]]:
    data = ws.store.get_artifact(GAPS)
    return json.loads(data) if data else []


def get_gap(ws: Workspace, gap_id: str) -> dict[str, Any]:
    gaps = stored_gaps(ws) or []
    if not gaps:
        compute_gaps(ws)
        gaps = stored_gaps(ws)
    for gap in gaps:
        if str(gap["id"]) == str(gap_id):
            return gap
    raise NotFoundError(f"no gap {gap_id!r}; run `amplio gaps` to list the current ones")


def _public(gap: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in gap.items() if k != "center_embedding"}


def fill_gap(ws: Workspace, gap_id: str, *, method: str, n: int = 3, seed: int = 0,
             instruction: str | None = None, progress: Progress = silent) -> Augmentation:
    """Fill gap ``gap_id`` with one method; candidates carry the gap id in their provenance.

    - interpolate: between the two rim rows that sit most opposite across the gap's centre (for a
      reference gap: from the rim row nearest the centre to the centre itself);
    - concepts: steer the rim row nearest the centre with the concepts that the centre has and it lacks;
    - llm: variations of rim rows, told the gap's description (for a reference gap, also two of
      its reference examples, as data in the topic hint).

    Reference gaps (from ``compute_gaps(reference=...)``) are filled from what was stored with
    them (centre, rim rows, keywords, examples); the reference file is not read again. Their
    examples guide the concepts and interpolate decodes (few-shot neighbours and words to
    borrow near the centre, where no row is); a copy of one is flagged as a near-duplicate,
    whichever the method.
    """
    gap = get_gap(ws, gap_id)
    center = np.asarray(gap["center_embedding"], dtype=np.float32)
    rim = [int(r) for r in gap["rim_rows"]]
    if len(rim) < 2:
        raise InputError(f"gap {gap_id} has fewer than two rim rows to work from")
    rim_emb = ws.embeddings(rim)
    closeness = rim_emb @ center
    nearest = int(np.argmax(closeness))  # the rim row nearest the centre
    extra = {"gap": str(gap["id"])}
    aug = ws.augmenter
    # A reference gap lies outside the rows: its reference examples show the decoder what is
    # there (see Augmenter._guided), and interpolation walks from the nearest rim row into it.
    guides = [str(t) for t in gap.get("examples") or []]
    if method == "interpolate" and guides:
        return aug.interpolate(rim[nearest], to_embedding=center, n=n, seed=seed,
                               extra={**extra, "to": "gap centre"}, guides=guides, progress=progress)
    if method == "interpolate":
        offsets = rim_emb - center
        pair = np.unravel_index(np.argmin(offsets @ offsets.T), (len(rim), len(rim)))
        a, b = rim[int(pair[0])], rim[int(pair[1])]
        if a == b:
            a, b = rim[0], rim[1]
        return aug.interpolate(a, to_row=b, n=n, seed=seed, extra=extra, progress=progress)
    if method == "concepts":
        from amplio.workspace.concepts import ensure_concepts

        model = ensure_concepts(ws, progress=progress)
        gain = model.encode(center[None, :])[0] - model.encode(rim_emb[nearest][None, :])[0]
        chosen = [int(c) for c in np.argsort(-gain)[:3] if gain[c] > 0]
        if not chosen:
            raise InputError(f"no concept separates gap {gap_id}'s centre from its rim; try interpolate")
        weights = {c: 1.0 for c in chosen}
        return aug.concepts(rim[nearest], weights, n=n, seed=seed, extra=extra, guides=guides,
                            progress=progress)
    if method == "llm":
        order = np.argsort(-closeness)[:3]
        topic = ", ".join(gap.get("description") or [])  # Gap.to_dict stores keywords as a list
        if guides:
            # A reference gap: the missing territory is what the reference rows there are about.
            # Their texts go to the LLM as data inside the topic hint, never as instructions.
            shown = "; ".join('"' + flatten(t, MAX_EXAMPLE_CHARS).replace('"', "'") + '"' for t in guides[:2])
            topic = f"{topic}; like these prompts from the reference: {shown}" if topic else shown
            instruction = instruction or ("rewrite this prompt so that it is about the topic of "
                                          "the reference prompts, keeping its style")
        return aug.llm_variations(
            [rim[int(i)] for i in order],
            instruction or "write a new prompt on a related but different topic",
            n=n, seed=seed, context=topic or None, extra=extra, guides=guides, progress=progress)
    raise InputError(f"method must be concepts, interpolate or llm, not {method!r}")


def diversity(ws: Workspace) -> dict[str, Any]:
    """Diversity of the accepted set now, and of the original rows, for a before/after view."""
    from amplio.gaps.metrics import compare, diversity_report, map_bounds

    # The map's columns, not the texts: at a million rows the whole rows frame is gigabytes.
    rows = ws.points()
    rows = rows[rows["status"] != "rejected"].reset_index(drop=True)
    embeddings = ws.embeddings(rows["id"].tolist())
    accepted = (rows["status"] == "accepted").to_numpy()
    original = (rows["origin"] == "original").to_numpy()
    gaps = stored_gaps(ws)
    xy = rows[["x", "y"]].to_numpy(dtype=np.float32)
    labels = row_labels(rows)
    box = map_bounds(xy)  # one box for both, so area shares compare

    def report(mask: np.ndarray) -> dict[str, Any]:
        if mask.all():  # no copy of every row's vector
            return diversity_report(embeddings, xy, labels, bounds=box)
        return diversity_report(embeddings[mask], xy[mask], [labels[i] for i in np.flatnonzero(mask)],
                                bounds=box)

    before, after = report(original), report(accepted)
    return {"before": before, "after": after, "change": compare(before, after),
            "gaps": {"count": len(gaps), "total_score": round(sum(float(g["score"]) for g in gaps), 4)}}


def row_labels(rows: pd.DataFrame) -> list[str | None]:
    """The ``label`` column as strings, with missing labels as ``None``.

    Under pandas' string dtype a missing label reads back as NaN; it must count as "no label",
    not as a label called "nan".
    """
    return [None if pd.isna(v) else str(v) for v in rows["label"].tolist()]


def workspace_coverage(ws: Workspace, *, concepts: int = 20, top: int = 5,
                       threshold: float = 0.0) -> dict[str, Any]:
    """``coverage_summary`` over the workspace's accepted rows and its concept model.

    Trains the concept model first if the workspace has none. Each suggestion also carries the
    concept's ``id``; the result adds the workspace's ``label_column``.
    """
    from amplio.gaps.coverage import ActiveCounts, coverage_summary
    from amplio.workspace.concepts import ensure_concepts

    model = ensure_concepts(ws)
    rows = ws.points()
    rows = rows[rows["status"] == "accepted"]
    if rows.empty:
        raise InputError("no accepted rows to measure concept coverage on")
    ids = rows["id"].tolist()
    labels = row_labels(rows)
    del rows
    # Counted a chunk at a time: a million rows' activations at once would be
    # n x (up to 4,096) floats, 16 GiB.
    counts = ActiveCounts(len(model.labels), float(threshold))
    for start in range(0, len(ids), COVERAGE_CHUNK):
        chunk = ids[start:start + COVERAGE_CHUNK]
        counts.add(model.encode(ws.embeddings(chunk)), labels[start:start + COVERAGE_CHUNK])
    result = coverage_summary(counts, labels, model.labels, concepts=concepts, top=top)
    for picks in result["suggestions"].values():
        for pick in picks:
            pick["id"] = pick["concept"]
    result["label_column"] = ws.meta.get("label_column")
    return result
