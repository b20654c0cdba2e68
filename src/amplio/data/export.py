"""Write workspace rows to files: ML formats here, red-teaming formats in ``redteam_formats``."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from amplio.data.records import plain
from amplio.errors import InputError
from amplio.registry import Registry

EXPORT_COLUMNS = (
    "id", "text", "label", "origin", "method", "parents", "params", "models", "status",
    "x", "y", "cluster", "source_index", "dup_count", "created_at", "reviewed_by",
)


def provenance_frame(frame: pd.DataFrame, *, flat: bool) -> pd.DataFrame:
    """The export columns; with ``flat``, lists and dicts become JSON strings (for CSV)."""
    out = frame.loc[:, list(EXPORT_COLUMNS)].copy()
    out["created_at"] = out["created_at"].astype(str)
    if flat:
        for column in ("parents", "params", "models"):
            out[column] = out[column].map(lambda v: json.dumps(v, sort_keys=True))
    else:
        # Parquet and datasets want one type per column: nested dicts of varying keys become JSON.
        for column in ("params", "models"):
            out[column] = out[column].map(lambda v: json.dumps(v, sort_keys=True))
    return out


def _csv(frame: pd.DataFrame, path: Path, meta: dict[str, Any]) -> None:
    provenance_frame(frame, flat=True).to_csv(path, index=False)


def _jsonl(frame: pd.DataFrame, path: Path, meta: dict[str, Any]) -> None:
    out = frame.loc[:, list(EXPORT_COLUMNS)].copy()
    out["created_at"] = out["created_at"].astype(str)
    with path.open("w", encoding="utf-8") as handle:
        for record in out.to_dict(orient="records"):
            handle.write(json.dumps({k: plain(v) for k, v in record.items()}, ensure_ascii=False) + "\n")


def _parquet(frame: pd.DataFrame, path: Path, meta: dict[str, Any]) -> None:
    provenance_frame(frame, flat=False).to_parquet(path, index=False)


def _hf(frame: pd.DataFrame, path: Path, meta: dict[str, Any]) -> None:
    try:
        import datasets
    except ImportError:
        raise InputError("the hf format needs the package datasets (pip install 'amplio[hf]')",
                         field="format") from None
    data = provenance_frame(frame, flat=False)
    data["x"] = data["x"].astype("float32")
    data["y"] = data["y"].astype("float32")
    data["source_index"] = data["source_index"].astype("float64")  # nullable ints
    datasets.Dataset.from_pandas(data, preserve_index=False).save_to_disk(str(path))


Writer = Callable[[pd.DataFrame, Path, dict[str, Any]], None]


def _load_builtins() -> None:
    for name, writer in (("csv", _csv), ("jsonl", _jsonl), ("parquet", _parquet), ("hf", _hf)):
        register_writer(name, writer)
    from amplio.data import redteam_formats  # noqa: F401  (registers pyrit, promptfoo, garak)


_REGISTRY: Registry[Writer] = Registry("export format", "amplio.exporters", _load_builtins)


def register_writer(name: str, writer: Writer) -> None:
    """Add an export format: ``writer(frame, path, meta)`` writes the rows to ``path``."""
    _REGISTRY.register(name, writer)


def export_formats() -> list[str]:
    """The registered export formats (built in, and from ``amplio.exporters`` plug-ins)."""
    return _REGISTRY.kinds()


def export_rows(frame: pd.DataFrame, path: Path, fmt: str, *, meta: dict[str, Any]) -> Path:
    """Write ``frame`` to ``path`` as ``fmt``, atomically (a temporary name, then a rename)."""
    writer = _REGISTRY.get(fmt)
    path = path.expanduser()
    if not path.parent.exists():
        raise InputError(f"folder {path.parent} does not exist")
    if path.is_dir() and fmt != "hf":
        raise InputError(f"{path} is a folder; give a file path")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        writer(frame, tmp, meta)
        if path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise
    return path
