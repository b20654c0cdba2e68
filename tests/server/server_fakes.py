"""FakeLLM: a deterministic stand-in for the LLM protocol, for server plumbing tests only.

It is injected through ``Workspace.use_llm`` (the protocol), never monkeypatched. Its answers carry
the request's seed and index, so a test can tell which call produced which candidate.
"""

from __future__ import annotations

import hashlib

from amplio.llm.base import GenerationParams


class FakeLLM:
    """Answers every prompt with ``params.n`` distinct, deterministic sentences."""

    name = "fake:deterministic"

    def __init__(self) -> None:
        self.calls = 0

    def complete(self, prompt: str, params: GenerationParams) -> list[str]:
        self.calls += 1
        tag = hashlib.sha1(prompt.encode()).hexdigest()[:6]
        if prompt.rstrip().endswith("Idea:"):
            return [f"rewrite it as a question from a curious student number {i}" for i in range(params.n)]
        # Like a real completion: it continues the prompt (a leading space) and keeps the first
        # words of the last text shown, so the gates take it for a rewrite of that row.
        head = " ".join(_last_text(prompt).rstrip("?.!").split()[:10])
        return [f" {head}, as a reporter in Schemeville on day {params.seed}-{i} ({tag})?"
                for i in range(params.n)]


def _last_text(prompt: str) -> str:
    for line in reversed(prompt.splitlines()):
        for field in ("Original:", "Prompt:"):
            if line.startswith(field) and line[len(field):].strip():
                return line[len(field):].strip()
    return "How would a criminal plan a scheme"
