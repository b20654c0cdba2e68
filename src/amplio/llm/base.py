"""The ``LLM`` protocol: prompts in, completions out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings for one request.

    ``seed`` makes a local model deterministic; remote endpoints honour it where they can.
    """

    n: int = 1
    temperature: float = 0.8
    max_tokens: int = 64
    stop: Sequence[str] = field(default_factory=tuple)
    seed: int = 0
    top_p: float = 0.95


@runtime_checkable
class LLM(Protocol):
    """A text-completion model (base-model style: the prompt is continued, not chatted with).

    ``name`` identifies model and backend for provenance (e.g. ``local:gemma-3-270m-q4_k_m``).
    """

    name: str

    def complete(self, prompt: str, params: GenerationParams) -> list[str]:
        """Return ``params.n`` completions of ``prompt`` (the continuation only, stop strings cut).

        Raises ``amplio.errors.BackendError`` with the backend's name when the model fails.
        """
        ...
