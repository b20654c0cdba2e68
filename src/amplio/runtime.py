"""Process settings that must be in place before torch or llama.cpp load."""

from __future__ import annotations

import os


def prepare_native_runtimes() -> None:
    """Call before importing torch, sentence-transformers or llama_cpp.

    torch and llama.cpp share one OpenMP runtime, which reads OMP_WAIT_POLICY only when it first
    loads: with the default (active spinning) the LLM runs 10-30x slower once torch has loaded on
    two cores. Tokenizer threads would fight the same cores. Values a user set are kept.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
