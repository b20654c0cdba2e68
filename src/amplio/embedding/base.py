"""The ``Encoder`` protocol and the registry of encoder backends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from amplio.registry import Registry


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into vectors.

    ``name`` identifies the model (it keys the embedding cache, so two encoders that can give
    different vectors must have different names); ``dim`` is the vector length.
    """

    name: str
    dim: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        """Return an ``(len(texts), dim)`` float32 array of L2-normalised rows.

        Deterministic: equal input gives equal output. Must accept an empty sequence.
        """
        ...


EncoderFactory = Callable[[str], Encoder]


def _load_builtins() -> None:
    # Importing the backend modules registers them; they import their heavy libraries lazily.
    from amplio.embedding import openai_compatible, sentence_transformer  # noqa: F401


_REGISTRY: Registry[EncoderFactory] = Registry("encoder kind", _load_builtins)


def register_encoder(kind: str, factory: EncoderFactory) -> None:
    """Register ``factory(model) -> Encoder`` under ``kind`` (e.g. ``sentence-transformers``)."""
    _REGISTRY.register(kind, factory)


def encoder_kinds() -> list[str]:
    """The registered encoder kinds."""
    return _REGISTRY.kinds()


def create_encoder(kind: str, model: str) -> Encoder:
    """Build the encoder registered as ``kind`` for ``model``."""
    encoder = _REGISTRY.get(kind)(model)
    if not isinstance(encoder, Encoder):
        raise TypeError(f"encoder factory {kind!r} returned {type(encoder).__name__}, not an Encoder")
    return encoder


def l2_normalise(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    """Scale each row to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
