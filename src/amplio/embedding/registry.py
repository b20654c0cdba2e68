"""The registry of encoder backends, and ``create_encoder``."""

from __future__ import annotations

from collections.abc import Callable

from amplio.embedding.base import Encoder
from amplio.registry import Registry

EncoderFactory = Callable[[str], Encoder]


def _load_builtins() -> None:
    # Importing the backend modules registers them; they import their heavy libraries lazily.
    from amplio.embedding import onnx_runtime, openai_compatible, sentence_transformer  # noqa: F401


_REGISTRY: Registry[EncoderFactory] = Registry("encoder kind", "amplio.encoders", _load_builtins)


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
