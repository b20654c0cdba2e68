"""The registry of decoders, and ``create_decoder`` which builds one for an encoder and an LLM."""

from __future__ import annotations

from collections.abc import Callable

from amplio.decoders.base import Decoder
from amplio.embedding.base import Encoder
from amplio.errors import InputError
from amplio.llm.base import LLM
from amplio.registry import Registry

DecoderFactory = Callable[..., Decoder]
DEFAULT_DECODER = "continuation"


def _load_builtins() -> None:
    from amplio.decoders.continuation import ContinuationDecoder

    register_decoder(DEFAULT_DECODER, ContinuationDecoder)


_REGISTRY: Registry[DecoderFactory] = Registry("decoder", "amplio.decoders", _load_builtins)


def register_decoder(kind: str, factory: DecoderFactory) -> None:
    """Register ``factory(encoder, llm, **opts) -> Decoder`` under ``kind`` (e.g. a trained inverter)."""
    _REGISTRY.register(kind, factory)


def decoder_kinds() -> list[str]:
    """The registered decoder kinds."""
    return _REGISTRY.kinds()


def create_decoder(encoder: Encoder, llm: LLM, *, kind: str = DEFAULT_DECODER, **opts: object) -> Decoder:
    """Build a decoder for ``encoder``; the default continues lists of nearby rows with ``llm``.

    Args:
        encoder: the workspace's encoder.
        llm: the LLM that writes the proposals.
        kind: a registered decoder kind.
        **opts: options for the decoder (``samples``, ``shots``, ``temperature``, ``floor``...).

    Raises:
        InputError: unknown kind or options.
    """
    factory = _REGISTRY.get(kind)
    try:
        decoder = factory(encoder, llm, **opts)
    except TypeError as exc:
        raise InputError(f"bad options for decoder {kind!r}: {exc}") from None
    if not isinstance(decoder, Decoder):
        raise TypeError(f"decoder factory {kind!r} returned {type(decoder).__name__}, not a Decoder")
    return decoder
