"""Choose the text and label columns of a table."""

from __future__ import annotations

import pandas as pd

from amplio.errors import InputError

MAX_LABELS = 200  # a "label" column with more distinct values than this is not a category


def _string_values(series: pd.Series) -> pd.Series:
    values = series.dropna()
    return values[values.map(lambda v: isinstance(v, str))]


def pick_text_column(frame: pd.DataFrame, requested: str | None = None) -> str:
    """The column holding the texts: ``requested`` if given, else the string column with the
    longest median length."""
    if requested:
        _require(frame, requested, "text column", "text_col")
        return requested
    best, best_len = None, -1.0
    for name in frame.columns:
        values = _string_values(frame[name])
        if len(values) < max(1, len(frame) // 2):
            continue
        median = float(values.str.len().median())
        if median > best_len:
            best, best_len = str(name), median
    if best is None:
        raise InputError(
            "no column holds text (strings in at least half the rows); "
            f"columns are: {', '.join(map(str, frame.columns))}. Name the text column",
            field="text_col",
        )
    return best


def pick_label_column(frame: pd.DataFrame, requested: str | None, text_column: str) -> str | None:
    """The label column: none unless asked; ``auto`` picks the string column other than the text
    whose distinct count is smallest above one (and at most ``MAX_LABELS``)."""
    if not requested:
        return None
    if requested != "auto":
        _require(frame, requested, "label column", "label_col")
        return requested
    best, best_count = None, MAX_LABELS + 1
    for name in frame.columns:
        if name == text_column:
            continue
        values = _string_values(frame[name])
        if len(values) < len(frame) // 2:
            continue
        count = values.nunique()
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
            f"{what} {name!r} is not a column; columns are: {', '.join(map(str, frame.columns))}",
            field=field,
        )
