"""Vectors made elsewhere: read them from a column, a ``.npy`` file or a Parquet file, check
them hard, and line them up with a table's rows; and write the vectors file ``amplio embed``
makes.

Three sources, told apart by ``vectors_source``:

- a column of the input table holding one list of numbers per row;
- a ``.npy`` file of shape ``(rows, dim)``, one vector per input row in file order;
- a Parquet file of an id column and a vector column (the file ``amplio embed`` writes: its
  metadata names the encoder, the id column and the vector column). The id column is a column of
  the input too, or ``row``: the input's row numbers, counted from 0.

Every problem is an ``InputError`` of one line that says what is wrong and what to do, raised
before anything is embedded or written.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from amplio.data.columns import shown_name, shown_names
from amplio.errors import InputError

ROW_ID = "row"  # the id column of a vectors file aligned by input row number (from 0)
VECTOR_COLUMN = "vector"
HASH_COLUMN = "text_hash"
VECTOR_SUFFIXES = (".npy", ".parquet", ".pq")
# Parquet key-value metadata written by ``amplio embed`` and read back by ``amplio open``.
META_KEYS = ("encoder", "encoder_kind", "encoder_model", "dim", "id_column", "vector_column",
             "text_column", "source", "engine", "rows", "amplio_version")
META_PREFIX = "amplio."
_VECTOR_NAMES = ("vector", "vectors", "embedding", "embeddings")


@dataclass
class Vectors:
    """Vectors lined up with the clean rows of a table (``CleanRows.frame``, same order).

    ``encoder`` is the encoder the vectors file names (``None`` for a column, a ``.npy`` file or
    a Parquet file without Amplio's metadata); ``meta`` holds the rest of that metadata.
    """

    array: NDArray[np.float32]
    source: str
    encoder: str | None = None
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.array.shape[1])


def is_vectors_file(value: str | os.PathLike[str]) -> bool:
    """Whether ``value`` names a vectors file (by its suffix) rather than a column."""
    return Path(value).suffix.lower() in VECTOR_SUFFIXES


def line_up(frame: pd.DataFrame, clean: pd.DataFrame, vectors_source: str | os.PathLike[str] | np.ndarray,
            *, id_col: str | None = None) -> Vectors:
    """The vectors for ``clean`` (rows of ``frame`` after cleaning: ``source_index`` says which
    row each is, ``text_hash`` its text), from a column of ``frame``, a ``.npy`` or Parquet file,
    or an array with one row per row of ``frame``.

    Raises:
        InputError: the source is missing or unreadable; a vector is missing, ragged, not a
            number, NaN, infinite or zero; the count or the ids do not match the table.
    """
    index = clean["source_index"].to_numpy(dtype=np.int64)
    if isinstance(vectors_source, np.ndarray):
        array = _matrix(vectors_source, "the vectors array", per_row="row")
        _require_count(array, len(frame), "the vectors array")
        return Vectors(_checked(array[index], index, "the vectors array", "row"), "array")
    name = os.fspath(vectors_source)
    if id_col and name in frame.columns:
        raise InputError("an id column lines up a vectors file with the rows; a vectors column "
                         "is in the rows already, so give no id column", field="id_col")
    if name in frame.columns and not Path(name).is_file():
        return _from_column(frame, name, index)
    if not is_vectors_file(name):
        raise InputError(
            f"vectors {shown_name(name)!r} is neither a column of the input (columns: "
            f"{shown_names(frame.columns)}) nor a .npy or .parquet file; name a column of lists of "
            "numbers, or a vectors file", field="vectors")
    path = Path(name).expanduser()
    if not path.is_file():
        raise InputError(f"no such vectors file: {path}", field="vectors")
    if path.suffix.lower() == ".npy":
        if id_col:
            raise InputError(f"{path} is a .npy file, lined up by row number; an id column needs a "
                             "Parquet vectors file", field="id_col")
        array = _read_npy(path)
        _require_count(array, len(frame), str(path))
        return Vectors(_checked(array[index], index, str(path), "row"), str(path))
    return _from_parquet(path, frame, clean, id_col)


def _from_column(frame: pd.DataFrame, name: str, index: NDArray[np.int64]) -> Vectors:
    where = f"column {shown_name(name)!r}"
    cells = frame[name].to_numpy(dtype=object)[index]
    array = _stack(cells, where, [f"row {int(i)}" for i in index])
    return Vectors(_checked(array, index, where, "row"), f"column {name}")


def _read_npy(path: Path) -> NDArray[np.float32]:
    try:
        raw = np.load(path, allow_pickle=False, mmap_mode="r")
    except ValueError as exc:
        reason = ("it holds Python objects" if "pickle" in str(exc) or "Python objects" in str(exc)
                  else _first_line(exc))
        raise InputError(f"cannot read {path} as a .npy array of numbers: {reason}; save a 2-D "
                         "float array with numpy.save", field="vectors") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or _first_line(exc)}", field="vectors") from None
    if not isinstance(raw, np.ndarray):
        raise InputError(f"{path} holds several arrays (an .npz?); save one 2-D float array with "
                         "numpy.save", field="vectors")
    return _matrix(raw, str(path), per_row="row")


def _matrix(raw: np.ndarray, where: str, *, per_row: str) -> NDArray[np.float32]:
    if raw.dtype.kind not in "fiu":
        raise InputError(f"{where} holds {raw.dtype} values, not numbers; give a 2-D array of "
                         "floats, one vector per row", field="vectors")
    if raw.ndim != 2 or raw.shape[1] == 0:
        raise InputError(f"{where} has shape {tuple(raw.shape)}, not (rows, dimensions); give a 2-D "
                         f"array of floats, one vector per {per_row}", field="vectors")
    return np.asarray(raw, dtype=np.float32)


def _require_count(array: np.ndarray, rows: int, where: str) -> None:
    if len(array) != rows:
        raise InputError(f"{where} has {len(array):,} vectors but the input has {rows:,} rows; give "
                         "one vector per input row, in the input's order", field="vectors")


def _stack(cells: Sequence[Any] | np.ndarray, where: str, labels: Sequence[str]) -> NDArray[np.float32]:
    """One float32 matrix from cells that should each hold a list of numbers of one length."""
    dim: int | None = None
    first = ""
    rows: list[np.ndarray] = []
    for cell, label in zip(cells, labels, strict=True):
        if cell is None or (isinstance(cell, float) and math.isnan(cell)):
            raise InputError(f"{label} of {where} has no vector; give every row with text a vector",
                             field="vectors")
        if isinstance(cell, (str, bytes)):
            raise InputError(f"{where} holds text, not lists of numbers ({label} is a string); "
                             "give vectors as a list column (Parquet, or JSON arrays)", field="vectors")
        try:
            vector = np.asarray(cell, dtype=np.float32)
        except (TypeError, ValueError):
            raise InputError(f"{label} of {where} is not a list of numbers; give each row a list "
                             "of floats", field="vectors") from None
        if vector.ndim != 1:
            raise InputError(f"{label} of {where} is not a flat list of numbers; give each row a "
                             "list of floats", field="vectors")
        if dim is None:
            dim, first = len(vector), label
        elif len(vector) != dim:
            raise InputError(f"{label} of {where} has {len(vector)} numbers but {first} has {dim}; "
                             "every vector must have the same length", field="vectors")
        rows.append(vector)
    if dim == 0:
        raise InputError(f"{first} of {where} is an empty list; give each row a list of floats",
                         field="vectors")
    return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)


def _arrow_matrix(column: Any, where: str, labels: Sequence[str]) -> NDArray[np.float32]:
    """``_stack`` for an Arrow list column, without a Python object per number (a million rows
    of 384 floats would be 384 million of them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if len(column) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    if column.null_count:
        bad = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise InputError(f"{labels[bad]} of {where} has no vector; give every row with text a vector",
                         field="vectors")
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    dim = int(lengths[0])
    ragged = np.flatnonzero(lengths != dim)
    if len(ragged):
        bad = int(ragged[0])
        raise InputError(f"{labels[bad]} of {where} has {int(lengths[bad])} numbers but {labels[0]} has "
                         f"{dim}; every vector must have the same length", field="vectors")
    if dim == 0:
        raise InputError(f"{labels[0]} of {where} is an empty list; give each row a list of floats",
                         field="vectors")
    values = column.flatten()
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)) or values.null_count:
        raise InputError(f"{where} holds lists of {values.type} with gaps or not of numbers; give each "
                         "row a list of floats", field="vectors")
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(len(column), dim)


