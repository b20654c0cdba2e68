"""Concepts of a workspace: trained once on its rows, stored in it, read by the UI and CLI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from amplio.concepts.model import ConceptModel
from amplio.data.reference import BUNDLED
from amplio.errors import InputError
from amplio.progress import Progress, silent
from amplio.workspace.store import CONCEPT_ROW_IDS, CONCEPTS

if TYPE_CHECKING:
    from amplio.workspace.workspace import Workspace

# Above this many original rows the SAE trains on a seeded sample of TRAIN_SAMPLE of them: at a
# million rows the minimum of 5 epochs alone is 5M rows seen (tens of minutes on 2 cores), and a
# 100k sample already fills the largest dictionary (4,096 concepts). Top rows and frequencies
# then describe the sample.
TRAIN_SAMPLE = 100_000


def load_concepts(ws: Workspace) -> ConceptModel | None:
    """The stored concept model, or ``None`` before training."""
    data = ws.store.get_artifact(CONCEPTS)
    return ConceptModel.from_bytes(data) if data else None


def train_workspace_concepts(ws: Workspace, *, seed: int = 0, reference: str | None = BUNDLED,
                             progress: Progress = silent) -> ConceptModel:
    """Train the SAE on the workspace's original rows plus ``reference`` and store it (replacing
    any older one).

    ``reference`` names a prompt file (``"bundled"``: the bundled public red-teaming sets, the
    default; ``None``: the rows alone). Its texts widen what the dictionary learns: a few
    hundred rows alone give concepts that are names and odd word pairs. Its embeddings are
    cached in the workspace. Concepts describe the original data: ``top_rows`` indices point at
    original row ids, and frequencies count original rows (a seeded sample of ``TRAIN_SAMPLE``
    of them when there are more).
    """
    from amplio.concepts.train import train_concepts
    from amplio.quality.checks import normalise_text
    from amplio.workspace.references import load_reference

    rows = ws.rows(origin="original")
    if len(rows) > TRAIN_SAMPLE:
        sample = np.sort(np.random.default_rng(seed).choice(len(rows), TRAIN_SAMPLE, replace=False))
        rows = rows.iloc[sample]
    texts = rows["text"].tolist()
    embeddings = ws.embeddings(rows["id"].tolist())
    extra_texts: list[str] = []
    extra = None
    if reference is not None:
        found = load_reference(ws, reference, progress=progress)
        own = {normalise_text(t) for t in texts}
        keep = [i for i, t in enumerate(found.texts) if normalise_text(t) not in own]
        extra_texts = [found.texts[i] for i in keep]
        extra = found.embeddings[keep] if keep else None
    with ws.unlocked():
        model = train_concepts(embeddings, texts, seed=seed, reference=extra,
                               reference_texts=extra_texts if extra is not None else None,
                               encode=ws.encoder.encode, progress=progress)
    model_ids = rows["id"].to_numpy(dtype=np.int64)
    with ws.store.transaction():
        ws.store.put_artifact(CONCEPTS, model.to_bytes())
        ws.store.put_artifact(CONCEPT_ROW_IDS, model_ids.tobytes())
        ws.store.set_meta("concepts", _stats(model))
    ws.meta["concepts"] = _stats(model)
    return model


def ensure_concepts(ws: Workspace, *, progress: Progress = silent) -> ConceptModel:
    """The stored concept model, training it first if there is none."""
    model = load_concepts(ws)
    if model is not None:
        return model
    # Wait for a training that is under way without holding up the readers (see
    # ``Workspace.unlocked``); then it has stored its model, or this call trains one.
    with ws.unlocked():
        ws.training_concepts.acquire()
    try:
        return load_concepts(ws) or train_workspace_concepts(ws, progress=progress)
    finally:
        ws.training_concepts.release()


def row_id_map(ws: Workspace) -> np.ndarray:
    """Row id of each training row index used by ``ConceptModel.top_rows``."""
    data = ws.store.get_artifact(CONCEPT_ROW_IDS)
    return np.frombuffer(data, dtype=np.int64) if data else np.zeros(0, dtype=np.int64)


def concept_donors(ws: Workspace, model: ConceptModel, cids: Sequence[int], *, per: int = 3,
                   near: np.ndarray | None = None) -> list[str]:
    """Texts of rows where each concept in ``cids`` fires, ``per`` each: among its strongest
    rows, the ones nearest ``near`` (the row being steered) when given, else the strongest.

    They show the model the concept in a request like the row's own.
    """
    ids = row_id_map(ws)
    picked: list[int] = []
    for cid in cids:
        top = [int(ids[i]) for i in model.top_rows(cid, 50 if near is not None else per)
               if 0 <= i < len(ids)]
        if near is not None and len(top) > per:
            sims = ws.embeddings(top) @ near
            top = [top[i] for i in np.argsort(-sims, kind="stable")[:per]]
        picked += top[:per]
    return ws.rows(ids=picked)["text"].tolist() if picked else []


def describe(model: ConceptModel, cid: int, ws: Workspace | None = None, *, rows: int = 3) -> dict[str, Any]:
    """A concept as plain data: id, label, frequency, and a few of its top rows' texts."""
    out: dict[str, Any] = {"id": int(cid), "label": model.labels[cid],
                           "frequency": round(float(model.frequency[cid]), 4)}
    if ws is not None:
        ids = row_id_map(ws)
        top = [int(ids[i]) for i in model.top_rows(cid, rows) if 0 <= i < len(ids)]
        out["top_rows"] = [{"id": r["id"], "text": r["text"]} for r in ws.rows(ids=top).to_dict("records")]
    return out


