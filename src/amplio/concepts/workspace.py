"""Concepts of a workspace: trained once on its rows, stored in it, read by the UI and CLI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from amplio.concepts.model import ConceptModel
from amplio.errors import InputError
from amplio.progress import Progress, silent

if TYPE_CHECKING:
    from amplio.workspace.workspace import Workspace

ARTIFACT = "concepts"


def load_concepts(ws: Workspace) -> ConceptModel | None:
    """The stored concept model, or ``None`` before training."""
    data = ws.store.get_artifact(ARTIFACT)
    return ConceptModel.from_bytes(data) if data else None


def train_workspace_concepts(ws: Workspace, *, seed: int = 0, progress: Progress = silent) -> ConceptModel:
    """Train the SAE on the workspace's original rows and store it (replacing any older one).

    Concepts describe the original data, so ``top_rows`` indices point at original row ids.
    """
    from amplio.concepts.train import train_concepts

    rows = ws.rows(origin="original")
    embeddings = ws.embeddings(rows["id"].tolist())
    model = train_concepts(embeddings, rows["text"].tolist(), seed=seed, progress=progress)
    model_ids = rows["id"].to_numpy(dtype=np.int64)
    with ws.store.transaction():
        ws.store.put_artifact(ARTIFACT, model.to_bytes())
        ws.store.put_artifact(ARTIFACT + "_row_ids", model_ids.tobytes())
        ws.store.set_meta("concepts", _stats(model))
    ws.meta["concepts"] = _stats(model)
    return model


def ensure_concepts(ws: Workspace, *, progress: Progress = silent) -> ConceptModel:
    """The stored concept model, training it first if there is none."""
    return load_concepts(ws) or train_workspace_concepts(ws, progress=progress)


def row_id_map(ws: Workspace) -> np.ndarray:
    """Row id of each training row index used by ``ConceptModel.top_rows``."""
    data = ws.store.get_artifact(ARTIFACT + "_row_ids")
    return np.frombuffer(data, dtype=np.int64) if data else np.zeros(0, dtype=np.int64)


def concept_donors(ws: Workspace, model: ConceptModel, cids: Sequence[int], *, per: int = 3) -> list[str]:
    """Texts of the rows where each concept in ``cids`` fires most (``per`` each), for the decoder
    to borrow phrases from when a row is steered toward those concepts."""
    ids = row_id_map(ws)
    top = [int(ids[i]) for cid in cids for i in model.top_rows(cid, per) if 0 <= i < len(ids)]
    return ws.rows(ids=top)["text"].tolist() if top else []


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
    """A row's top concepts with activations, and for each, related concepts (decoder cosine)."""
    model = ensure_concepts(ws)
    embedding = ws.embeddings([row_id])[0]
    found = []
    for cid, activation in model.top_concepts(embedding, k=top):
        entry = describe(model, cid)
        entry["activation"] = round(float(activation), 4)
        entry["related"] = [{**describe(model, r), "cosine": round(float(c), 4)}
                            for r, c in model.related(cid, k=related)]
        found.append(entry)
    return {"row": row_id, "concepts": found}


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