def _checked(array: NDArray[np.float32], labels: NDArray[Any] | Sequence[Any], where: str,
             what: str) -> NDArray[np.float32]:
    """``array`` with finite, non-zero rows, each scaled to unit length (the encoders' contract)."""
    array = np.array(array, dtype=np.float32)  # a copy: a memory map or a view stays untouched
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        bad = int(np.argmin(finite))
        kind = "NaN" if np.isnan(array[bad]).any() else "an infinite value"
        raise InputError(f"{what} {labels[bad]} of {where} has {kind}; give finite numbers (embed "
                         "that row again)", field="vectors")
    norms = np.linalg.norm(array, axis=1)
    if (norms == 0).any():
        bad = int(np.argmin(norms))
        raise InputError(f"{what} {labels[bad]} of {where} is all zeros; give a non-zero vector "
                         "(embed that row again)", field="vectors")
    return array / norms[:, None]


def read_vectors_meta(path: str | os.PathLike[str]) -> dict[str, str]:
    """Amplio's metadata in a Parquet vectors file (``amplio.*`` keys, prefix dropped)."""
    import pyarrow.parquet as pq

    try:
        raw = pq.read_schema(path).metadata or {}
    except Exception as exc:  # pyarrow's own hierarchy (ArrowInvalid, ...)
        raise InputError(f"cannot read {path} as Parquet: {_first_line(exc)}", field="vectors") from None
    out = {}
    for key, value in raw.items():
        text = key.decode("utf-8", "replace")
        if text.startswith(META_PREFIX):
            out[text[len(META_PREFIX):]] = value.decode("utf-8", "replace")
    return out


