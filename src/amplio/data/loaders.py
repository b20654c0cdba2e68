"""Read a dataset from a file, a folder or a DataFrame into a pandas DataFrame."""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from amplio.data.columns import duplicate_column, duplicate_message, shown_name, shown_names
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
_TEXT_FORMATS = {"csv", "tsv", "json", "jsonl", "txt"}
# UTF-32 before UTF-16: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32"}
# Formats people rename to .csv or .txt by mistake, by their first bytes.
_MAGIC = (
    (b"PAR1", "a Parquet file; give it the suffix .parquet"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one); export the sheet as CSV"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first"),
    (b"%PDF", "a PDF document; export its text as CSV or TXT"),
)
_SNIFF_BYTES = 64 * 1024
_SEPARATORS = {"csv": ",", "tsv": "\t"}
_SEPARATOR_NAMES = {",": "a comma", "\t": "a tab"}
_PANDAS_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


class _DuplicateKey(Exception):
    """A JSON object names one key twice (``json`` would silently keep the last)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _BadFile(Exception):
    """What is wrong with the file and what to do; the message goes on after the file's path."""


def detect_format(path: Path) -> str:
    """The format of ``path``, from a ``datasets`` folder's marker files or the file suffix."""
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            return "hf"
        files = sorted(shown_name(p.name) for p in path.iterdir() if p.suffix.lower() in _SUFFIXES)
        hint = (f"open one of its files instead ({shown_names(files)})" if files
                else "give a data file (CSV, TSV, JSON, JSONL, Parquet, TXT) instead")
        raise InputError(
            f"{path} is a folder but not a Hugging Face dataset saved with save_to_disk "
            f"(no dataset_info.json or dataset_dict.json in it); {hint}"
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

    Text files are read as UTF-8, or as UTF-16/UTF-32 when they start with that byte-order mark.

    Raises:
        InputError: the file is missing, empty, binary, not UTF-8, ragged, has no rows, names a
            column twice, or is otherwise not valid for its format. The message is one line
            that says what is wrong and what to do.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"no such file or folder: {path}")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes); give a file with at least one row")
    encoding = _text_encoding(path) if fmt in _TEXT_FORMATS else "utf-8"
    try:
        frame = _READERS[fmt](path, encoding)
    except _BadFile as exc:
        raise InputError(f"{path} {exc}") from None
    except _DuplicateKey as exc:
        raise InputError(f"{path} {duplicate_message(exc.key, 2)}") from None
    except UnicodeDecodeError:
        raise InputError(_decode_error(path, encoding)) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} holds only blank lines; give a file with at least one row") from None
    except pd.errors.ParserError as exc:
        raise InputError(_parser_error(path, exc, _SEPARATORS.get(fmt, ","), encoding)) from None
    except (ValueError, json.JSONDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {path} as {fmt}: {_first_line(exc)}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(frame, pd.DataFrame) or frame.shape[1] == 0:
        raise InputError(f"{path} holds no table of rows and columns; give rows with a text column")
    duplicate = duplicate_column(frame.columns)
    if duplicate:
        raise InputError(f"{path} {duplicate_message(*duplicate)}")
    if len(frame) == 0:
        raise InputError(f"{path} has columns ({shown_names(frame.columns)}) but no rows; "
                         "add at least one row below the header")
    return frame.reset_index(drop=True)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _text_encoding(path: Path) -> str:
    """UTF-8, or the encoding a byte-order mark names; refuses files that are not text."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise InputError(f"{path} is not text but {what}")
    nul = head.find(b"\x00")
    if nul >= 0:
        raise InputError(
            f"{path} is not text: it has a NUL byte at offset {nul} (binary data, or UTF-16 "
            "without a byte-order mark); save it as UTF-8 text"
        )
    return "utf-8"


def _decode_error(path: Path, encoding: str) -> str:
    """Where the first undecodable byte is, in the file's own terms.

    Found again here because pandas reports offsets within its read buffer, not the file.
    """
    name = _ENCODING_NAMES.get(encoding, encoding)
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, line = 0, 1
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            held = len(decoder.getstate()[0])  # bytes of a character split across chunks
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                start = max(0, exc.start - held)
                line += chunk[:start].count(b"\n")
                # Line numbers only for UTF-8: in UTF-16/32 a newline is not the byte 0x0A.
                where = f"byte {offset + start}"
                if name == "UTF-8":
                    where = f"line {line}, {where}"
                return f"{path} is not valid {name} ({where}): re-save it as UTF-8 and try again"
            offset += len(chunk)
            line += chunk.count(b"\n")
    return f"{path} is not valid {name}: re-save it as UTF-8 and try again"


def _parser_error(path: Path, exc: Exception, sep: str, encoding: str) -> str:
    message = _first_line(exc).removeprefix("Error tokenizing data. C error: ")
    match = _PANDAS_RAGGED.search(message)
    if match is None:
        return f"cannot read {path}: {message}; fix the file and try again"
    expected, line, saw = (int(g) for g in match.groups())
    found = _first_long_record(path, sep, encoding)
    if found is not None:
        line, saw, expected = found
    return f"{path} {_ragged_message(line, saw, expected, sep)}"


def _ragged_message(line: int | None, saw: int | None, expected: int, sep: str) -> str:
    where = f"line {line} has {saw} fields" if line else "a row has more fields than the header"
    return (f"{where} but the header has {expected}; quote values that contain "
            f"{_SEPARATOR_NAMES.get(sep, repr(sep))}, or fix that line")


def _first_long_record(path: Path, sep: str, encoding: str) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first row longer than the header, by the csv
    module's count of physical lines (pandas miscounts lines after a quoted line break)."""
    try:
        with path.open(encoding=encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=sep)
            header: list[str] | None = None
            for row in reader:
                if not row:
                    continue
                if header is None:
                    header = row
                elif len(row) > len(header):
                    return reader.line_num, len(row), len(header)
    except (csv.Error, UnicodeDecodeError):
        pass  # the caller falls back to pandas' line number
    return None


def _header(path: Path, sep: str, encoding: str) -> list[str] | None:
    """The first row of the file as the csv module reads it (pandas renames repeated names)."""
    try:
        with path.open(encoding=encoding, newline="") as handle:
            for row in csv.reader(handle, delimiter=sep):
                if row:
                    return row
    except (csv.Error, UnicodeDecodeError):
        pass  # pandas reads it again and reports the problem
    return None


def _read_csv(path: Path, encoding: str, sep: str = ",") -> pd.DataFrame:
    header = _header(path, sep, encoding)
    if header is not None:
        duplicate = duplicate_column([name for name in header if name.strip()])
        if duplicate:
            raise _BadFile(duplicate_message(*duplicate))
    frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                        encoding=encoding, encoding_errors="strict")
    if isinstance(frame.index, pd.RangeIndex):
        return frame
    # The first row had more fields than the header, so pandas took the extra leading ones as
    # an index and shifted every value one column to the right. Harmless only if the extra
    # fields are empty (a separator at the end of every line).
    names = list(frame.columns)
    shifted = frame.reset_index()
    if shifted.iloc[:, len(names):].isna().all().all():
        shifted = shifted.iloc[:, :len(names)]
        shifted.columns = names
        return shifted
    found = _first_long_record(path, sep, encoding)
    line, saw = (found[0], found[1]) if found else (None, None)
    raise _BadFile(_ragged_message(line, saw, len(names), sep))


