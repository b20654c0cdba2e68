"""Amplio: human-in-the-loop augmentation of text datasets.

Open a dataset as a mapped, durable workspace, find where it is thin, and fill the gaps with
concept steering, interpolation or an LLM::

    import amplio
    ws = amplio.open("prompts.csv", text_col="prompt", label_col="category")
    print(ws.info())
    ws.export("accepted.parquet", format="parquet")

Heavy libraries (torch, umap, llama.cpp) load only when a feature needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Workspace", "open", "load", "__version__"]

if TYPE_CHECKING:
    from amplio.workspace.workspace import Workspace


def open(source: Any, **options: Any) -> Workspace:  # noqa: A001 - mirrors builtins.open on purpose
    """Open a data file, ``datasets`` folder, DataFrame or workspace folder as a workspace.

    See ``amplio.workspace.build.open_dataset`` for the options (``text_col``, ``label_col``,
    ``workspace``, ``model``, ``seed``, ``progress``).
    """
    from amplio.workspace.build import open_dataset

    return open_dataset(source, **options)


def load(path: Any, *, read_only: bool = False) -> Workspace:
    """Reopen an existing workspace folder."""
    from amplio.workspace.workspace import Workspace

    return Workspace.load(path, read_only=read_only)


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from amplio.workspace.workspace import Workspace

        return Workspace
    raise AttributeError(name)
