"""``Augmentation``: what one augmentation request produced, shown and held back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from amplio.quality import gates
from amplio.quality.gates import Proposal


@dataclass
class Augmentation:
    """What one augmentation request produced.

    Attributes:
        candidates: the stored candidate rows (id, text, method, parents, fidelity, novelty,
            flags, x, y, status, params).
        held_back: texts the model wrote that failed a gate: ``{"text", "reasons", "why"}``.
        note: why fewer than ``n`` came back (or a warning about the request), else ``None``.
        suggestions: rows to try instead, e.g. interpolation partners nearer the start.

    It iterates, indexes and measures like its ``candidates`` list.
    """

    candidates: list[dict[str, Any]]
    held_back: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    suggestions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, candidates: list[dict[str, Any]], proposals: Sequence[Proposal], n: int, *,
           note: str | None = None, suggestions: Sequence[dict[str, Any]] = ()) -> Augmentation:
        """The result of a request for ``n`` that stored ``candidates`` out of ``proposals``."""
        held = gates.held_back(proposals)
        notes = [s for s in (gates.shortfall(len(candidates), n, held), note) if s]
        return cls(candidates, held, " ".join(notes) or None, list(suggestions))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.candidates)

    def __len__(self) -> int:
        return len(self.candidates)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.candidates[index]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the server's job result, ``amplio augment --json``)."""
        return {"candidates": self.candidates, "held_back": self.held_back, "note": self.note,
                "suggestions": self.suggestions}
