"""``TextSet``: the texts a request works among, with their ids and embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from amplio.quality.checks import normalise_text


@dataclass
class TextSet:
    """Texts with their unit embeddings and ids (``-1`` for a text that is not a row: a
    reference gap's example, say). Candidates may not copy any of them."""

    ids: NDArray[np.int64]
    texts: list[str]
    embeddings: NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.texts)

    def plus(self, texts: Sequence[str], embeddings: NDArray[np.float32] | None) -> TextSet:
        """These texts and ``texts`` (ids ``-1``)."""
        if not len(texts) or embeddings is None:
            return self
        return TextSet(np.concatenate([self.ids, np.full(len(texts), -1, dtype=np.int64)]),
                       self.texts + list(texts),
                       np.concatenate([self.embeddings, np.asarray(embeddings, dtype=np.float32)]))

    def nearest(self, vector: NDArray[np.float32], k: int, *, exclude: Sequence[str] = ()) -> list[str]:
        """The ``k`` texts nearest ``vector`` (none equal to one of ``exclude``), nearest last."""
        if not self.texts:
            return []
        skip = {normalise_text(t) for t in exclude}
        order = np.argsort(-(self.embeddings @ vector), kind="stable")
        picked = [self.texts[i] for i in order[: k + len(skip)] if normalise_text(self.texts[i]) not in skip]
        return picked[:k][::-1]

    def relevance_floor(self, sources: Sequence[NDArray[np.float32]], *, ceiling: float,
                        floor: float = 0.35) -> float:
        """How close to a source a candidate must stay: ``ceiling``, or less where the sources'
        own five nearest texts are less alike than that (sparse data such as short, varied
        questions), but never under ``floor``."""
        if not self.texts:
            return ceiling
        sims = self.embeddings @ np.stack(sources).T  # (texts, sources)
        near = np.sort(sims, axis=0)[-6:-1]  # the five nearest other texts of each source
        return float(np.clip(0.85 * np.median(near), floor, ceiling))
