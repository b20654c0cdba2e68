"""``AugmentRequest``: one augmentation request, the same from Python, the CLI and the server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from amplio.errors import InputError

Method = Literal["concepts", "interpolate", "llm"]
METHODS: tuple[str, ...] = ("concepts", "interpolate", "llm")


@dataclass(frozen=True)
class AugmentRequest:
    """What to augment, and how.

    Attributes:
        method: ``concepts``, ``interpolate`` or ``llm``.
        row_id: the row to start from.
        weights: concepts: {concept id: weight in [-1, 1]}.
        to_row: interpolate: the other end, a row.
        to_point: interpolate: the other end, a map point ``(x, y)``.
        row_ids: llm: more rows to vary along with ``row_id``.
        instruction: llm: what to change.
        n: how many candidates to show at most (1 to 10).
        seed: sampling seed.
    """

    method: Method
    row_id: int
    weights: Mapping[int, float] = field(default_factory=dict)
    to_row: int | None = None
    to_point: tuple[float, float] | None = None
    row_ids: Sequence[int] = ()
    instruction: str = ""
    n: int = 3
    seed: int = 0

    def check(self) -> AugmentRequest:
        """This request, if it is complete and consistent.

        Raises:
            InputError: naming the field (``field``) that is missing or wrong.
        """
        if self.method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}",
                             field="method")
        if not 1 <= int(self.n) <= 10:
            raise InputError(f"n must be between 1 and 10, not {self.n}", field="n")
        if self.method == "concepts":
            if not self.weights:
                raise InputError("choose at least one concept and its weight", field="weights")
            if any(not -1.0 <= float(w) <= 1.0 for w in self.weights.values()):
                raise InputError("concept weights must lie between -1 and 1", field="weights")
        elif self.method == "interpolate":
            if (self.to_row is None) == (self.to_point is None):
                raise InputError("give exactly one end: another row or a map point", field="to_row")
            if self.to_row is not None and int(self.to_row) == int(self.row_id):
                raise InputError("interpolate between two different rows", field="to_row")
        elif not self.instruction.strip():
            raise InputError("give an instruction (or pick a suggested prompt idea)", field="instruction")
        return self

    @property
    def rows(self) -> list[int]:
        """The rows an LLM request varies: ``row_id`` first, then ``row_ids`` (once each)."""
        return list(dict.fromkeys([int(self.row_id), *(int(i) for i in self.row_ids)]))
