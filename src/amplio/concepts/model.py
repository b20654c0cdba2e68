"""``ConceptModel``: a trained sparse autoencoder plus what users see of its features.

A *concept* is one SAE feature: a unit direction in embedding space (its decoder vector), a
label, the rows where it fires most and how often it fires. Everything here runs on numpy; torch
is needed only to read and write the serialised form.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amplio.concepts.sae import SaeWeights, encode_topk, reconstruct
from amplio.errors import InputError, NotFoundError

FORMAT = "amplio-concepts"
FORMAT_VERSION = 1


class ConceptModel:
    """A trained concept model. Build one with :func:`amplio.concepts.train_concepts`.

    Attributes:
        weights: the SAE parameters.
        frequency: ``(F,)`` share of the training rows on which each concept is active.
        steer_scales: ``(F,)`` length added along a concept's direction at steering weight 1.
        stats: ``fve`` (fraction of variance explained on the training set), ``dead_share``
            (share of concepts active on no training row), ``n_features``, ``k``, ``n_rows``,
            ``n_reference``, ``epochs``, ``seed``.
    """

    def __init__(
        self,
        weights: SaeWeights,
        *,
        labels: list[str],
        frequency: NDArray[np.float32],
        top_row_ids: NDArray[np.int64],
        steer_scales: NDArray[np.float32],
        stats: Mapping[str, float | int],
    ) -> None:
        self.weights = weights
        self.frequency = np.asarray(frequency, dtype=np.float32)
        self.steer_scales = np.asarray(steer_scales, dtype=np.float32)
        self.stats: dict[str, float | int] = dict(stats)
        # (F, T) row indices per concept, strongest first, padded with -1.
        self._top_rows = np.asarray(top_row_ids, dtype=np.int64)
        self._labels: list[str] = []
        self.labels = labels

    @property
    def n_features(self) -> int:
        """Number of concepts ``F``."""
        return int(self.weights.w_dec.shape[0])

    @property
    def k(self) -> int:
        """Concepts active per row."""
        return self.weights.k

    @property
    def dim(self) -> int:
        """Embedding dimension the model works in."""
        return int(self.weights.w_dec.shape[1])

    @property
    def labels(self) -> list[str]:
        """One short label per concept."""
        return self._labels

    @labels.setter
    def labels(self, labels: list[str]) -> None:
        if len(labels) != self.n_features:
            raise InputError(f"expected {self.n_features} labels, got {len(labels)}")
        self._labels = [str(label) for label in labels]

    def encode(self, embeddings: NDArray[np.floating]) -> NDArray[np.float32]:
        """Concept activations, ``(n, F)`` float32 with at most ``k`` non-zero entries per row.

        Args:
            embeddings: ``(n, d)`` rows (or one ``(d,)`` row, treated as ``n = 1``).
        """
        ids, acts = self.encode_topk(embeddings)
        dense = np.zeros((ids.shape[0], self.n_features), dtype=np.float32)
        np.put_along_axis(dense, ids, acts, axis=1)
        return dense

    def encode_topk(
        self, embeddings: NDArray[np.floating]
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Each row's ``k`` strongest concept ids and activations, ``(n, k)`` each, largest first."""
        return encode_topk(self.weights, embeddings)

    def reconstruct(self, embeddings: NDArray[np.floating]) -> NDArray[np.float32]:
        """The SAE's reconstruction of ``embeddings`` from their top-k concepts, ``(n, d)``."""
        ids, acts = self.encode_topk(embeddings)
        return reconstruct(self.weights, ids, acts)

    def top_concepts(self, embedding: NDArray[np.floating], k: int = 10) -> list[tuple[int, float]]:
        """The active concepts of one embedding, strongest first: ``[(cid, activation)]``.

        At most ``min(k, self.k)`` entries; concepts with zero activation are left out.
        """
        vector = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        ids, acts = self.encode_topk(vector)
        return [(int(c), float(a)) for c, a in zip(ids[0], acts[0], strict=True) if a > 0][:k]

    def direction(self, cid: int) -> NDArray[np.float32]:
        """The unit-length decoder vector of concept ``cid``, ``(d,)``."""
        return self.weights.w_dec[self._check(cid)].copy()

    def related(self, cid: int, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` concepts whose directions are closest to ``cid``'s: ``[(cid, cosine)]``.

        Sorted by cosine, highest first; ``cid`` itself is excluded.
        """
        cid = self._check(cid)
        cosines = self.weights.w_dec @ self.weights.w_dec[cid]
        cosines[cid] = -np.inf
        return _top(cosines, k)

    def search(self, query_embedding: NDArray[np.floating], k: int = 10) -> list[tuple[int, float]]:
        """Concepts whose direction is closest to an encoded query: ``[(cid, cosine)]``.

        The query is taken relative to the model's centre (``b_dec``), as the directions are:
        a raw embedding shares the corpus's common direction with every row and would otherwise
        match whichever concepts point that way.

        Args:
            query_embedding: ``(d,)`` embedding of the query text, encoded by the caller with the
                same encoder as the training rows.
            k: how many concepts.
        """
        query = np.asarray(query_embedding, dtype=np.float32).reshape(-1)
        self._check_dim(query)
        centred = query - self.weights.b_dec
        centred /= max(float(np.linalg.norm(centred)), 1e-12)
        return _top(self.weights.w_dec @ centred, k)

    def search_labels(self, text: str) -> list[int]:
        """Ids of the concepts whose label contains ``text`` (case-insensitive), by frequency."""
        needle = text.strip().lower()
        if not needle:
            return []
        hits = [cid for cid, label in enumerate(self._labels) if needle in label.lower()]
        return sorted(hits, key=lambda cid: (-float(self.frequency[cid]), cid))

    def top_rows(self, cid: int, k: int = 10) -> list[int]:
        """Indices (into the training ``embeddings``) of the rows where ``cid`` fires most."""
        rows = self._top_rows[self._check(cid), :k]
        return [int(r) for r in rows if r >= 0]

    def steer(
        self, embedding: NDArray[np.floating], weights: Mapping[int, float]
    ) -> NDArray[np.float32]:
        """Move an embedding along concept directions and return the unit-length result.

        ``e' = normalize(e + sum_i w_i * s_i * d_i)`` with ``d_i`` the concept's direction and
        ``s_i = steer_scales[i]``: twice the concept's largest activation on the training rows
        (at least the median of those maxima, at most 1.0, the embedding's own length). So
        ``w = 1`` adds the concept at double the strength of the row that shows it most, making
        it one of the strongest concepts of the result (on AART the cosine to the original drops
        to about 0.8), and ``w = -1`` takes out at least as much as any training row holds.

        Args:
            embedding: ``(d,)`` starting embedding.
            weights: ``{cid: weight}`` with weights in ``[-1, 1]``.

        Raises:
            InputError: for a weight outside ``[-1, 1]`` or a wrong-sized embedding.
            NotFoundError: for an unknown concept id.
        """
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1).copy()
        self._check_dim(vector)
        for cid, weight in weights.items():
            if not -1.0 <= float(weight) <= 1.0:
                raise InputError(f"concept weight must be between -1 and 1, got {weight}")
            index = self._check(cid)
            vector += float(weight) * float(self.steer_scales[index]) * self.weights.w_dec[index]
        norm = float(np.linalg.norm(vector))
        if norm < 1e-12:
            raise InputError("the steered embedding is zero; use smaller weights")
        return (vector / norm).astype(np.float32)

    def to_bytes(self) -> bytes:
        """Serialise with ``torch.save``: tensors, numbers, strings and lists only."""
        from amplio.runtime import prepare_native_runtimes

        prepare_native_runtimes()
        import torch

        w = self.weights
        payload: dict[str, Any] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "k": int(w.k),
            "w_enc": torch.from_numpy(w.w_enc.copy()),
            "b_enc": torch.from_numpy(w.b_enc.copy()),
            "w_dec": torch.from_numpy(w.w_dec.copy()),
            "b_dec": torch.from_numpy(w.b_dec.copy()),
            "frequency": torch.from_numpy(self.frequency.copy()),
            "top_rows": torch.from_numpy(self._top_rows.copy()),
            "steer_scales": torch.from_numpy(self.steer_scales.copy()),
            "labels": list(self._labels),
            "stats": dict(self.stats),
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ConceptModel:
        """Read a model written by :meth:`to_bytes` (loaded with ``weights_only=True``).

        Raises:
            InputError: when ``data`` is not a concept model of a known version.
        """
        from amplio.runtime import prepare_native_runtimes

        prepare_native_runtimes()
        import torch

        try:
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for damaged archives
            raise InputError(f"cannot read the concept model: {exc}") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise InputError("these bytes are not an amplio concept model")
        if payload.get("version") != FORMAT_VERSION:
            raise InputError(f"unsupported concept model version {payload.get('version')!r}")
        try:
            weights = SaeWeights(
                w_enc=payload["w_enc"].numpy(),
                b_enc=payload["b_enc"].numpy(),
                w_dec=payload["w_dec"].numpy(),
                b_dec=payload["b_dec"].numpy(),
                k=int(payload["k"]),
            )
            return cls(
                weights,
                labels=list(payload["labels"]),
                frequency=payload["frequency"].numpy(),
                top_row_ids=payload["top_rows"].numpy(),
                steer_scales=payload["steer_scales"].numpy(),
                stats=payload["stats"],
            )
        except (KeyError, AttributeError, TypeError) as exc:
            raise InputError(f"the concept model is incomplete: {exc!r}") from None

    def _check(self, cid: int) -> int:
        index = int(cid)
        if not 0 <= index < self.n_features:
            raise NotFoundError(f"no concept {cid}; ids run from 0 to {self.n_features - 1}")
        return index

    def _check_dim(self, vector: NDArray[np.float32]) -> None:
        if vector.shape != (self.dim,):
            raise InputError(
                f"expected one embedding of dimension {self.dim}, got shape {vector.shape}"
            )


def _top(scores: NDArray[np.floating], k: int) -> list[tuple[int, float]]:
    k = max(0, min(int(k), int(np.isfinite(scores).sum())))
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in order]
