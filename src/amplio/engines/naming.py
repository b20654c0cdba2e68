"""Encoder names as users write them: ``[KIND:]MODEL``."""

from __future__ import annotations

from dataclasses import dataclass

from amplio.embedding.registry import encoder_kinds


@dataclass(frozen=True)
class EncoderSpec:
    """Which encoder backend (``kind``) runs which ``model``."""

    kind: str
    model: str

    @property
    def label(self) -> str:
        """The name a user would write for it (``model``, or ``kind:model`` for another kind)."""
        return self.model if self.kind == "sentence-transformers" else f"{self.kind}:{self.model}"


def parse_encoder(name: str, default_kind: str) -> EncoderSpec:
    """``KIND:MODEL`` when KIND is a registered encoder kind, else ``MODEL`` of ``default_kind``
    (``all-MiniLM-L6-v2``, ``openai-compatible:text-embedding-3-small``, ``/models/bge``)."""
    kind, sep, rest = name.partition(":")
    if sep and rest and kind in encoder_kinds():
        return EncoderSpec(kind, rest)
    return EncoderSpec(default_kind, name)
