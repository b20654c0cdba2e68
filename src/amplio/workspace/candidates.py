"""Generated texts stored as candidate rows, with their quality signals and provenance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from amplio.augment.methods import STORED_DETAILS
from amplio.augment.texts import TextSet
from amplio.quality.checks import DEFAULT_DUPLICATE_COSINE, nearest_duplicate
from amplio.quality.gates import Proposal

if TYPE_CHECKING:
    from amplio.workspace.workspace import Workspace


def live_rows(ws: Workspace) -> TextSet:
    """Every row that is not rejected: what a candidate is compared with and may not copy."""
    rows = ws.rows()
    rows = rows[rows["status"] != "rejected"]
    ids = rows["id"].to_numpy(dtype=np.int64)
    return TextSet(ids, rows["text"].tolist(), ws.embeddings(ids.tolist()))


def store_candidates(ws: Workspace, chosen: Sequence[Proposal], params: Mapping[str, Any],
                     rows: TextSet, *, method: str, parents: Sequence[int],
                     models: dict[str, Any]) -> list[dict[str, Any]]:
    """Store ``chosen`` as candidate rows and return them as ``candidate_view`` dicts.

    Each keeps the request's ``params``, its own measurements (``STORED_DETAILS``), its
    fidelity, its novelty (1 - cosine to the nearest of ``rows`` that is a row) and, should one
    slip through, the row it copies (``duplicate_of``, flagged ``near-duplicate``).
    """
    if not chosen:
        return []
    embeddings = np.stack([p.embedding for p in chosen]).astype(np.float32)
    real = rows.ids >= 0
    sims = embeddings @ rows.embeddings[real].T if real.any() else np.zeros((len(chosen), 0))
    row_texts = [t for t, keep in zip(rows.texts, real, strict=True) if keep]
    stored = []
    for i, p in enumerate(chosen):
        dup = nearest_duplicate(p.text, embeddings[i], row_texts, rows.embeddings[real],
                                threshold=DEFAULT_DUPLICATE_COSINE)
        stored.append({
            **params,
            **{k: p.details[k] for k in STORED_DETAILS if k in p.details},
            "fidelity": None if p.fidelity is None else round(float(p.fidelity), 4),
            "novelty": round(float(1.0 - sims[i].max()), 4) if sims.shape[1] else 1.0,
            "duplicate_of": None if dup is None else int(rows.ids[real][dup]),
            "flags": ["near-duplicate"] if dup is not None else [],
        })
    ids = ws.add_rows([p.text for p in chosen], origin="augmented", method=method, parents=parents,
                      params=stored, models=models, status="candidate", embeddings=embeddings)
    return [candidate_view(r) for r in ws.rows(ids=ids).to_dict("records")]


def candidate_view(row: dict[str, Any]) -> dict[str, Any]:
    """A stored candidate row in the shape the CLI and the server print."""
    params = row["params"]
    return {
        "id": int(row["id"]), "text": row["text"], "method": row["method"],
        "parents": list(row["parents"]), "fidelity": params.get("fidelity"),
        "novelty": params.get("novelty"), "duplicate_of": params.get("duplicate_of"),
        "flags": params.get("flags", []), "x": float(row["x"]), "y": float(row["y"]),
        "status": row["status"],
        "params": {k: v for k, v in params.items() if k not in ("fidelity", "novelty", "duplicate_of", "flags")},
    }
