"""The ``Decoder`` protocol: an embedding in, texts whose embeddings land near it out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from amplio.quality.gates import Proposal


@dataclass
class DecodeContext:
    """What the decoder may lean on: rows near the target and the rows the target came from.

    ``reference_texts``/``reference_embeddings`` are the existing rows a candidate must not copy
    (typically the whole workspace); ``neighbour_*`` are the nearest of them to the target;
    ``parent_texts`` the rows the target was derived from (steered or interpolated from);
    ``donor_texts`` rows that hold what the target adds to its parents (for a concept steer, the
    rows where that concept fires most), which the decoder may show the model as examples;
    ``relevance`` the lowest cosine to a parent a proposal may have (``None``: the decoder's
    own default), lower where the data is sparse.
    """

    neighbour_texts: Sequence[str] = ()
    neighbour_embeddings: NDArray[np.float32] | None = None
    parent_texts: Sequence[str] = ()
    donor_texts: Sequence[str] = ()
    reference_texts: Sequence[str] = ()
    reference_embeddings: NDArray[np.float32] | None = None
    relevance: float | None = None
    extra: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Decoder(Protocol):
    """Inverts an encoder: finds texts whose embedding is close to a target vector."""

    name: str

    def decode(
        self, target: NDArray[np.float32], *, n: int, context: DecodeContext, seed: int = 0
    ) -> list[Proposal]:
        """Texts whose embeddings land near the unit vector ``target``, each with its fidelity.

        ``n`` is how many texts to propose (about that many; a caller that shows three asks for
        more, since gates hold some back). Every text made comes back: the clean ones (no gate
        reasons) first, best first, then the ones held back, each with its reasons, so the
        caller can apply gates of its own before choosing. Deterministic for equal inputs and
        seed.
        """
        ...
