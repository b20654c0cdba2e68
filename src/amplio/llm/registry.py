"""The registry of LLM backends, and ``create_llm`` which builds the configured one."""

from __future__ import annotations

from collections.abc import Callable

from amplio.config import Settings, load_settings
from amplio.errors import InputError
from amplio.llm.base import LLM

LLMFactory = Callable[[Settings], LLM]
_REGISTRY: dict[str, LLMFactory] = {}


def register_llm(kind: str, factory: LLMFactory) -> None:
    """Register ``factory(settings) -> LLM`` under ``kind`` (the value of ``Settings.llm``).

    Third-party backends register themselves the same way the built-ins do.
    """
    _REGISTRY[kind] = factory


def llm_kinds() -> list[str]:
    """The registered LLM backend kinds."""
    _load_builtins()
    return sorted(_REGISTRY)


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
    _load_builtins()
    try:
        factory = _REGISTRY[settings.llm]
    except KeyError:
        raise InputError(
            f"unknown LLM backend {settings.llm!r}; choose one of: {', '.join(sorted(_REGISTRY))}"
        ) from None
    llm = factory(settings)
    if not isinstance(llm, LLM):
        raise TypeError(f"LLM factory {settings.llm!r} returned {type(llm).__name__}, not an LLM")
    return llm


def _load_builtins() -> None:
    # Importing the backend modules registers them; each imports its heavy library lazily.
    from amplio.llm import local, openai_compatible  # noqa: F401
