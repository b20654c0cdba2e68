"""List continuation: a base model continues a list of real prompts with one more.

This is what the packaged 270M model does best. Shown a ``Prompt: ...`` list of rows that share a
request form, it writes a new prompt in that form, fluent and whole, often with a new detail (a
different city, drug, medium or victim). Choosing the list chooses where the new prompt lands:
the rows nearest a target, the rows where a concept fires, rows near both ends of an
interpolation. In blind review this beat every template that asked the model to follow
instructions or to hit a target (``../shared/QUALITY-PROBES.md``, ``docs/decoder.md``).

Every dataset text is flattened to one line and shortened before it enters the list, so no row
can add lines, markers or instructions to the template.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from amplio.llm.base import LLM, GenerationParams

MARKER = "Prompt:"
MAX_EXAMPLE_CHARS = 400
_LEADING_MARKER = re.compile(r"^\s*(?:prompt\s*:\s*)+", re.IGNORECASE)


def flatten(text: str, limit: int = MAX_EXAMPLE_CHARS) -> str:
    """``text`` on one line (every run of whitespace, line breaks included, becomes one space),
    cut to ``limit`` characters: how a text enters a prompt template."""
    return " ".join(str(text).split())[:limit]


def list_prompt(examples: Sequence[str]) -> str:
    """A ``Prompt: ...`` line per example, ending with an open ``Prompt:`` for the model."""
    return "\n".join([f"{MARKER} {flatten(t)}" for t in examples] + [MARKER])


def clean_completion(text: str) -> str:
    """The first line of a completion, without a repeated marker or surrounding spaces."""
    first = text.strip().split("\n", 1)[0] if text.strip() else ""
    return _LEADING_MARKER.sub("", " ".join(first.split())).strip()


def continue_list(
    llm: LLM,
    examples: Sequence[str],
    *,
    k: int,
    seed: int,
    temperature: float = 0.9,
    max_tokens: int = 64,
) -> list[str]:
    """``k`` samples of the next prompt after ``examples``, cleaned, in sampling order.

    Empty samples are dropped, so fewer than ``k`` may come back; repeats are kept (the caller
    decides what a copy is).
    """
    params = GenerationParams(n=k, temperature=temperature, max_tokens=max_tokens, stop=("\n",),
                              seed=seed)
    return [t for t in (clean_completion(c) for c in llm.complete(list_prompt(examples), params)) if t]


def token_budget(examples: Sequence[str], *, cap: int = 96) -> int:
    """Tokens to allow a sample: about 1.6 per word of the longest example, plus slack.

    Most of a request's time goes to writing tokens, and a sample cut short is thrown away as
    ``cut-off``; this keeps both in check.
    """
    longest = max((len(t.split()) for t in examples), default=20)
    return max(24, min(cap, int(1.6 * longest) + 12))
