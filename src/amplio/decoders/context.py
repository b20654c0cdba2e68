"""Build a ``DecodeContext`` for a target from the rows of a dataset."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from amplio.decoders.base import DecodeContext
from amplio.embedding.base import nearest
from amplio.errors import InputError


def context_for(
    target: NDArray[np.float32],
    texts: Sequence[str],
    embeddings: NDArray[np.float32],
    *,
    k: int = 8,
    parent_texts: Sequence[str] = (),
    donor_texts: Sequence[str] = (),
    relevance: float | None = None,
) -> DecodeContext:
    """The context a decoder needs for ``target``: its ``k`` nearest rows and all rows as references.

    Args:
        target: unit vector to decode.
        texts: the existing rows (the candidates must not copy them).
        embeddings: their unit embeddings, ``(len(texts), dim)``.
        k: how many nearest rows become few-shot neighbours.
        parent_texts: rows the target was derived from (interpolated or steered from).
        donor_texts: rows holding what the target adds (e.g. a steered concept's top rows).
        relevance: the lowest cosine to a parent a proposal may have (``None``: the decoder's).

    Returns:
        A ``DecodeContext`` with neighbours nearest first.

    Raises:
        InputError: texts and embeddings disagree in length, or the dimensions differ.
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(texts) != len(embeddings):
        raise InputError(f"{len(texts)} texts but embeddings of shape {embeddings.shape}")
    if len(texts) and embeddings.shape[1] != np.asarray(target).shape[-1]:
        raise InputError(
            f"target has {np.asarray(target).shape[-1]} dimensions, rows have {embeddings.shape[1]}"
        )
    if len(texts) == 0:
        return DecodeContext(parent_texts=list(parent_texts), donor_texts=list(donor_texts),
                             relevance=relevance)
    top = np.array([i for i, _ in nearest(embeddings, np.asarray(target, dtype=np.float32), k)])
    return DecodeContext(
        neighbour_texts=[texts[i] for i in top],
        neighbour_embeddings=embeddings[top],
        parent_texts=list(parent_texts),
        donor_texts=list(donor_texts),
        reference_texts=texts,
        reference_embeddings=embeddings,
        relevance=relevance,
    )
