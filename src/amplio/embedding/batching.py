"""Embed many texts fast and with progress: sorted by length, encoded in chunks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from amplio.embedding.base import Encoder
from amplio.progress import Progress, silent

CHUNK = 2048  # texts per progress step; large enough that per-call overhead is noise


def embed_texts(
    encoder: Encoder, texts: Sequence[str], *, batch_size: int = 64, progress: Progress = silent
) -> NDArray[np.float32]:
    """Encode ``texts`` and return their vectors in input order.

    Texts are sorted by length before batching so each batch pads to similar lengths; this is
    what makes a file of mixed lengths embed as fast as one ``encode`` call on the whole list
    (in file order, batches pad to their longest text and waste most of their work).
    """
    n = len(texts)
    out = np.zeros((n, encoder.dim), dtype=np.float32)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    progress("embed", 0, n)
    for start in range(0, n, CHUNK):
        idx = order[start : start + CHUNK]
        out[idx] = encoder.encode([texts[i] for i in idx], batch_size=batch_size)
        progress("embed", min(start + CHUNK, n), n)
    return out
