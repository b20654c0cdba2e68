"""Gaps and diversity of a workspace, and filling a gap with an augmentation method."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from amplio.errors import InputError, NotFoundError
from amplio.progress import Progress, silent

if TYPE_CHECKING:
    from amplio.augment.engine import Augmentation
    from amplio.workspace.workspace import Workspace

ARTIFACT = "gaps"


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
        ws.store.put_artifact(ARTIFACT, json.dumps(gaps).encode("utf-8"))
    return [_public(g) for g in gaps]


REFERENCE_ARTIFACT = "gaps-reference"  # + ":" + content hash, text column and encoder
MAX_EXAMPLE_CHARS = 300  # reference examples are cut to this length in the LLM's topic hint


@dataclass
class ReferenceSet:
    """A reference file's texts and their embeddings (same encoder as the workspace)."""

    path: str
    sha256: str
    text_column: str
    texts: list[str]
    embeddings: np.ndarray
    cached: bool

    def describe(self) -> dict[str, Any]:
        from amplio.data.reference import reference_name

        return {"path": self.path, "name": reference_name(self.path), "sha256": self.sha256,
                "text_column": self.text_column, "rows": len(self.texts)}


def _content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode("utf-8") + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def load_reference(ws: Workspace, reference: str | Path, *, text_column: str | None = None,
                   progress: Progress = silent) -> ReferenceSet:
    """Read a reference file, pick its text column and embed it (cached by content hash).

    ``reference`` is a path, or ``"bundled"`` for the bundled public red-teaming sets
    (``amplio.data.reference``).

    Raises:
        InputError: the file is missing or unreadable, the text column is not there, or the
            file holds no non-empty text.
    """
    from amplio.data.columns import pick_text_column
    from amplio.data.loaders import read_table
    from amplio.data.reference import resolve_reference

    path = resolve_reference(reference)
    if not path.exists():
        raise InputError(f"no such reference file: {path} (give a CSV/TSV/JSON/JSONL/Parquet file "
                         f"of prompts, or `bundled` for the bundled public red-teaming sets)")
    frame = read_table(path)
    if text_column and text_column not in frame.columns:
        raise InputError(f"--reference-text-column {text_column!r} is not a column of {path.name}; "
                         f"columns are: {', '.join(map(str, frame.columns))}")
    column = pick_text_column(frame, text_column)
    texts = list(dict.fromkeys(
        str(v).strip() for v in frame[column].tolist() if not pd.isna(v) and str(v).strip()))
    if not texts:
        raise InputError(f"the reference {path.name} has no text in column {column!r}")
    sha = _content_hash(path)
    name = f"{REFERENCE_ARTIFACT}:{sha}:{column}:{ws.meta['encoder']}"
    cached = ws.store.get_artifact(name)
    if cached:
        with np.load(io.BytesIO(cached), allow_pickle=False) as data:
            if int(data["embeddings"].shape[0]) == len(texts):
                return ReferenceSet(str(path), sha, column, texts,
                                    data["embeddings"].astype(np.float32), cached=True)
    from amplio.embedding.batching import embed_texts

    vectors = np.asarray(embed_texts(ws.encoder, texts, progress=progress), dtype=np.float32)
    if vectors.shape[1] != int(ws.meta["dim"]):
        raise InputError(f"the encoder gave {vectors.shape[1]}-d vectors, the workspace holds "
                         f"{ws.meta['dim']}-d ones")
    buffer = io.BytesIO()
    np.savez(buffer, embeddings=vectors)
    if not ws.store.read_only:
        with ws.store.transaction():
            ws.store.put_artifact(name, buffer.getvalue())
    return ReferenceSet(str(path), sha, column, texts, vectors, cached=False)


def stored_gaps(ws: Workspace) -> list[dict[str, Any]]:
    data = ws.store.get_artifact(ARTIFACT)
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
        from amplio.concepts.workspace import ensure_concepts

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
            shown = "; ".join(f'"{_one_line(t)}"' for t in guides[:2])
            topic = f"{topic}; like these prompts from the reference: {shown}" if topic else shown
            instruction = instruction or ("rewrite this prompt so that it is about the topic of "
                                          "the reference prompts, keeping its style")
        return aug.llm_variations(
            [rim[int(i)] for i in order],
            instruction or "write a new prompt on a related but different topic",
            n=n, seed=seed, context=topic or None, extra=extra, guides=guides, progress=progress)
    raise InputError(f"method must be concepts, interpolate or llm, not {method!r}")


def _one_line(text: str) -> str:
    flat = " ".join(str(text).split()).replace('"', "'")
    return flat if len(flat) <= MAX_EXAMPLE_CHARS else flat[:MAX_EXAMPLE_CHARS - 1] + "…"


def diversity(ws: Workspace) -> dict[str, Any]:
    """Diversity of the accepted set now, and of the original rows, for a before/after view."""
    from amplio.gaps.metrics import compare, diversity_report, map_bounds

    rows, embeddings = _live_rows(ws)
    accepted = (rows["status"] == "accepted").to_numpy()
    original = (rows["origin"] == "original").to_numpy()
    gaps = stored_gaps(ws)
    xy = rows[["x", "y"]].to_numpy(dtype=np.float32)
    labels = row_labels(rows)
    box = map_bounds(xy)  # one box for both, so area shares compare

    def report(mask: np.ndarray) -> dict[str, Any]:
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
