"""Name registries for backends (encoders, LLMs, decoders): built-ins and plug-ins alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from amplio.errors import InputError

F = TypeVar("F")


class Registry(Generic[F]):
    """Factories by name. ``load_builtins`` imports the built-in backend modules on first use,
    which register themselves; so the heavy libraries behind them still load lazily."""

    def __init__(self, what: str, load_builtins: Callable[[], None] | None = None) -> None:
        self.what = what
        self._factories: dict[str, F] = {}
        self._load_builtins = load_builtins

    def register(self, kind: str, factory: F) -> None:
        self._factories[kind] = factory

    def kinds(self) -> list[str]:
        self._ensure_builtins()
        return sorted(self._factories)

    def get(self, kind: str) -> F:
        """The factory for ``kind``; an unknown kind is an ``InputError`` listing the known ones."""
        self._ensure_builtins()
        try:
            return self._factories[kind]
        except KeyError:
            raise InputError(f"unknown {self.what} {kind!r}; choose one of: {', '.join(self.kinds())}") from None

    def _ensure_builtins(self) -> None:
        if self._load_builtins is not None:
            load, self._load_builtins = self._load_builtins, None
            load()
