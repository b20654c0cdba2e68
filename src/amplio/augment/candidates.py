"""Store generated texts as candidate rows with their quality signals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from amplio.quality.checks import DEFAULT_DUPLICATE_COSINE, nearest_duplicate

if TYPE_CHECKING:
    from amplio.workspace.workspace import Workspace


@dataclass
class Reference:
    """The rows a candidate is compared with: every row that is not rejected."""

    ids: NDArray[np.int64]
    texts: list[str]
    embeddings: NDArray[np.float32]


def reference_rows(ws: Workspace) -> Reference:
    rows = ws.rows()
    rows = rows[rows["status"] != "rejected"]
    ids = rows["id"].to_numpy(dtype=np.int64)
    return Reference(ids, rows["text"].tolist(), ws.embeddings(ids.tolist()))


@dataclass
class Draft:
    """A generated text before it is stored."""

    text: str
    embedding: NDArray[np.float32]
    params: dict[str, Any]
    fidelity: float | None = None
    flags: list[str] = field(default_factory=list)


def store_candidates(
    ws: Workspace,
    drafts: Sequence[Draft],
    reference: Reference,
    *,
    method: str,
    parents: Sequence[int],
    models: dict[str, Any],
) -> list[dict[str, Any]]:
    """Score each draft against the reference rows, store it as a candidate, return candidates.

    novelty = 1 - cosine to the nearest reference row; ``duplicate_of`` names the row a draft
    copies (cosine above 0.97 or the same words), and such drafts carry a ``near-duplicate`` flag.
    """
    if not drafts:
        return []
    embeddings = np.stack([d.embedding for d in drafts]).astype(np.float32)
    sims = embeddings @ reference.embeddings.T if len(reference.ids) else np.zeros((len(drafts), 0))
    params = []
    for i, draft in enumerate(drafts):
        novelty = float(1.0 - sims[i].max()) if sims.shape[1] else 1.0
        dup = nearest_duplicate(draft.text, embeddings[i], reference.texts, reference.embeddings,
                                threshold=DEFAULT_DUPLICATE_COSINE)
        flags = list(dict.fromkeys(draft.flags + (["near-duplicate"] if dup is not None else [])))
        params.append({
            **draft.params,
            "fidelity": None if draft.fidelity is None else round(float(draft.fidelity), 4),
            "novelty": round(novelty, 4),
            "duplicate_of": None if dup is None else int(reference.ids[dup]),
            "flags": flags,
        })
    ids = ws.add_rows([d.text for d in drafts], origin="augmented", method=method, parents=parents,
                      params=params, models=models, status="candidate", embeddings=embeddings)
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
