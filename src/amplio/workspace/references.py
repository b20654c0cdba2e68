"""Reference sets: files of prompts compared with a workspace (gaps, concept training), read
once and embedded with the workspace's encoder, cached in the workspace by content hash."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from amplio.errors import InputError
from amplio.progress import Progress, silent
from amplio.workspace.store import REFERENCE_EMBEDDINGS

if TYPE_CHECKING:
    from amplio.workspace.workspace import Workspace



@dataclass
class ReferenceSet:
    """A reference file's texts and their embeddings (same encoder as the workspace)."""

    path: str
    sha256: str
    text_column: str
    texts: list[str]
    embeddings: np.ndarray
    cached: bool

    def describe(self) -> dict[str, Any]:
        from amplio.data.reference import reference_name

        return {"path": self.path, "name": reference_name(self.path), "sha256": self.sha256,
                "text_column": self.text_column, "rows": len(self.texts)}


def _content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode("utf-8") + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def load_reference(ws: Workspace, reference: str | Path, *, text_column: str | None = None,
                   progress: Progress = silent) -> ReferenceSet:
    """Read a reference file, pick its text column and embed it (cached by content hash).

    ``reference`` is a path, or ``"bundled"`` for the bundled public red-teaming sets
    (``amplio.data.reference``).

    Raises:
        InputError: the file is missing or unreadable, the text column is not there, or the
            file holds no non-empty text.
    """
    from amplio.data.columns import pick_text_column
    from amplio.data.loaders import read_table
    from amplio.data.reference import resolve_reference

    path = resolve_reference(reference)
    if not path.exists():
        raise InputError(f"no such reference file: {path} (give a CSV/TSV/JSON/JSONL/Parquet file "
                         f"of prompts, or `bundled` for the bundled public red-teaming sets)",
                         field="reference")
    frame = read_table(path)
    if text_column and text_column not in frame.columns:
        raise InputError(f"reference text column {text_column!r} is not a column of {path.name}; "
                         f"columns are: {', '.join(map(str, frame.columns))}",
                         field="reference_text_column")
    column = pick_text_column(frame, text_column)
    texts = list(dict.fromkeys(
        str(v).strip() for v in frame[column].tolist() if not pd.isna(v) and str(v).strip()))
    if not texts:
        raise InputError(f"the reference {path.name} has no text in column {column!r}")
    sha = _content_hash(path)
    name = f"{REFERENCE_EMBEDDINGS}:{sha}:{column}:{ws.meta['encoder']}"
    cached = ws.store.get_artifact(name)
    if cached:
        with np.load(io.BytesIO(cached), allow_pickle=False) as data:
            if int(data["embeddings"].shape[0]) == len(texts):
                return ReferenceSet(str(path), sha, column, texts,
                                    data["embeddings"].astype(np.float32), cached=True)
    from amplio.embedding.batching import embed_texts

    # Thousands of prompts take a minute on a laptop: lend out the server's lock meanwhile (the
    # encoder serialises its own calls), so the UI's searches and row views still answer.
    with ws.unlocked():
        vectors = np.asarray(embed_texts(ws.encoder, texts, progress=progress), dtype=np.float32)
    if vectors.shape[1] != int(ws.meta["dim"]):
        raise InputError(f"the encoder gave {vectors.shape[1]}-d vectors, the workspace holds "
                         f"{ws.meta['dim']}-d ones")
    buffer = io.BytesIO()
    np.savez(buffer, embeddings=vectors)
    if not ws.store.read_only:
        with ws.store.transaction():
            ws.store.put_artifact(name, buffer.getvalue())
    return ReferenceSet(str(path), sha, column, texts, vectors, cached=False)


