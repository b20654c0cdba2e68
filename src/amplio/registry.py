"""Name registries for backends (encoders, LLMs, decoders, export formats), built-in and plug-in.

Every kind of backend has one ``Registry`` in its package's ``registry`` module. Built-ins
register themselves when their module is imported (on first use, so heavy libraries load
lazily). A third-party package adds a backend without touching Amplio by declaring an entry
point in the kind's group::

    [project.entry-points."amplio.exporters"]
    lines = "my_plugin:write_lines"

The entry point's object is the factory (or writer) itself; it is loaded the first time the
registry is asked for anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from amplio.errors import InputError, MissingDependencyError

F = TypeVar("F")
log = logging.getLogger(__name__)

GROUPS = ("amplio.encoders", "amplio.llms", "amplio.decoders", "amplio.exporters")


class Registry(Generic[F]):
    """Factories by name for one kind of backend.

    Args:
        what: what a name names, for error messages ("encoder kind", "export format").
        group: the entry-point group plug-ins declare their factories in.
        load_builtins: imports the built-in backend modules, which register themselves.
    """

    def __init__(self, what: str, group: str, load_builtins: Callable[[], None] | None = None) -> None:
        self.what = what
        self.group = group
        self._factories: dict[str, F] = {}
        self._load_builtins = load_builtins
        self._loaded = False

    def register(self, kind: str, factory: F) -> None:
        self._factories[kind] = factory

    def kinds(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._factories)

    def get(self, kind: str) -> F:
        """The factory for ``kind``; an unknown kind is an ``InputError`` listing the known ones."""
        self._ensure_loaded()
        try:
            return self._factories[kind]
        except KeyError:
            raise InputError(f"unknown {self.what} {kind!r}; choose one of: {', '.join(self.kinds())}") from None

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._load_builtins is not None:
            self._load_builtins()
        for point in entry_points(group=self.group):
            if point.name in self._factories:
                continue  # a built-in of the same name wins: a plug-in cannot shadow it silently
            try:
                self._factories[point.name] = point.load()
            except ImportError as exc:
                raise MissingDependencyError(
                    f"the {self.what} {point.name!r} from the plug-in {point.value!r} cannot be "
                    f"loaded: {exc}") from None
