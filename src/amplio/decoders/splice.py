"""Recombine candidate texts at shared words: the cheap local-search step of the decoder.

An LLM round costs seconds; embedding a few hundred short texts costs about one. Splicing the
best texts found so far where they share a word ("...how to [launder money] in..." from one,
"...how to [forge passports] in..." from another) gives variants that keep both sides' grammar,
because the join sits where both texts already had the same word. The encoder then scores them
like any other candidate. Only strings are moved around: no dataset text is ever interpreted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from amplio.decoders.quality import normalise_text

_PUNCT = re.compile(r"^\W+|\W+$")
# An article is followed by a noun phrase with another head ("write a [poem]" x "make a [bomb]"),
# so joins there rarely read well; joins at verbs, prepositions and nouns mostly do.
_WEAK_ANCHORS = frozenset({"a", "an", "the"})
_SLOT = 3
_CLAUSE_END = frozenset(".;:!?")


def _anchor(token: str) -> str:
    word = _PUNCT.sub("", token).casefold()
    return "" if word in _WEAK_ANCHORS else word


def splice_variants(
    texts: Sequence[str],
    *,
    rng: np.random.Generator,
    limit: int = 160,
    max_words: int = 80,
    focus: int | None = None,
) -> list[str]:
    """Up to ``limit`` new texts made by crossing ``texts`` over at shared words.

    For every ordered pair (A, B) and every word both contain (past A's first word; articles do
    not count), three kinds of variant are made: A's head up to the shared word followed by B's
    tail from it (one-point crossover); A with the phrase of one to three words after the shared
    word (up to a sentence mark or the end) replaced by B's phrase there (slot swap); and A with
    the stretch between two shared words replaced by B's stretch between the same two words
    (two-point crossover). Dropped: variants equal to an input (after normalising case and
    punctuation), longer than ``max_words`` or than the longer source plus two words, with a
    word doubled at the join, or repeating a word trigram that neither source repeats (the last
    three are signs that one text was pasted into the other). When more than ``limit`` remain,
    a sample drawn with ``rng`` is returned, so equal inputs and generator state give equal
    output. With ``focus = k``, only pairs that involve one of the first ``k`` texts are
    crossed (a local search around the best texts so far).

    Example:
        >>> splice_variants(["how to make a bomb at home", "how to sell drugs at school"],
        ...                 rng=np.random.default_rng(0), limit=10)  # doctest: +SKIP
        ['how to make a bomb at school', 'how to sell drugs at home', ...]
    """
    toks = [t.split() for t in texts]
    keys = [[_anchor(w) for w in ts] for ts in toks]
    counts = [_content_counts(ts) for ts in toks]
    seen = {normalise_text(t) for t in texts}
    out: dict[str, str] = {}

    def add(words: list[str], longest: int, grams: set[tuple[str, ...]],
            most: Counter[str]) -> None:
        # Never longer than the longer source: growth means one text was pasted into the other.
        if not words or len(words) > min(max_words, longest):
            return
        if any(a.casefold() == b.casefold() for a, b in zip(words, words[1:], strict=False)):
            return
        if _repeats_trigram(words, grams):
            return
        # "in London or Lagos and London": a content word more often than either source has it.
        if any(c > most[w] for w, c in _content_counts(words).items()):
            return
        text = " ".join(words)
        key = normalise_text(text)
        if key and key not in seen and key not in out:
            out[key] = text

    for a, (ta, ka) in enumerate(zip(toks, keys, strict=True)):
        for b, (tb, kb) in enumerate(zip(toks, keys, strict=True)):
            if a == b or (focus is not None and a >= focus and b >= focus):
                continue
            where_b: dict[str, list[int]] = {}
            for j, w in enumerate(kb):
                if w:
                    where_b.setdefault(w, []).append(j)
            shared = [(i, j) for i, w in enumerate(ka) if i > 0 and w for j in where_b.get(w, [])]
            longest = max(len(ta), len(tb)) + 2  # a swapped slot may be a word or two longer
            grams = _repeated_trigrams(ka) | _repeated_trigrams(kb)
            most = counts[a] | counts[b]
            for i, j in shared:
                add(ta[:i] + tb[j:], longest, grams, most)
                # Slot swap: the few words after a shared word up to a punctuation mark or the
                # end ("in [Tahiti.]" -> "in [Miami, Florida.]"), the way templated prompts differ.
                end_a, end_b = _slot_end(ta, i + 1), _slot_end(tb, j + 1)
                if end_a is not None and end_b is not None:
                    add(ta[: i + 1] + tb[j + 1 : end_b] + ta[end_a:], longest, grams, most)
            for i, j in shared:
                for i2, j2 in shared:
                    if i2 > i and j2 > j and (i2 - i, j2 - j) != (1, 1):
                        add(ta[:i] + tb[j:j2] + ta[i2:], longest, grams, most)
    variants = list(out.values())
    if len(variants) > limit:
        pick = rng.choice(len(variants), size=limit, replace=False)
        variants = [variants[i] for i in sorted(pick)]
    return variants


def _content_counts(words: Sequence[str]) -> Counter[str]:
    keys = (_PUNCT.sub("", w).casefold() for w in words)
    return Counter(k for k in keys if len(k) >= 4 and k not in ENGLISH_STOP_WORDS)


def _trigrams(keys: Sequence[str]) -> list[tuple[str, ...]]:
    return [tuple(keys[i : i + 3]) for i in range(len(keys) - 2)]


def _repeated_trigrams(keys: Sequence[str]) -> set[tuple[str, ...]]:
    seen: set[tuple[str, ...]] = set()
    twice: set[tuple[str, ...]] = set()
    for g in _trigrams(keys):
        (twice if g in seen else seen).add(g)
    return twice


def _repeats_trigram(words: Sequence[str], allowed: set[tuple[str, ...]]) -> bool:
    # A phrase that appears twice, where neither source had it twice, is a seam artefact
    # ("I am a politician and I am a politician").
    return bool(_repeated_trigrams([w.casefold() for w in words]) - allowed)


def _slot_end(tokens: Sequence[str], start: int) -> int | None:
    # End (exclusive) of the phrase starting at ``start``: through the first token that closes a
    # clause, or the text's end, within _SLOT words; None when the phrase runs on past that.
    for end in range(start + 1, min(start + _SLOT, len(tokens)) + 1):
        if end == len(tokens) or tokens[end - 1][-1] in _CLAUSE_END:
            return end
    return None