def _read_tsv(path: Path, encoding: str) -> pd.DataFrame:
    return _read_csv(path, encoding, sep="\t")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "null"
    return "a number"


def _read_json(path: Path, encoding: str) -> pd.DataFrame:
    data = json.loads(path.read_text(encoding=encoding), object_pairs_hook=_unique_keys)
    if isinstance(data, dict):
        # {"data": [...]} or {"rows": [...]} or a column-oriented dict
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1 and lists[0] and isinstance(lists[0][0], dict):
            data = lists[0]
        elif data and len(lists) == len(data) and len({len(v) for v in lists}) == 1:
            return pd.DataFrame(data)
        else:
            raise _BadFile(
                "holds one JSON object, not a list of rows; give a list of objects "
                "([{\"text\": ...}, ...]) or a .jsonl file with one object per line"
            )
    if not isinstance(data, list):
        raise _BadFile(
            f"holds {_json_kind(data)}, not a list of rows; give a list of objects "
            "([{\"text\": ...}, ...]) or a .jsonl file with one object per line"
        )
    if data and all(isinstance(item, str) or item is None for item in data):
        return pd.DataFrame({"text": data})
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise _BadFile(
                f"has {_json_kind(item)} as item {index} of its list; give one object per row "
                "(or only strings, one text per item)"
            )
    return pd.DataFrame(data)


def _read_jsonl(path: Path, encoding: str) -> pd.DataFrame:
    records = []
    with path.open(encoding=encoding) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line, object_pairs_hook=_unique_keys)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number} is not JSON: {exc.msg}") from None
            records.append(record if isinstance(record, dict) else {"text": record})
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path, encoding: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        # Arrow refuses a table that names a column twice with a message about field refs.
        duplicate = duplicate_column(pq.read_schema(path).names)
        if duplicate is None:
            return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises its own hierarchy (ArrowInvalid, ...)
        raise ValueError(_first_line(exc)) from None
    raise _BadFile(duplicate_message(*duplicate))


def _read_txt(path: Path, encoding: str) -> pd.DataFrame:
    lines = path.read_text(encoding=encoding).splitlines()
    return pd.DataFrame({"text": lines})


def _read_hf(path: Path, encoding: str) -> pd.DataFrame:
    try:
        import datasets
    except ImportError:
        raise InputError("reading a datasets folder needs the package datasets (pip install 'amplio[hf]')") from None
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        split = "train" if "train" in loaded else next(iter(loaded))
        loaded = loaded[split]
    return loaded.to_pandas()


_READERS: dict[str, Callable[[Path, str], pd.DataFrame]] = {
    "csv": _read_csv,
    "tsv": _read_tsv,
    "json": _read_json,
    "jsonl": _read_jsonl,
    "parquet": _read_parquet,
    "txt": _read_txt,
    "hf": _read_hf,
}