def _from_parquet(path: Path, frame: pd.DataFrame, clean: pd.DataFrame, id_col: str | None) -> Vectors:
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = read_vectors_meta(path)
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise InputError(f"cannot read {path} as Parquet: {_first_line(exc)}", field="vectors") from None
    names = table.column_names
    vector_col = meta.get("vector_column") if meta.get("vector_column") in names else None
    if vector_col is None:
        listed = [n for n in names if pa.types.is_list(table.schema.field(n).type)
                  or pa.types.is_large_list(table.schema.field(n).type)
                  or pa.types.is_fixed_size_list(table.schema.field(n).type)]
        named = [n for n in listed if n.lower() in _VECTOR_NAMES]
        if len(named) == 1 or len(listed) == 1:
            vector_col = (named or listed)[0]
        else:
            raise InputError(
                f"{path} has {'no' if not listed else len(listed)} list columns ({shown_names(names)}); "
                f"give one column of vectors, named {VECTOR_COLUMN!r}", field="vectors")
    others = [n for n in names if n not in (vector_col, HASH_COLUMN)]
    key = id_col or (meta.get("id_column") if meta.get("id_column") in names else None)
    if key is None:
        if len(others) != 1:
            raise InputError(f"{path} has {len(others)} columns besides the vectors "
                             f"({shown_names(others) or 'none'}); name the one holding row ids",
                             field="id_col")
        key = others[0]
    if key not in names:
        raise InputError(f"id column {shown_name(key)!r} is not a column of {path}; its columns "
                         f"are: {shown_names(names)}", field="id_col")
    by_row = key == ROW_ID and key not in frame.columns
    if not by_row and key not in frame.columns:
        raise InputError(f"id column {shown_name(key)!r} of {path} is not a column of the input "
                         f"(columns: {shown_names(frame.columns)}); name the input's id column, or "
                         f"use {ROW_ID!r} for row numbers", field="id_col")
    file_ids = [_id_key(v) for v in table.column(key).to_pylist()]
    position: dict[str, int] = {}
    for i, value in enumerate(file_ids):
        if value is None:
            raise InputError(f"row {i} of {path} has no id in column {shown_name(key)!r}; give every "
                             "vector an id", field="vectors")
        if value in position:
            raise InputError(f"{path} has id {_shown_id(value)} twice (rows {position[value]} and {i}); "
                             "give each vector its own id", field="vectors")
        position[value] = i
    index = clean["source_index"].to_numpy(dtype=np.int64)
    if by_row:
        wanted = [str(int(i)) for i in index]
    else:
        column = frame[key].to_numpy(dtype=object)
        require_unique_ids(column, key)
        wanted = [_id_key(column[int(i)]) for i in index]  # type: ignore[misc]
    missing = [w for w in wanted if w not in position]
    if missing:
        raise InputError(
            f"{len(missing):,} of the {len(wanted):,} rows have no vector in {path} (first: "
            f"{ROW_ID if by_row else shown_name(key)} {_shown_id(missing[0])}); embed the same input "
            "again (amplio embed), or name the id column that lines the two up", field="vectors")
    rows = np.fromiter((position[w] for w in wanted), dtype=np.int64, count=len(wanted))
    labels = [f"{ROW_ID if by_row else shown_name(key)} {_shown_id(w)}" for w in wanted]
    if HASH_COLUMN in names:
        hashes = table.column(HASH_COLUMN).to_numpy(zero_copy_only=False)[rows]
        differ = np.flatnonzero(hashes != clean["text_hash"].to_numpy())
        if len(differ):
            raise InputError(
                f"{labels[int(differ[0])]}'s text differs from the text its vector in {path} was made "
                f"from ({len(differ):,} rows differ); embed this input again (amplio embed), or check "
                "the text and id columns", field="vectors")
    array = _arrow_matrix(table.column(vector_col).take(pa.array(rows)),
                          f"column {shown_name(vector_col)!r} of {path}", labels)
    encoder = meta.get("encoder") or None
    return Vectors(_checked(array, labels, str(path), "vector for"), str(path), encoder, meta)


