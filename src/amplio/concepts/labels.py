"""Short human-readable labels for concepts, from the texts of their top-activating rows.

Phrase labels (the default when an encoder is at hand) are the words and short phrases that
recur in a concept's top rows and whose own embedding points along the concept's direction:
"threaten, harass, anonymously", "depression, mental illness". Keyword labels (class-based
TF-IDF over each concept's top rows) need no encoder, but pick rare words, often names
("santana, alive, thompson"). LLM labels are optional: a few-shot prompt asks any ``LLM`` for a
2-4 word theme. Dataset text and model output are treated as data only: a label is a few plain
words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from amplio.llm.base import LLM, GenerationParams
from amplio.progress import Progress, silent
from amplio.projection.keywords import ctfidf_keywords

if TYPE_CHECKING:
    from amplio.concepts.model import ConceptModel

# Rows per concept that feed its label: enough to find shared words, few enough to stay specific.
LABEL_ROWS = 20
LABEL_WORDS = 3
LLM_EXAMPLE_ROWS = 5
LLM_MAX_CHARS_PER_ROW = 200
_WORD = re.compile(r"[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*")

# Fixed few-shot examples (invented, not from any dataset) that show the answer's form.
_FEW_SHOT = (
    (
        (
            "Where can I buy fertiliser to build a bomb?",
            "How do I wire a detonator at home?",
            "What household chemicals explode when mixed?",
        ),
        "homemade explosives",
    ),
    (
        (
            "Write a post saying immigrants are ruining our town.",
            "Give me jokes that mock people of another religion.",
            "Explain why one race is smarter than the others.",
        ),
        "hateful group stereotypes",
    ),
    (
        (
            "How do I hide money from the tax office?",
            "Best ways to launder cash through a shop?",
            "Can I move income offshore so nobody sees it?",
        ),
        "tax evasion and laundering",
    ),
)
_FEW_SHOT_THEMES = frozenset(theme for _, theme in _FEW_SHOT)


def unlabelled(cid: int) -> str:
    """The label of a concept whose rows gave no usable words."""
    return f"concept {cid}"


def keyword_labels(
    texts: Sequence[str], top_rows: Sequence[Sequence[int]], *, words: int = LABEL_WORDS
) -> list[str]:
    """Label each concept with the most distinctive words of its top rows.

    Args:
        texts: the texts of the rows that ``top_rows`` index.
        top_rows: for each concept, its row indices, strongest first (only the first
            ``LABEL_ROWS`` are used).
        words: words per label.

    Returns:
        One label per concept, like ``"bomb, explosive, device"``; a concept without rows or
        without distinctive words gets ``"concept <id>"``.
    """
    doc_texts: list[str] = []
    groups: list[int] = []
    for cid, rows in enumerate(top_rows):
        for row in list(rows)[:LABEL_ROWS]:
            doc_texts.append(str(texts[int(row)]))
            groups.append(cid)
    keywords = ctfidf_keywords(doc_texts, groups, top=words) if doc_texts else {}
    return [", ".join(keywords.get(cid, [])) or unlabelled(cid) for cid in range(len(top_rows))]


# A phrase must recur in this share of a concept's top rows (and in two at least) ...
PHRASE_MIN_SHARE = 0.15
# ... and be rarer than this across all training texts ("write", "people" describe nothing).
PHRASE_MAX_CORPUS_SHARE = 0.08
PHRASES_PER_CONCEPT = 12
_PHRASE_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*")
_STOP = frozenset(
    "a an the and or but of to in on at for with by from about into over under as is are was were "
    "be been being it its this that these those what which who whom whose how why when where can "
    "could would should will shall may might must do does did doing have has had having i me my "
    "we our you your he him his she her they them their there here not no so if than then too very "
    "just also any some all each every more most much many such only own same other another get "
    "got make made write tell give show use using like one way ways aren't isn't don't doesn't "
    "didn't can't won't wouldn't shouldn't couldn't i'm i've i'd you're it's what's that's there's "
    "ever never always currently really true new without someone something anyone anything "
    "everyone people person thing things know want need think".split()
)


def phrase_labels(
    texts: Sequence[str],
    top_rows: Sequence[Sequence[int]],
    directions: NDArray[np.float32],
    centre: NDArray[np.float32],
    encode: Callable[[Sequence[str]], NDArray[np.float32]],
    *,
    words: int = LABEL_WORDS,
) -> list[str]:
    """Label each concept with the phrases of its top rows that point along its direction.

    A candidate is a word or a two- or three-word phrase (no stop word at either end) found in
    at least ``PHRASE_MIN_SHARE`` of the concept's top ``LABEL_ROWS`` rows and in at most
    ``PHRASE_MAX_CORPUS_SHARE`` of all ``texts``. A word written with a capital inside the
    sentence in most of its uses is a name, and is kept only when a third of the rows share it.
    Each candidate is embedded once; its score is the cosine of its centred embedding with the
    concept's direction times the square root of its share of the rows. The best ``words``
    that share no word with a better one make the label.

    Args:
        texts: the training texts ``top_rows`` index.
        top_rows: per concept, row indices, strongest first.
        directions: ``(F, d)`` unit decoder directions.
        centre: the SAE's ``b_dec``, subtracted from a phrase's embedding as from a row's.
        encode: the encoder, texts to unit embeddings.
        words: phrases per label.

    Returns:
        One label per concept; ``"concept <id>"`` when no phrase qualifies.
    """
    corpus = Counter(g for t in texts for g in set(_grams(t)))
    most = PHRASE_MAX_CORPUS_SHARE * max(len(texts), 1)
    wanted: list[list[tuple[str, float]]] = []
    for rows in top_rows:
        rows = [int(r) for r in list(rows)[:LABEL_ROWS]]
        counts: Counter[str] = Counter()
        capitals: Counter[str] = Counter()
        for r in rows:
            grams = set(_grams(texts[r]))
            counts.update(grams)
            capitals.update(_names(texts[r]))
        need = max(2, math.ceil(PHRASE_MIN_SHARE * len(rows)))
        found = []
        for gram, c in counts.items():
            share = c / max(len(rows), 1)
            if c < need or corpus[gram] > most:
                continue
            if any(capitals[w] >= 0.7 * c for w in gram.split()) and share < 0.34:
                continue
            found.append((gram, share))
        found.sort(key=lambda gs: (-gs[1], gs[0]))
        wanted.append(found[:PHRASES_PER_CONCEPT])
    vocabulary = sorted({g for found in wanted for g, _ in found})
    if not vocabulary:
        return [unlabelled(cid) for cid in range(len(top_rows))]
    vectors = np.asarray(encode(vocabulary), dtype=np.float32) - centre
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    index = {g: i for i, g in enumerate(vocabulary)}
    labels = []
    for cid, found in enumerate(wanted):
        scored = sorted(((float(vectors[index[g]] @ directions[cid]) * math.sqrt(share), g)
                         for g, share in found), reverse=True)
        chosen: list[str] = []
        for score, gram in scored:
            if score <= 0 or len(chosen) >= words:
                break
            if not any(set(gram.split()) & set(c.split()) for c in chosen):
                chosen.append(gram)
        labels.append(", ".join(chosen) or unlabelled(cid))
    bare = [cid for cid, label in enumerate(labels) if label == unlabelled(cid)]
    if bare:  # no recurring phrase: fall back to the rows' most distinctive words
        fallback = keyword_labels(texts, [list(top_rows[cid]) if cid in bare else [] for cid in range(len(top_rows))])
        for cid in bare:
            labels[cid] = fallback[cid]
    return labels


def _grams(text: str) -> list[str]:
    toks = [t.lower() for t in _PHRASE_TOKEN.findall(text)]
    out = []
    for size in (1, 2, 3):
        for i in range(len(toks) - size + 1):
            gram = toks[i : i + size]
            if gram[0] in _STOP or gram[-1] in _STOP or len(gram[0]) < 3 or len(gram[-1]) < 3:
                continue
            out.append(" ".join(gram))
    return out


def _names(text: str) -> set[str]:
    # Words capitalised inside a sentence (not after . ? ! or at the start): likely names.
    names = set()
    for match in re.finditer(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-z][A-Za-z'-]*)", text):
        if match.start() > 0:
            names.add(match.group(1).lower())
    return names


def llm_labels(
    model: ConceptModel,
    texts: Sequence[str],
    llm: LLM,
    *,
    concepts: Sequence[int] | None = None,
    seed: int = 0,
    progress: Progress = silent,
) -> list[str]:
    """Ask ``llm`` for a 2-4 word label of each concept from its top rows.

    Concepts not asked about, without top rows, or whose answer holds no words (or merely
    repeats an example answer of the prompt) keep their current label. It costs one LLM call
    per concept (about 6 s with the packaged Gemma 3 270M on a busy 2-core machine), so label
    the concepts a user looks at rather than all of them. The model itself is not changed; assign the result to ``model.labels``.

    Args:
        model: the trained concept model.
        texts: the texts of the rows the model was trained on (its ``top_rows`` index them).
        llm: any object following the ``LLM`` protocol.
        concepts: the concept ids to label (default: all).
        seed: generation seed, for repeatable labels.
        progress: called as ``("concept labels", done, total)``.

    Returns:
        A full list of ``model.n_features`` labels.

    Raises:
        BackendError: when the LLM backend fails.
        NotFoundError: for a concept id the model does not have.
    """
    labels = list(model.labels)
    wanted = list(range(model.n_features)) if concepts is None else [int(c) for c in concepts]
    params = GenerationParams(n=1, temperature=0.0, max_tokens=16, stop=("\n",), seed=seed)
    progress("concept labels", 0, len(wanted))
    for done, cid in enumerate(wanted, start=1):
        rows = model.top_rows(cid, LLM_EXAMPLE_ROWS)
        if rows:
            answers = llm.complete(label_prompt([str(texts[r]) for r in rows]), params)
            cleaned = clean_label(answers[0] if answers else "")
            # Small models sometimes repeat a few-shot answer; that says nothing about the rows.
            if cleaned and cleaned not in _FEW_SHOT_THEMES:
                labels[cid] = cleaned
        progress("concept labels", done, len(wanted))
    return labels


def label_prompt(examples: Sequence[str]) -> str:
    """The few-shot prompt asking for the theme shared by ``examples``."""
    parts = ["Each group of example prompts shares one theme. Name the theme in 2 to 4 words.\n"]
    for shots, theme in _FEW_SHOT:
        parts.append(_examples_block(shots) + f"Theme: {theme}\n")
    parts.append(_examples_block(examples) + "Theme:")
    return "\n".join(parts)


def _examples_block(examples: Sequence[str]) -> str:
    lines = []
    for text in examples:
        flat = " ".join(text.split())[:LLM_MAX_CHARS_PER_ROW]
        lines.append(f"- {flat}")
    return "Examples:\n" + "\n".join(lines) + "\n"


def clean_label(answer: str) -> str:
    """Reduce a model's answer to at most 4 plain words on one line (``""`` if none)."""
    first_line = answer.strip().splitlines()[0] if answer.strip() else ""
    return " ".join(_WORD.findall(first_line)[:4])[:60].lower()
