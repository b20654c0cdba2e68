"""Directed word edits: nudge a text toward a target by one word of the same kind.

A small concept steer (+0.5) asks for a text close to its parent that leans toward the concept:
"...gambling debts in Tahiti." steered toward a concept about Lagos is best decoded as "...in
Tahiti or Lagos.", not as a new prompt. LLM rounds and splices move a text in scattered
directions; this step moves it along the target direction, one word at a time.

A word ``w`` from the vocabulary (donor rows, neighbours, parents) is tried where it helps: its
embedding points the way from the text to the target. It may replace a word, or join it ("X and
w", "X or w"), only when

* it is of the same kind as the word it replaces or joins (the encoder's cosine between the two
  words is at least ``similar``: places with places, crimes with crimes), and
* the dataset attests it in that spot: the word before it is seen before ``w`` somewhere, and
  ``w`` is seen before the word after it.

Both checks keep the edit grammatical without a parser; the encoder scores the result like any
other candidate. Only strings are moved around: no dataset text is ever interpreted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Phrases that open with one of these attach to the end of a clause and still read well
# ("... in Guam [using common household items]."). "to" is left out: it mostly opens a verb.
_PREPOSITIONS = frozenset(
    "about against among at by during for from in inside into near on over through under "
    "using via while with within without".split()
)
_PHRASE_WORDS = 4
# A phrase stops before these: what follows is a clause of its own ("on how to ...").
_CLAUSE_OPENERS = frozenset(
    "how what why when where who which that and or but if so because".split()
)
_JOINERS = frozenset({"and", "or"})
# Words after which the next one is mostly a verb: joining verbs ("write or make") reads badly.
_VERB_CONTEXT = frozenset({"^", "to", "i", "you", "we", "can", "will", "would", "should", "please"})
_EDGE = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)
_START, _END = "^", "$"
_SENTENCE_END = frozenset(".!?")
_PUNCT_END = frozenset(",.;:!?")

Embed = Callable[[list[str]], NDArray[np.float32]]


def word_key(token: str) -> str:
    """The token as a bigram key: punctuation at its edges stripped, case folded."""
    return _EDGE.sub(r"\2", token).casefold()


def _content(token: str) -> str:
    key = word_key(token)
    return key if len(key) >= 3 and key.isalpha() and key not in ENGLISH_STOP_WORDS else ""


def attested_bigrams(texts: Iterable[str]) -> frozenset[tuple[str, str]]:
    """Every pair of adjacent words in ``texts`` (with start and end marks), as ``word_key``s."""
    pairs: set[tuple[str, str]] = set()
    for text in texts:
        keys = [_START, *(word_key(t) for t in text.split()), _END]
        pairs.update(zip(keys, keys[1:], strict=False))
    return frozenset(pairs)


def _neighbours(tokens: Sequence[str], i: int) -> tuple[str, str]:
    before = word_key(tokens[i - 1]) if i > 0 else _START
    after = word_key(tokens[i + 1]) if i + 1 < len(tokens) else _END
    if tokens[i][-1:] in _SENTENCE_END:
        after = _END
    return before, after


def word_edit_variants(
    texts: Sequence[str],
    embeddings: NDArray[np.float32],
    goal: NDArray[np.float32],
    *,
    vocabulary: Sequence[str],
    bigrams: frozenset[tuple[str, str]],
    embed: Embed,
    words_per_text: int = 40,
    similar: float = 0.33,
    limit: int = 120,
) -> list[str]:
    """Up to ``limit`` one-word edits of ``texts`` that lean toward ``goal``.

    Args:
        texts: the texts to edit (the best found so far, the parents).
        embeddings: their unit embeddings.
        goal: the unit target.
        vocabulary: texts whose content words may be brought in (donors, neighbours...).
        bigrams: ``attested_bigrams`` of the dataset.
        embed: the encoder's ``encode``; it embeds single words.
        words_per_text: vocabulary words tried per text, those pointing most toward the goal.
        similar: least cosine between a word and the word it replaces or joins.
        limit: most variants returned: each text's most promising edits (by how far the new
            word points toward the goal) first, the texts taking turns.

    Example:
        >>> word_edit_variants(["how to cheat in Tahiti."], embs, goal, vocabulary=donors,
        ...                    bigrams=attested_bigrams(rows), embed=encoder.encode)  # doctest: +SKIP
        ['how to cheat in Tahiti or Lagos.', 'how to cheat in Lagos.', ...]
    """
    surface: dict[str, str] = {}
    for text in vocabulary:
        for token in text.split():
            key = _content(token)
            if key and key not in surface:
                surface[key] = _EDGE.sub(r"\2", token)
    if not surface or not len(texts):
        return []
    token_lists = [t.split() for t in texts]
    own = sorted({k for toks in token_lists for k in map(_content, toks) if k} | set(surface))
    vectors = dict(zip(own, embed(own), strict=True))
    vocab = sorted(surface)
    vocab_m = np.stack([vectors[w] for w in vocab])

    per_text: list[list[tuple[float, str]]] = []
    seen = {" ".join(t.split()) for t in texts}
    for toks, emb in zip(token_lists, embeddings, strict=True):
        scored: list[tuple[float, str]] = []
        per_text.append(scored)
        delta = np.asarray(goal, dtype=np.float32) - emb
        gain = vocab_m @ delta
        present = {_content(t) for t in toks}
        ranked = [i for i in np.argsort(-gain, kind="stable") if vocab[i] not in present]
        ranked = ranked[:words_per_text]
        for i, token in enumerate(toks):
            core_key = _content(token)
            if not core_key:
                continue
            pre, core, post = _split(token)
            before, after = _neighbours(toks, i)
            for j in ranked:
                word = vocab[j]
                if float(vectors[core_key] @ vectors[word]) < similar:
                    continue
                if (before, word) not in bigrams or (word, after) not in bigrams:
                    continue
                new = surface[word]
                if i == 0:
                    new = new[:1].upper() + new[1:]
                edits = [[pre + new + post]]
                joined = before in _JOINERS or (after in _JOINERS and not post)
                # "how to start and make a bomb" reads badly; "X or Y and Z" runs on.
                if before not in _VERB_CONTEXT and not joined:
                    edits += [[pre + core, "and", new + post], [pre + core, "or", new + post]]
                for edit in edits:
                    _add(scored, seen, float(gain[j]), [*toks[:i], *edit, *toks[i + 1 :]])
    return _interleave(per_text, limit)


def phrase_graft_variants(
    texts: Sequence[str],
    embeddings: NDArray[np.float32],
    goal: NDArray[np.float32],
    *,
    vocabulary: Sequence[str],
    embed: Embed,
    phrases_per_text: int = 8,
    similar: float = 0.33,
    limit: int = 60,
) -> list[str]:
    """Texts with a prepositional phrase from ``vocabulary`` grafted onto a clause's end.

    A concept that is not one word ("common household items") comes as a phrase: "using common
    household items" from a donor row, added at the end of a clause of the text ("...in Guam
    using common household items."), or in place of the text's own phrase with the same
    preposition ("in Guam" -> "in Lagos, Nigeria") when the two phrases are of the same kind
    (the encoder's cosine between them is at least ``similar``: "in the United States" is not
    swapped for "in getting involved with trafficking"). Phrases run from a preposition to the
    end of the source's phrase, at most five words; those pointing most toward ``goal`` are
    tried.
    """
    phrases: dict[str, list[str]] = {}
    for text in vocabulary:
        toks = text.split()
        for i in range(len(toks)):
            phrase = _phrase_at(toks, i)
            if phrase and any(_content(w) for w in phrase[1:]):
                phrase = [phrase[0].casefold(), *phrase[1:]]
                phrases.setdefault(" ".join(phrase).casefold(), phrase)
    if not phrases or not len(texts):
        return []
    listed = [phrases[k] for k in sorted(phrases)]
    token_lists = [t.split() for t in texts]
    owned = sorted({" ".join(own[1:]) for toks in token_lists for i in range(len(toks))
                    if (own := _phrase_at(toks, i))})
    # Kinds compare the phrases without their shared preposition ("the United States" with
    # "Southern Europe"): the same leading word alone makes any two phrases look alike.
    everything = embed([" ".join(p) for p in listed] + [" ".join(p[1:]) for p in listed] + owned)
    vectors, bodies = everything[: len(listed)], everything[len(listed) : 2 * len(listed)]
    own_vectors = dict(zip(owned, everything[2 * len(listed) :], strict=True))
    per_text: list[list[tuple[float, str]]] = []
    seen = {" ".join(t.split()) for t in texts}
    for toks, emb in zip(token_lists, embeddings, strict=True):
        scored: list[tuple[float, str]] = []
        per_text.append(scored)
        gain = vectors @ (np.asarray(goal, dtype=np.float32) - emb)
        leads = [word_key(t) for t in toks]
        ends = [i for i, t in enumerate(toks) if t[-1:] in _SENTENCE_END or i == len(toks) - 1]
        for j in np.argsort(-gain, kind="stable")[:phrases_per_text]:
            phrase, value = listed[j], float(gain[j])
            lead = phrase[0]
            if {_content(w) for w in phrase} & set(map(_content, toks)) - {""}:
                continue  # "in London ... with London": the text already says part of it
            for end in ends[:2]:
                # "in Rome in Lagos": a clause that already ends on a phrase with this
                # preposition gets it swapped below, not a second one.
                if lead in leads[max(0, end - _PHRASE_WORDS) : end + 1]:
                    continue
                pre, core, post = _split(toks[end])
                _add(scored, seen, value, [*toks[:end], pre + core, *phrase[:-1],
                                           phrase[-1] + post, *toks[end + 1 :]])
            for i, key in enumerate(leads):
                own = _phrase_at(toks, i) if key == lead else None
                if own and float(own_vectors[" ".join(own[1:])] @ bodies[j]) >= similar:
                    stop = i + len(own)
                    tail = _split(toks[stop - 1])[2]
                    _add(scored, seen, value, [*toks[:i], *phrase[:-1], phrase[-1] + tail,
                                               *toks[stop:]])
    return _interleave(per_text, limit)


def _phrase_at(toks: Sequence[str], i: int) -> list[str] | None:
    # The whole phrase opened by a preposition at ``i``, its last word without trailing
    # punctuation: it must end where the source's phrase ends (punctuation, the text's end, or
    # the next preposition or clause), so no phrase is cut off mid-way ("by claiming you live").
    if word_key(toks[i]) not in _PREPOSITIONS or toks[i][-1:] in _PUNCT_END:
        return None
    words = [_split(toks[i])[1]]
    for j in range(i + 1, min(len(toks), i + 1 + _PHRASE_WORDS)):
        _, core, post = _split(toks[j])  # an opening bracket or quote would be left unclosed
        words.append(core)
        ends = post[-1:] in _PUNCT_END or j + 1 == len(toks)
        if not ends and word_key(toks[j + 1]) in _PREPOSITIONS | _CLAUSE_OPENERS:
            ends = True
        if ends:
            # "for a" or "with the" is half a phrase.
            return words if _content(words[-1]) else None
    return None


def _split(token: str) -> tuple[str, str, str]:
    match = _EDGE.match(token)
    assert match is not None  # the pattern matches any string
    pre, core, post = match.groups()
    return pre, core, post


def _interleave(per_text: list[list[tuple[float, str]]], limit: int) -> list[str]:
    # Each text's own best edits first, taken in turns: a text far from the goal has larger
    # gains throughout and would otherwise crowd out edits of the closest text.
    ranked = [sorted(scored, key=lambda p: (-p[0], p[1])) for scored in per_text]
    out: list[str] = []
    for depth in range(max((len(r) for r in ranked), default=0)):
        out += [r[depth][1] for r in ranked if depth < len(r)]
    return out[:limit]


def _add(scored: list[tuple[float, str]], seen: set[str], gain: float, tokens: list[str]) -> None:
    text = " ".join(tokens)
    if text not in seen:
        seen.add(text)
        scored.append((gain, text))
