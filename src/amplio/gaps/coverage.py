"""Concept coverage: which concepts each label lacks compared with the rest of the data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amplio.errors import InputError


@dataclass
class ActiveCounts:
    """How many rows of each label have each concept active: all that coverage needs.

    Built from a whole activation matrix (``ActiveCounts.of``) or summed chunk by chunk
    (``add``), so a million rows never need their ``(n, F)`` activations in memory at once.
    Rows labelled ``None`` count in ``total`` and ``rows`` only.
    """

    n_concepts: int
    threshold: float = 0.0
    by_label: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    label_rows: dict[str, int] = field(default_factory=dict)
    total: NDArray[np.int64] | None = None
    rows: int = 0

    @classmethod
    def of(cls, activations: NDArray[np.floating], labels: Sequence[str | None], *,
           threshold: float = 0.0) -> ActiveCounts:
        counts = cls(np.asarray(activations).shape[-1] if np.ndim(activations) == 2 else 0, threshold)
        counts.add(activations, labels)
        return counts

    def add(self, activations: NDArray[np.floating], labels: Sequence[str | None]) -> None:
        """Count one chunk of rows.

        Raises:
            InputError: on mismatched lengths, a non-2-D or negative matrix, or a chunk with a
                different number of concepts.
        """
        a = np.asarray(activations, dtype=np.float64)
        if a.ndim != 2:
            raise InputError(f"activations must be a 2-D array, got shape {a.shape}")
        if len(labels) != len(a):
            raise InputError(f"{len(a)} activation rows but {len(labels)} labels")
        if a.shape[1] != self.n_concepts:
            raise InputError(f"a chunk has {a.shape[1]} concepts, not {self.n_concepts}")
        if (a < 0).any():
            raise InputError("activations must be nonnegative")
        active = a > self.threshold
        label_arr = np.array([None if lab is None else str(lab) for lab in labels], dtype=object)
        self.total = active.sum(axis=0) + (0 if self.total is None else self.total)
        self.rows += len(a)
        for name in {str(lab) for lab in labels if lab is not None}:
            mask = label_arr == name
            self.by_label[name] = active[mask].sum(axis=0) + self.by_label.get(name, 0)
            self.label_rows[name] = self.label_rows.get(name, 0) + int(mask.sum())

    @property
    def names(self) -> list[str]:
        return sorted(self.by_label)

    def rate_in(self, name: str) -> NDArray[np.float64]:
        return np.asarray(self.by_label[name] / self.label_rows[name], dtype=np.float64)

    def rate_elsewhere(self, name: str) -> NDArray[np.float64]:
        others = self.rows - self.label_rows[name]
        return np.asarray((self._total() - self.by_label[name]) / max(others, 1), dtype=np.float64)

    def overall(self) -> NDArray[np.float64]:
        return np.asarray(self._total() / max(self.rows, 1), dtype=np.float64)

    def _total(self) -> NDArray[np.int64]:
        return np.zeros(self.n_concepts, dtype=np.int64) if self.total is None else self.total


def label_concept_matrix(
    activations: NDArray[np.floating] | ActiveCounts,
    labels: Sequence[str | None] = (),
    *,
    threshold: float = 0.0,
) -> tuple[list[str], NDArray[np.float64]]:
    """Share of each label's rows on which each concept is active (for a heatmap).

    Args:
        activations: ``(n, F)`` nonnegative concept activations (any concept model), or their
            ``ActiveCounts`` (then ``labels`` and ``threshold`` are not used).
        labels: one label per row; ``None`` rows are left out.
        threshold: a concept is active on a row when its activation exceeds this.

    Returns:
        ``(label_names, rates)`` with ``rates`` of shape ``(len(label_names), F)`` in ``[0, 1]``.

    Raises:
        InputError: on mismatched lengths, a non-2-D or negative matrix.
    """
    counts = _counts(activations, labels, threshold)
    names = counts.names
    rates = np.stack([counts.rate_in(name) for name in names]) if names else np.zeros((0, counts.n_concepts))
    return names, rates.astype(np.float64)


def concept_coverage(
    activations: NDArray[np.floating] | ActiveCounts,
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
        activations: ``(n, F)`` nonnegative concept activations, or their ``ActiveCounts``.
        labels: one label per row; ``None`` rows count only as "elsewhere".
        concept_labels: a name for each of the ``F`` concepts.
        top: suggestions per label.
        threshold: activation above which a concept counts as present.
        min_rate_elsewhere: smallest share of other rows a suggested concept must reach.

    Returns:
        ``{label: [{"concept": index, "label": name, "rate_in_label": r, "rate_elsewhere": s}]}``,
        largest ``s - r`` first.
    """
    counts = _counts(activations, labels, threshold)
    if len(concept_labels) != counts.n_concepts:
        raise InputError(f"{counts.n_concepts} concepts but {len(concept_labels)} concept labels")
    result: dict[str, list[dict[str, Any]]] = {}
    for name in counts.names:
        if counts.label_rows[name] == counts.rows:
            result[name] = []
            continue
        inside, outside = counts.rate_in(name), counts.rate_elsewhere(name)
        deficit = outside - inside
        order = np.lexsort((np.arange(len(deficit)), -deficit))
        picks = [int(f) for f in order if deficit[f] > 0 and outside[f] >= min_rate_elsewhere][:top]
        result[name] = [
            {"concept": f, "label": str(concept_labels[f]),
             "rate_in_label": round(float(inside[f]), 4), "rate_elsewhere": round(float(outside[f]), 4)}
            for f in picks
        ]
    return result


def _counts(activations: NDArray[np.floating] | ActiveCounts, labels: Sequence[str | None],
            threshold: float) -> ActiveCounts:
    if isinstance(activations, ActiveCounts):
        return activations
    return ActiveCounts.of(activations, labels, threshold=threshold)


def coverage_summary(
    activations: NDArray[np.floating] | ActiveCounts,
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
        activations: ``(n, F)`` nonnegative concept activations, or their ``ActiveCounts``
            (summed chunk by chunk for large sets; then ``threshold`` is theirs).
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
    counts = _counts(activations, labels, threshold)
    names, rates = label_concept_matrix(counts)
    suggestions = concept_coverage(counts, labels, concept_labels, top=top,
                                   min_rate_elsewhere=min_rate_elsewhere)
    overall = counts.overall()
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
        "rows": int(counts.rows),
        "threshold": float(counts.threshold),
        "labels": names,
        "label_rows": [int(counts.label_rows[name]) for name in names],
        "concepts": [{"id": c, "label": str(concept_labels[c]), "rate": round(float(overall[c]), 4)}
                     for c in chosen],
        "rates": [[round(float(rates[i, c]), 4) for c in chosen] for i in range(len(names))],
        "suggestions": suggestions,
    }
