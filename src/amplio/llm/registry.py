"""The registry of LLM backends, and ``create_llm`` which builds the configured one."""

from __future__ import annotations

from collections.abc import Callable

from amplio.config import Settings, load_settings
from amplio.llm.base import LLM
from amplio.registry import Registry

LLMFactory = Callable[[Settings], LLM]


def _load_builtins() -> None:
    # Importing the backend modules registers them; each imports its heavy library lazily.
    from amplio.llm import local, openai_compatible  # noqa: F401


_REGISTRY: Registry[LLMFactory] = Registry("LLM backend", "amplio.llms", _load_builtins)


def register_llm(kind: str, factory: LLMFactory) -> None:
    """Register ``factory(settings) -> LLM`` under ``kind`` (the value of ``Settings.llm``).

    Third-party backends register themselves the same way the built-ins do.
    """
    _REGISTRY.register(kind, factory)


def llm_kinds() -> list[str]:
    """The registered LLM backend kinds."""
    return _REGISTRY.kinds()


def create_llm(settings: Settings | None = None) -> LLM:
    """Build the LLM backend that ``settings.llm`` names.

    Args:
        settings: configuration to use; ``None`` reads it with ``load_settings()``.

    Returns:
        A ready backend (a local model is loaded once per process and shared).

    Raises:
        InputError: ``settings.llm`` names no registered backend, or a required key is missing.
        MissingDependencyError: the backend's package is not installed.

    Example:
        >>> llm = create_llm(Settings(llm="local"))  # doctest: +SKIP
        >>> llm.complete("Prompt: hello\\nPrompt:", GenerationParams(stop=("\\n",)))  # doctest: +SKIP
    """
    settings = load_settings() if settings is None else settings
    llm = _REGISTRY.get(settings.llm)(settings)
    if not isinstance(llm, LLM):
        raise TypeError(f"LLM factory {settings.llm!r} returned {type(llm).__name__}, not an LLM")
    return llm