def require_unique_ids(column: np.ndarray, key: str) -> None:
    """Every row of the input's id column ``key`` has an id, and no id is there twice."""
    seen: dict[str, int] = {}
    for i, value in enumerate(column):
        id_ = _id_key(value)
        if id_ is None:
            raise InputError(f"row {i} of the input has no id in column {shown_name(key)!r}; give "
                             "every row an id", field="id_col")
        if id_ in seen:
            raise InputError(f"column {shown_name(key)!r} of the input has id {_shown_id(id_)} twice "
                             f"(rows {seen[id_]} and {i}); name a column of unique ids", field="id_col")
        seen[id_] = i


def _id_key(value: object) -> str | None:
    """An id as a comparable string: 7, 7.0, np.int64(7) and "7" are one id."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if value is pd.NA or value is pd.NaT:
        return None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return str(int(text))
    return text or None


def _shown_id(value: str) -> str:
    return json.dumps(shown_name(value)) if not value.lstrip("-").isdigit() else value


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def write_vectors(path: str | os.PathLike[str], ids: Sequence[object] | np.ndarray, id_column: str,
                  hashes: Sequence[str], vectors: NDArray[np.float32], meta: Mapping[str, object]) -> Path:
    """Write a Parquet vectors file (id, text hash, vector; ``meta`` as ``amplio.*`` metadata)
    beside the target and rename it into place, so a failure leaves no half-written file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = Path(path).expanduser()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    values = pa.array(vectors.reshape(-1))
    offsets = pa.array(np.arange(0, vectors.size + 1, max(dim, 1), dtype=np.int32)[: len(vectors) + 1])
    table = pa.table({
        id_column: pa.array(list(ids)),
        HASH_COLUMN: pa.array(list(hashes), type=pa.string()),
        VECTOR_COLUMN: pa.ListArray.from_arrays(offsets, values),
    })
    metadata = {f"{META_PREFIX}{k}": str(v) for k, v in meta.items() if v is not None}
    metadata[f"{META_PREFIX}id_column"] = id_column
    metadata[f"{META_PREFIX}vector_column"] = VECTOR_COLUMN
    table = table.replace_schema_metadata(metadata)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp)
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {target}: {exc.strerror or exc}", field="output") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