def concepts_for_row(ws: Workspace, row_id: int, *, top: int = 10, related: int = 3) -> dict[str, Any]:
    """A row's top concepts with activations, for each the related concepts (decoder cosine),
    and ``suggested``: concepts its nearest rows share and it lacks (``suggest_concepts``)."""
    model = ensure_concepts(ws)
    embedding = ws.embeddings([row_id])[0]
    found = []
    for cid, activation in model.top_concepts(embedding, k=top):
        entry = describe(model, cid)
        entry["activation"] = round(float(activation), 4)
        entry["related"] = [{**describe(model, r), "cosine": round(float(c), 4)}
                            for r, c in model.related(cid, k=related)]
        found.append(entry)
    return {"row": row_id, "concepts": found, "suggested": suggest_concepts(ws, row_id)}


def suggest_concepts(ws: Workspace, row_id: int, *, k: int = 5, neighbours: int = 30) -> list[dict[str, Any]]:
    """Concepts to add to a row: active in many of its ``neighbours`` nearest rows, not in it.

    A concept its neighbours share is one the row's request can take on and still read as
    one request ("a blog post" for a tweet, "a hospital" for a clinic); a concept from across
    the map rarely is. Each comes with ``share``, the fraction of the neighbours that have it.
    """
    model = ensure_concepts(ws)
    ids, embeddings = ws.all_embeddings()
    origin = ws.embeddings([row_id])[0]
    order = [i for i in np.argsort(-(embeddings @ origin), kind="stable") if int(ids[i]) != int(row_id)]
    near = embeddings[order[:neighbours]]
    if not len(near):
        return []
    counts = (model.encode(near) > 0).sum(axis=0).astype(np.float64)
    counts[model.encode(origin[None, :])[0] > 0] = 0
    best = [int(c) for c in np.argsort(-counts, kind="stable")[:k] if counts[c] > 0]
    return [{**describe(model, c), "share": round(float(counts[c]) / len(near), 3)} for c in best]


def search_concepts(ws: Workspace, text: str, *, k: int = 10) -> list[dict[str, Any]]:
    """Concepts for a free-text query: label matches first, then by meaning."""
    if not text.strip():
        raise InputError("give some text to search concepts for")
    model = ensure_concepts(ws)
    by_label = model.search_labels(text)[:k]
    query = ws.encoder.encode([text])[0]
    by_meaning = [cid for cid, _ in model.search(query, k=k)]
    ordered = list(dict.fromkeys(by_label + by_meaning))[:k]
    return [describe(model, cid) for cid in ordered]


def _stats(model: ConceptModel) -> dict[str, Any]:
    return {k: (round(float(v), 4) if isinstance(v, float) else v) for k, v in model.stats.items()}
