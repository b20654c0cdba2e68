"""Turn a raw table into clean rows: texts chosen, blanks skipped, duplicates folded."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

from amplio.data.columns import pick_label_column, pick_text_column
from amplio.errors import InputError

MAX_TEXT_CHARS = 100_000  # a prompt dataset row longer than this is almost surely a broken file


def text_hash(text: str) -> str:
    """A stable key for a text (the embedding cache and duplicate detection use it)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@dataclass
class CleanRows:
    """The rows to store, plus what was dropped on the way."""

    frame: pd.DataFrame  # columns: text, label, source_index, dup_count, text_hash
    text_column: str
    label_column: str | None
    skipped_empty: int
    folded_duplicates: int


def clean_rows(frame: pd.DataFrame, text_col: str | None = None, label_col: str | None = None) -> CleanRows:
    """Pick the columns and clean the rows of ``frame``.

    Texts are stripped of surrounding white space; empty or missing texts are skipped and
    counted; exact duplicates are kept once (the first, with its source index) and counted in
    ``dup_count``.

    Raises:
        InputError: a named column is missing, no row has text, or a text is absurdly long.
    """
    if len(frame) == 0:
        raise InputError("the dataset has no rows; give a table with at least one row")
    text_column = pick_text_column(frame, text_col)
    label_column = pick_label_column(frame, label_col, text_column)
    texts = frame[text_column].map(_as_text)
    labels = frame[label_column].map(_as_label) if label_column else pd.Series([None] * len(frame))
    rows = pd.DataFrame({"text": texts.values, "label": labels.values, "source_index": range(len(frame))})
    non_empty = rows["text"].str.len() > 0
    skipped = int((~non_empty).sum())
    rows = rows[non_empty]
    if rows.empty:
        raise InputError(f"column {text_column!r} has no usable text (all {len(frame)} rows are empty)")
    too_long = rows["text"].str.len() > MAX_TEXT_CHARS
    if too_long.any():
        first = rows[too_long].iloc[0]
        raise InputError(
            f"row {int(first['source_index'])} of column {text_column!r} is {len(first['text']):,} "
            f"characters long (limit {MAX_TEXT_CHARS:,}); split or remove it, or check that "
            "the text column is the right one",
            field="text_col",
        )
    rows = rows.assign(text_hash=rows["text"].map(text_hash))
    counts = rows.groupby("text_hash", sort=False)["text_hash"].transform("size")
    rows = rows.assign(dup_count=counts.astype("int64"))
    unique = rows.drop_duplicates("text_hash", keep="first").reset_index(drop=True)
    return CleanRows(
        frame=unique,
        text_column=text_column,
        label_column=label_column,
        skipped_empty=skipped,
        folded_duplicates=len(rows) - len(unique),
    )


def _as_text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _as_label(value: object) -> str | None:
    text = _as_text(value)
    return text or None
