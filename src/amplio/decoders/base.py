"""The ``Decoder`` protocol: an embedding in, texts whose embeddings land near it out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray


@dataclass
class DecodeContext:
    """What the decoder may lean on: rows near the target and the rows the target came from.

    ``reference_texts``/``reference_embeddings`` are the existing rows a candidate must not copy
    (typically the whole workspace); ``neighbour_*`` are the nearest of them to the target;
    ``parent_texts`` the rows the target was derived from (steered or interpolated from);
    ``donor_texts`` rows that hold what the target adds to its parents (for a concept steer, the
    rows where that concept fires most), whose phrases the decoder may splice in.
    """

    neighbour_texts: Sequence[str] = ()
    neighbour_embeddings: NDArray[np.float32] | None = None
    parent_texts: Sequence[str] = ()
    donor_texts: Sequence[str] = ()
    reference_texts: Sequence[str] = ()
    reference_embeddings: NDArray[np.float32] | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class Decoded:
    """One decoded text with its quality signals."""

    text: str
    fidelity: float  # cosine(target, encode(text))
    embedding: NDArray[np.float32]
    flags: list[str] = field(default_factory=list)  # e.g. "near-duplicate", "concatenation"
    duplicate_of: int | None = None  # index into context.reference_texts


@runtime_checkable
class Decoder(Protocol):
    """Inverts an encoder: finds texts whose embedding is close to a target vector."""

    name: str

    def decode(
        self, target: NDArray[np.float32], *, n: int, context: DecodeContext, seed: int = 0
    ) -> list[Decoded]:
        """Return ``n`` distinct texts, best fidelity first, for the unit vector ``target``.

        Deterministic for equal inputs and seed.
        """
        ...
