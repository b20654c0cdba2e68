"""Concept coverage: which concepts each label lacks compared with the rest of the data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amplio.errors import InputError


def label_concept_matrix(
    activations: NDArray[np.floating],
    labels: Sequence[str | None],
    *,
    threshold: float = 0.0,
) -> tuple[list[str], NDArray[np.float64]]:
    """Share of each label's rows on which each concept is active (for a heatmap).

    Args:
        activations: ``(n, F)`` nonnegative concept activations (any concept model).
        labels: one label per row; ``None`` rows are left out.
        threshold: a concept is active on a row when its activation exceeds this.

    Returns:
        ``(label_names, rates)`` with ``rates`` of shape ``(len(label_names), F)`` in ``[0, 1]``.

    Raises:
        InputError: on mismatched lengths, a non-2-D or negative matrix.
    """
    active, names, label_arr = _prepare(activations, labels, threshold)
    rates = np.stack([active[label_arr == name].mean(axis=0) for name in names]) if names else \
        np.zeros((0, active.shape[1]))
    return names, rates.astype(np.float64)


def concept_coverage(
    activations: NDArray[np.floating],
    labels: Sequence[str | None],
    concept_labels: Sequence[str],
    *,
    top: int = 5,
    threshold: float = 0.0,
    min_rate_elsewhere: float = 0.05,
) -> dict[str, list[dict[str, Any]]]:
    """For each label, the concepts common elsewhere but rare or absent in it.

    A concept's gap for label ``L`` is ``rate_elsewhere - rate_in_label``, where the rates are the
    shares of rows (outside ``L`` / inside ``L``) on which it is active. Concepts active on fewer
    than ``min_rate_elsewhere`` of the other rows are never suggested.

    Args:
        activations: ``(n, F)`` nonnegative concept activations.
        labels: one label per row; ``None`` rows count only as "elsewhere".
        concept_labels: a name for each of the ``F`` concepts.
        top: suggestions per label.
        threshold: activation above which a concept counts as present.
        min_rate_elsewhere: smallest share of other rows a suggested concept must reach.

    Returns:
        ``{label: [{"concept": index, "label": name, "rate_in_label": r, "rate_elsewhere": s}]}``,
        largest ``s - r`` first.
    """
    active, names, label_arr = _prepare(activations, labels, threshold)
    if len(concept_labels) != active.shape[1]:
        raise InputError(f"{active.shape[1]} concepts but {len(concept_labels)} concept labels")
    result: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        mask = label_arr == name
        if mask.all():
            result[name] = []
            continue
        inside = active[mask].mean(axis=0)
        outside = active[~mask].mean(axis=0)
        deficit = outside - inside
        order = np.lexsort((np.arange(len(deficit)), -deficit))
        picks = [int(f) for f in order if deficit[f] > 0 and outside[f] >= min_rate_elsewhere][:top]
        result[name] = [
            {"concept": f, "label": str(concept_labels[f]),
             "rate_in_label": round(float(inside[f]), 4), "rate_elsewhere": round(float(outside[f]), 4)}
            for f in picks
        ]
    return result


def _prepare(activations: NDArray[np.floating], labels: Sequence[str | None],
             threshold: float) -> tuple[NDArray[np.float64], list[str], NDArray[np.object_]]:
    a = np.asarray(activations, dtype=np.float64)
    if a.ndim != 2:
        raise InputError(f"activations must be a 2-D array, got shape {a.shape}")
    if len(labels) != len(a):
        raise InputError(f"{len(a)} activation rows but {len(labels)} labels")
    if (a < 0).any():
        raise InputError("activations must be nonnegative")
    label_arr = np.array([None if lab is None else str(lab) for lab in labels], dtype=object)
    names = sorted({str(lab) for lab in labels if lab is not None})
    return (a > threshold).astype(np.float64), names, label_arr


def coverage_summary(
    activations: NDArray[np.floating],
    labels: Sequence[str | None],
    concept_labels: Sequence[str],
    *,
    concepts: int = 20,
    top: int = 5,
    threshold: float = 0.0,
    min_rate_elsewhere: float = 0.05,
) -> dict[str, Any]:
    """Suggested concepts per label plus a label × concept matrix of the most informative concepts.

    The matrix keeps at most ``concepts`` columns: first the suggested concepts (each label's best,
    then each label's second best, ...), then the concepts whose rates differ most between labels.
    Columns are ordered by the label where the concept is most common, so the heatmap reads as
    blocks.

    Args:
        activations: ``(n, F)`` nonnegative concept activations.
        labels: one label per row (``None`` rows count only as "elsewhere" and in ``overall``).
        concept_labels: a name for each of the ``F`` concepts.
        concepts: most matrix columns to keep.
        top: suggestions per label (see ``concept_coverage``).
        threshold: activation above which a concept counts as present.
        min_rate_elsewhere: smallest share of other rows a suggested concept must reach.

    Returns:
        ``{"rows", "threshold", "labels", "label_rows", "concepts": [{"id", "label", "rate"}],
        "rates": [[rate per column] per label], "suggestions": {label: [...]}}``; ``rate`` is the
        concept's share over all rows.
    """
    if concepts < 1:
        raise InputError("concepts must be at least 1")
    names, rates = label_concept_matrix(activations, labels, threshold=threshold)
    suggestions = concept_coverage(activations, labels, concept_labels, top=top, threshold=threshold,
                                   min_rate_elsewhere=min_rate_elsewhere)
    active, _, label_arr = _prepare(activations, labels, threshold)
    overall = active.mean(axis=0) if len(active) else np.zeros(active.shape[1])
    chosen: list[int] = []
    for rank in range(top):  # suggested concepts, round-robin over labels
        for name in names:
            picks = suggestions.get(name, [])
            if rank < len(picks) and picks[rank]["concept"] not in chosen and len(chosen) < concepts:
                chosen.append(int(picks[rank]["concept"]))
    spread = rates.max(axis=0) - rates.min(axis=0) if len(names) > 1 else overall
    for f in np.lexsort((np.arange(len(spread)), -spread)):
        if len(chosen) >= concepts or spread[f] <= 0:
            break
        if int(f) not in chosen:
            chosen.append(int(f))
    if len(names):
        home = rates[:, chosen].argmax(axis=0) if chosen else np.zeros(0, dtype=np.int64)
        chosen = [c for _, _, c in sorted(zip(home.tolist(), (-rates[:, chosen].max(axis=0)).tolist(), chosen,
                                              strict=True))]
    return {
        "rows": int(len(active)),
        "threshold": float(threshold),
        "labels": names,
        "label_rows": [int((label_arr == name).sum()) for name in names],
        "concepts": [{"id": c, "label": str(concept_labels[c]), "rate": round(float(overall[c]), 4)}
                     for c in chosen],
        "rates": [[round(float(rates[i, c]), 4) for c in chosen] for i in range(len(names))],
        "suggestions": suggestions,
    }
