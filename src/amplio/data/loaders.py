"""Read a dataset from a file, a folder or a DataFrame into a pandas DataFrame."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from amplio.errors import InputError

FORMATS = ("csv", "tsv", "json", "jsonl", "parquet", "txt", "hf")
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".txt": "txt",
}


def detect_format(path: Path) -> str:
    """The format of ``path``, from a ``datasets`` folder's marker files or the file suffix."""
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            return "hf"
        raise InputError(
            f"{path} is a folder but not a Hugging Face dataset saved with save_to_disk "
            "(no dataset_info.json or dataset_dict.json in it)"
        )
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"unknown format {path.suffix or '(no suffix)'!r} for {path}; "
            f"use one of: {', '.join(sorted(_SUFFIXES))} or a datasets folder"
        )
    return fmt


def read_table(path: str | Path, fmt: str | None = None) -> pd.DataFrame:
    """Load ``path`` as a DataFrame of its original rows, in file order.

    Raises:
        InputError: the file is missing, empty, not UTF-8, or not valid for its format.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"no such file or folder: {path}")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(f"{path} is empty")
    try:
        frame = _READERS[fmt](path)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not valid UTF-8 (byte {exc.start}): re-save it as UTF-8 and try again"
        ) from None
    except (ValueError, pd.errors.ParserError, json.JSONDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {path} as {fmt}: {_first_line(exc)}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(frame, pd.DataFrame) or frame.shape[1] == 0:
        raise InputError(f"{path} holds no table of rows and columns")
    return frame.reset_index(drop=True)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _read_csv(path: Path, sep: str = ",") -> pd.DataFrame:
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                       encoding="utf-8", encoding_errors="strict")


def _read_tsv(path: Path) -> pd.DataFrame:
    return _read_csv(path, sep="\t")


def _read_json(path: Path) -> pd.DataFrame:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        # {"data": [...]} or {"rows": [...]} or a column-oriented dict
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1 and lists[0] and isinstance(lists[0][0], dict):
            data = lists[0]
    if isinstance(data, list) and data and all(isinstance(item, str) for item in data):
        return pd.DataFrame({"text": data})
    return pd.DataFrame(data)


def _read_jsonl(path: Path) -> pd.DataFrame:
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number} is not JSON: {exc.msg}") from None
            records.append(record if isinstance(record, dict) else {"text": record})
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises its own hierarchy (ArrowInvalid, ...)
        raise ValueError(_first_line(exc)) from None


def _read_txt(path: Path) -> pd.DataFrame:
    lines = path.read_text(encoding="utf-8").splitlines()
    return pd.DataFrame({"text": lines})


def _read_hf(path: Path) -> pd.DataFrame:
    try:
        import datasets
    except ImportError:
        raise InputError("reading a datasets folder needs the package datasets (pip install 'amplio[hf]')") from None
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        split = "train" if "train" in loaded else next(iter(loaded))
        loaded = loaded[split]
    return loaded.to_pandas()


_READERS = {
    "csv": _read_csv,
    "tsv": _read_tsv,
    "json": _read_json,
    "jsonl": _read_jsonl,
    "parquet": _read_parquet,
    "txt": _read_txt,
    "hf": _read_hf,
}
