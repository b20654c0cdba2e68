"""Choose the text and label columns of a table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from amplio.errors import InputError

MAX_LABELS = 200  # a "label" column with more distinct values than this is not a category
SHOWN_COLUMNS = 12  # an error message lists this many column names, then how many more
# An id, a score, an amount: "12", "-0.5", "1,200", "3e-4", "45%" (RE2 syntax, for Arrow).
_NUMBER = r"^\s*[-+]?(?:\d[\d,_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?%?\s*$"
_NUMBER_SAMPLE = 1_000
_NESTED = (dict, list, tuple, np.ndarray)

# Columns are read through Arrow, not pandas' per-column methods: a table of a thousand
# columns then costs a few microseconds a column, not milliseconds.


def _strings(series: pd.Series) -> Any:
    """The column's strings as an Arrow array, null where a value is missing or not a string."""
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Strings mixed with other values.
        return pa.array([v if isinstance(v, str) else None for v in series.tolist()], type=pa.string())
    if pa.types.is_dictionary(array.type):  # a pandas categorical
        array = array.dictionary_decode()
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array
    return pa.nulls(len(array), type=pa.string())


def _count(strings: Any) -> int:
    return len(strings) - strings.null_count


def _all_numbers(strings: Any) -> bool:
    """Every string reads as a number (a column of ids or scores, not of texts)."""
    if _count(strings) == 0:
        return False
    # Texts give themselves away in the first rows; only number columns are read in full.
    for part in (strings.slice(0, _NUMBER_SAMPLE), strings):
        if not pc.all(pc.match_substring_regex(part, _NUMBER)).as_py():
            return False
    return True


def _is_nested(series: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_string_dtype(series.dtype) \
            and series.dtype != object:
        return False
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return any(isinstance(v, _NESTED) for v in series.tolist())
    return pa.types.is_nested(array.type)


def _holds_numbers(series: pd.Series) -> bool:
    values = series.dropna()
    if values.empty:
        return False
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return True
    if pd.api.types.infer_dtype(values, skipna=True) in ("integer", "floating", "mixed-integer-float",
                                                          "decimal", "boolean"):
        return True
    strings = _strings(values)
    return _count(strings) == len(values) and _all_numbers(strings)


def column_kind(series: pd.Series) -> str:
    """What a column holds, in a word for messages: text, numbers, nested, empty or mixed."""
    if series.count() == 0:
        return "empty"
    if _is_nested(series):
        return "nested"
    if _holds_numbers(series):
        return "numbers"
    return "text" if _count(_strings(series)) == series.count() else "mixed"


def shown_name(name: object, width: int = 40) -> str:
    """A column name fit for a one-line message: white space flattened, control characters
    escaped, long names cut."""
    flat = " ".join(str(name).split())
    flat = "".join(c if c.isprintable() else repr(c)[1:-1] for c in flat)
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def shown_names(names: Iterable[object], describe: pd.DataFrame | None = None) -> str:
    """The first ``SHOWN_COLUMNS`` names, comma-separated, then how many more (a table of a
    thousand columns still gives a readable line). With ``describe``, each name says what its
    column holds."""
    names = list(names)
    shown = []
    for name in names[:SHOWN_COLUMNS]:
        text = shown_name(name)
        if describe is not None:
            text += f" ({column_kind(describe[name])})"
        shown.append(text)
    more = len(names) - SHOWN_COLUMNS
    return ", ".join(shown) + (f" and {more:,} more" if more > 0 else "")


def duplicate_column(names: Iterable[object]) -> tuple[str, int] | None:
    """The first name given to more than one column, and how many columns have it."""
    for name, count in Counter(str(name) for name in names).items():
        if count > 1:
            return name, count
    return None


def duplicate_message(name: str, count: int) -> str:
    return (f"has {'two' if count == 2 else count} columns named {shown_name(name)!r}; rename them "
            "so that every column has its own name")


def pick_text_column(frame: pd.DataFrame, requested: str | None = None) -> str:
    """The column holding the texts: ``requested`` if given, else the string column with the
    longest median length whose values are not all numbers."""
    duplicate = duplicate_column(frame.columns)
    if duplicate:
        raise InputError(f"the table {duplicate_message(*duplicate)}")
    if requested:
        _require(frame, requested, "text column", "text_col")
        _require_text(frame, requested, "text_col")
        return requested
    candidates, sparse = [], []
    for name in frame.columns:
        strings = _strings(frame[name])
        if _count(strings) < max(1, len(frame) // 2):
            sparse.append(strings)
            continue
        median = pc.quantile(pc.utf8_length(strings), q=0.5)[0].as_py()
        candidates.append((float(median), str(name), strings))
    # Longest first, so that usually only the winner is read for numbers.
    for _, name, strings in sorted(candidates, key=lambda c: -c[0]):
        if not _all_numbers(strings):
            return name
    # Naming a column helps only if some column has text, if too little to be picked.
    helps = any(_count(s) and not _all_numbers(s) for s in sparse)
    raise InputError(
        "no column holds text (strings, not numbers, in at least half the rows); columns are: "
        f"{shown_names(frame.columns, describe=frame)}. "
        + ("Name the text column" if helps else "Give a table with a column of texts"),
        field="text_col" if helps else None,
    )


def pick_label_column(frame: pd.DataFrame, requested: str | None, text_column: str) -> str | None:
    """The label column: none unless asked; ``auto`` picks the string column other than the text
    whose distinct count is smallest above one (and at most ``MAX_LABELS``)."""
    if not requested:
        return None
    if requested != "auto":
        _require(frame, requested, "label column", "label_col")
        if _is_nested(frame[requested]):
            raise InputError(f"label column {shown_name(requested)!r} holds nested values (lists or "
                             "records), not labels; name a column of plain values", field="label_col")
        return requested
    best, best_count = None, MAX_LABELS + 1
    for name in frame.columns:
        if name == text_column:
            continue
        strings = _strings(frame[name])
        if _count(strings) < len(frame) // 2:
            continue
        count = pc.count_distinct(strings).as_py()  # nulls are not counted
        if 1 < count < best_count:
            best, best_count = str(name), count
    if best is None:
        raise InputError(
            f"no column looks like a label (2 to {MAX_LABELS} distinct strings); name the label column",
            field="label_col",
        )
    return best


def _require(frame: pd.DataFrame, name: str, what: str, field: str) -> None:
    if name not in frame.columns:
        raise InputError(
            f"{what} {shown_name(name)!r} is not a column; columns are: {shown_names(frame.columns)}",
            field=field,
        )


def _require_text(frame: pd.DataFrame, name: str, field: str) -> None:
    series = frame[name]
    if _is_nested(series):
        raise InputError(f"column {shown_name(name)!r} holds nested values (lists or records), not "
                         "text; name a column of strings", field=field)
    if _holds_numbers(series):
        raise InputError(f"column {shown_name(name)!r} holds numbers, not text; name the column "
                         "that holds the texts", field=field)
