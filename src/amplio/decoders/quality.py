"""Checks that separate a new prompt from a copy, a concatenation or an odd-length fragment.

Fidelity alone rewards copying the nearest row and gluing two parents together ("A and B"
scores a high cosine to their midpoint). These checks flag such candidates so the decoder can
rank them below clean ones. They only compare strings and vectors: the texts are data.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, product

import numpy as np
from numpy.typing import NDArray

NEAR_DUPLICATE = "near-duplicate"
CONCATENATION = "concatenation"
LENGTH = "length"
REPETITIVE = "repetitive"
DUPLICATE_OUTPUT = "duplicate-output"

DEFAULT_DUPLICATE_COSINE = 0.97

_WORD = re.compile(r"\w+", re.UNICODE)
_JOINERS = re.compile(r"\s+(?:and|or|then|also|plus)\s+|[;|]\s*|(?<=[.!?])\s+", re.IGNORECASE)


def normalise_text(text: str) -> str:
    """Case-folded words only: two texts that differ in case, punctuation or spacing are equal."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def words(text: str) -> list[str]:
    """The case-folded word tokens of ``text``."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def nearest_duplicate(
    text: str,
    embedding: NDArray[np.float32],
    reference_texts: Sequence[str],
    reference_embeddings: NDArray[np.float32] | None,
    *,
    threshold: float = DEFAULT_DUPLICATE_COSINE,
) -> int | None:
    """Index of a reference row that ``text`` copies, or ``None``.

    A copy has a cosine above ``threshold`` to the row, or the same normalised text as one of
    the few rows nearest to it (an exact copy always sits among those).
    """
    if reference_embeddings is None or len(reference_embeddings) == 0:
        return None
    sims = reference_embeddings @ embedding
    order = np.argsort(-sims, kind="stable")[:5]
    key = normalise_text(text)
    for i in order:
        if sims[i] > threshold:
            return int(i)
        if i < len(reference_texts) and normalise_text(reference_texts[i]) == key:
            return int(i)
    return None


def concatenation_of(
    text: str,
    rows: Sequence[str],
    *,
    coverage: float = 0.7,
    distinct_coverage: float = 0.7,
    length_ratio: float = 0.8,
) -> tuple[int, int] | None:
    """The pair of ``rows`` that ``text`` glues together, or ``None``.

    ``text`` concatenates rows A and B when it holds at least ``coverage`` of each one's words,
    at least ``distinct_coverage`` of the words only A has and of the words only B has, and is
    at least ``length_ratio`` times as long as both together; or when it splits at a joiner
    ("and", ";", a sentence end) into parts that each repeat most of a different row. The
    length and distinct-word conditions keep one templated prompt that shares words with two
    neighbours from being flagged (on AART, 1 % of real rows are flagged against their own
    8 nearest rows, and every "A and B" of two random rows is).
    """
    cand = words(text)
    if not cand or len(rows) < 2:
        return None
    bag = Counter(cand)
    row_words = [words(r) for r in rows]
    cover = [_coverage(bag, rw) for rw in row_words]
    for a in range(len(rows)):
        if cover[a] < coverage:
            continue
        for b in range(a + 1, len(rows)):
            if cover[b] < coverage or normalise_text(rows[a]) == normalise_text(rows[b]):
                continue
            if len(cand) < length_ratio * (len(row_words[a]) + len(row_words[b])):
                continue
            only_a = [w for w in row_words[a] if w not in set(row_words[b])]
            only_b = [w for w in row_words[b] if w not in set(row_words[a])]
            if (
                only_a
                and only_b
                and _coverage(bag, only_a) >= distinct_coverage
                and _coverage(bag, only_b) >= distinct_coverage
            ):
                return (a, b)
    parts = [p for p in _JOINERS.split(text) if p and p.strip()]
    if len(parts) >= 2:
        # Each of two parts must repeat its own row. One part that repeats two near-identical
        # rows ("...in Tahiti" and "How to ... in Tahiti") is one row plus an edit, not a glue.
        covered = []
        for part in parts:
            part_bag = Counter(words(part))
            hits = [
                i
                for i, rw in enumerate(row_words)
                if rw and _coverage(part_bag, rw) >= 0.8 and len(words(part)) <= 1.5 * len(rw)
            ]
            if hits:
                covered.append(hits)
        for first, second in combinations(covered, 2):
            for a, b in product(first, second):
                if normalise_text(rows[a]) != normalise_text(rows[b]):
                    return (min(a, b), max(a, b))
    return None


def _coverage(bag: Counter[str], row: list[str]) -> float:
    # Share of the row's words (with multiplicity) found in the candidate.
    if not row:
        return 0.0
    need = Counter(row)
    return sum(min(c, bag[w]) for w, c in need.items()) / len(row)


@dataclass(frozen=True)
class LengthRange:
    """Accepted word counts, from the neighbours' own range with some slack."""

    low: int
    high: int

    @classmethod
    def from_texts(cls, texts: Sequence[str], *, slack: float = 0.5, floor: int = 3) -> LengthRange:
        """The range ``[max(2, min·(1-slack)), max·(1+slack) + floor]`` of the texts' lengths."""
        counts = [len(words(t)) for t in texts if t.strip()]
        if not counts:
            return cls(1, 10_000)
        low = max(2, int(min(counts) * (1 - slack)))
        high = int(max(counts) * (1 + slack)) + floor
        return cls(low, high)

    def contains(self, text: str) -> bool:
        """Whether ``text``'s word count falls inside the range."""
        return self.low <= len(words(text)) <= self.high


def is_repetitive(text: str) -> bool:
    """Whether a word trigram repeats three times or more (a model stuck in a loop)."""
    toks = words(text)
    grams = Counter(zip(toks, toks[1:], toks[2:], strict=False))
    return bool(grams) and max(grams.values()) >= 3


def assess(
    text: str,
    embedding: NDArray[np.float32],
    *,
    reference_texts: Sequence[str],
    reference_embeddings: NDArray[np.float32] | None,
    concat_rows: Sequence[str],
    lengths: LengthRange,
    duplicate_cosine: float = DEFAULT_DUPLICATE_COSINE,
) -> tuple[list[str], int | None]:
    """All flags for one candidate, and the reference row it duplicates (if any).

    Args:
        text: the candidate.
        embedding: its unit embedding.
        reference_texts: existing rows it must not copy.
        reference_embeddings: their unit embeddings, same order.
        concat_rows: rows it must not glue together (parents and nearest rows).
        lengths: the accepted word-count range.
        duplicate_cosine: cosine above which a candidate copies a row.

    Returns:
        ``(flags, duplicate_of)``; empty flags mean a clean candidate.
    """
    flags: list[str] = []
    dup = nearest_duplicate(
        text, embedding, reference_texts, reference_embeddings, threshold=duplicate_cosine
    )
    if dup is not None:
        flags.append(NEAR_DUPLICATE)
    if concatenation_of(text, concat_rows) is not None:
        flags.append(CONCATENATION)
    if not lengths.contains(text):
        flags.append(LENGTH)
    if is_repetitive(text):
        flags.append(REPETITIVE)
    return flags, dup
