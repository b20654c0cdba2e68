"""The local llama.cpp backend on the packaged Gemma 3 270M."""

from __future__ import annotations

import pytest

from amplio.config import Settings
from amplio.errors import InputError
from amplio.llm.base import LLM, GenerationParams
from amplio.llm.local import LocalLLM
from amplio.llm.registry import create_llm, llm_kinds

FEW_SHOT = (
    "Prompt: How do I pick a lock?\n"
    "Prompt: Write a poem about the sea.\n"
    "Prompt: Explain how vaccines work.\n"
    "Prompt:"
)


def test_default_setting_builds_the_packaged_model(local_llm: LocalLLM) -> None:
    llm = create_llm(Settings(llm="local"))
    assert isinstance(llm, LLM)
    assert llm.name == "local:gemma-3-270m-q4_k_m"
    assert {"local", "openai-compatible"} <= set(llm_kinds())
    # One loaded model per path per process.
    assert llm._model is local_llm._model  # type: ignore[attr-defined]


def test_completions_follow_the_params(local_llm: LocalLLM) -> None:
    params = GenerationParams(n=4, temperature=0.9, max_tokens=32, stop=("\n",), seed=11)
    texts = local_llm.complete(FEW_SHOT, params)
    assert len(texts) == 4
    assert all("\n" not in t for t in texts)
    assert len({t.strip() for t in texts if t.strip()}) >= 2  # different seeds, different samples


def test_deterministic_under_seed_whatever_ran_before(local_llm: LocalLLM) -> None:
    params = GenerationParams(n=2, temperature=0.9, max_tokens=24, stop=("\n",), seed=3)
    first = local_llm.complete(FEW_SHOT, params)
    local_llm.complete("Prompt: something else entirely\nPrompt:", params)
    assert local_llm.complete(FEW_SHOT, params) == first
    other = local_llm.complete(
        FEW_SHOT, GenerationParams(n=2, temperature=0.9, max_tokens=24, stop=("\n",), seed=4)
    )
    assert other != first


def test_max_tokens_bounds_the_length(local_llm: LocalLLM) -> None:
    short = local_llm.complete(FEW_SHOT, GenerationParams(n=1, max_tokens=3, seed=0))[0]
    assert len(local_llm._model.tokenize(short.encode(), add_bos=False)) <= 3  # type: ignore[attr-defined]


def test_prompt_longer_than_the_context_is_an_input_error(local_llm: LocalLLM) -> None:
    with pytest.raises(InputError, match="exceeds the 2048-token context"):
        local_llm.complete("word " * 3000, GenerationParams(max_tokens=8))


def test_missing_model_file_is_an_input_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="not a file"):
        create_llm(Settings(llm="local", llm_model=str(tmp_path / "missing.gguf")))
